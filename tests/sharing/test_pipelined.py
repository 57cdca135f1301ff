"""hx_sharing.client._pipelined: receive and consume overlap, without reordering or reusing a busy buffer."""

from __future__ import annotations

import io
import os
import threading
import time

import pytest
from hx_sharing import client


def _reader(data: bytes, step: int):
    src = io.BytesIO(data)

    def readinto(buf: bytearray) -> int:
        chunk = src.read(min(step, len(buf)))
        buf[: len(chunk)] = chunk
        return len(chunk)

    return readinto


def test_blocks_arrive_whole_and_in_order(monkeypatch):
    monkeypatch.setattr(client, "_WIRE_CHUNK", 64)
    data = os.urandom(64 * 50 + 17)
    out = bytearray()
    overlapped = threading.Event()
    reading = threading.Event()

    inner = _reader(data, 64)

    def readinto(buf):
        reading.set()
        return inner(buf)

    def consume(view):
        # copy first, then dawdle: a reader that refilled this buffer meanwhile would corrupt `out`
        snapshot = bytes(view)
        reading.clear()
        time.sleep(0.002)
        if reading.is_set():
            overlapped.set()
        assert bytes(view) == snapshot
        out.extend(snapshot)

    client._pipelined(readinto, consume)
    assert bytes(out) == data
    assert overlapped.is_set(), "the next block was never received while one was being consumed"


def test_a_failing_consumer_ends_the_transfer(monkeypatch):
    monkeypatch.setattr(client, "_WIRE_CHUNK", 16)
    seen = []

    def consume(view):
        seen.append(bytes(view))
        if len(seen) == 3:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        client._pipelined(_reader(os.urandom(16 * 100), 16), consume)
    assert len(seen) <= 4  # stops within a block or two, not at the end of the body


def test_a_failing_reader_ends_the_transfer(monkeypatch):
    monkeypatch.setattr(client, "_WIRE_CHUNK", 16)
    inner = _reader(os.urandom(16 * 10), 16)
    calls = []

    def readinto(buf):
        calls.append(1)
        if len(calls) == 4:
            raise ConnectionResetError("peer went away")
        return inner(buf)

    seen = []
    with pytest.raises(ConnectionResetError):
        client._pipelined(readinto, lambda v: seen.append(bytes(v)))
    assert len(seen) == 3  # every block received before the failure was consumed, none after

