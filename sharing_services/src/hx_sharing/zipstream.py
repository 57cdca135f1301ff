"""A deterministic, streamable ZIP layout for dataset downloads.

Entries are *stored* (not compressed) with a data descriptor after each entry's data and
ZIP64 records throughout, so the whole archive is a pure function of the entry names, sizes
and CRC-32s. That lets the upload path hash the exact bytes the download path will later
send, in the order they arrive, and the download path announce Content-Length and the
SHA-256 digest before sending a byte.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

_DOS_TIME = 0  # 00:00:00
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01
_VERSION = 45  # ZIP64
_FLAGS = 0x0008 | 0x0800  # data descriptor follows the data; names are UTF-8


@dataclass(frozen=True)
class Entry:
    name: str
    size: int
    crc32: int


def local_header(name: str) -> bytes:
    raw = name.encode()
    extra = struct.pack("<HHQQ", 0x0001, 16, 0, 0)
    return (
        struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            _VERSION,
            _FLAGS,
            0,  # stored
            _DOS_TIME,
            _DOS_DATE,
            0,
            0xFFFFFFFF,
            0xFFFFFFFF,
            len(raw),
            len(extra),
        )
        + raw
        + extra
    )


def data_descriptor(entry: Entry) -> bytes:
    return struct.pack("<IIQQ", 0x08074B50, entry.crc32 & 0xFFFFFFFF, entry.size, entry.size)


def central_directory(entries: Sequence[Entry]) -> bytes:
    records = []
    offset = 0
    for e in entries:
        raw = e.name.encode()
        extra = struct.pack("<HHQQQ", 0x0001, 24, e.size, e.size, offset)
        records.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                (3 << 8) | _VERSION,  # made by: unix
                _VERSION,
                _FLAGS,
                0,
                _DOS_TIME,
                _DOS_DATE,
                e.crc32 & 0xFFFFFFFF,
                0xFFFFFFFF,
                0xFFFFFFFF,
                len(raw),
                len(extra),
                0,
                0,
                0,
                0o100644 << 16,
                0xFFFFFFFF,
            )
            + raw
            + extra
        )
        offset += len(local_header(e.name)) + e.size + len(data_descriptor(e))
    cd = b"".join(records)
    cd_offset = offset
    zip64_eocd_offset = cd_offset + len(cd)
    zip64_eocd = struct.pack(
        "<IQHHIIQQQQ",
        0x06064B50,
        44,
        (3 << 8) | _VERSION,
        _VERSION,
        0,
        0,
        len(entries),
        len(entries),
        len(cd),
        cd_offset,
    )
    locator = struct.pack("<IIQI", 0x07064B50, 0, zip64_eocd_offset, 1)
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return cd + zip64_eocd + locator + eocd


def archive_size(entries: Sequence[Entry]) -> int:
    return sum(len(local_header(e.name)) + e.size + len(data_descriptor(e)) for e in entries) + len(
        central_directory(entries)
    )
