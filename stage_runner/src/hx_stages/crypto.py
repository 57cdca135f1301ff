"""Streaming authenticated encryption, AES-256-GCM in framed chunks.

File layout (all integers big-endian)::

    header  = MAGIC "HXGCM" | version u8 (=1) | chunk_size u32 | file_id 16 random bytes
              | key_check 16 bytes (HMAC-SHA256(key, "hx-stages/key-check" | file_id)[:16])
    frame*  = nonce 12 random bytes | length u32 | ciphertext+tag (length bytes)

Chunk i is sealed with AAD = header | i as u64 | final flag u8 (1 only on the last chunk).
There is always at least one chunk (an empty file gives one empty final chunk). So:
reordered or dropped chunks fail (index in AAD), truncation at a frame boundary fails (the last
chunk present was not sealed as final), data after the final chunk fails, a frame from another
file fails (file_id in AAD), and a wrong key is told apart from corruption by key_check.
"""

import hashlib
import hmac
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import IntegrityError, KeyError_

MAGIC = b"HXGCM"
VERSION = 1
HEADER = struct.Struct(">5sBI16s16s")
FRAME = struct.Struct(">12sI")
TAG = 16
DEFAULT_CHUNK = 1 << 20
MAX_CHUNK = 64 << 20


def _key_check(key, file_id):
    return hmac.new(key, b"hx-stages/key-check" + file_id, hashlib.sha256).digest()[:16]


def _aad(header, index, final):
    return header + struct.pack(">QB", index, 1 if final else 0)


def encrypt_stream(key, fin, fout, chunk_size=DEFAULT_CHUNK):
    if len(key) != 32:
        raise KeyError_("AES-256-GCM needs a 32-byte key")
    if not 1 <= chunk_size <= MAX_CHUNK:
        raise ValueError("chunk_size must be between 1 and {}".format(MAX_CHUNK))
    aead = AESGCM(key)
    file_id = os.urandom(16)
    header = HEADER.pack(MAGIC, VERSION, chunk_size, file_id, _key_check(key, file_id))
    fout.write(header)
    index = 0
    plain = 0
    current = fin.read(chunk_size)
    while True:
        nxt = fin.read(chunk_size)
        final = not nxt
        nonce = os.urandom(12)
        ct = aead.encrypt(nonce, current, _aad(header, index, final))
        fout.write(FRAME.pack(nonce, len(ct)))
        fout.write(ct)
        plain += len(current)
        index += 1
        if final:
            break
        current = nxt
    return {"chunks": index, "plaintext_bytes": plain, "chunk_size": chunk_size}


def _read_exact(f, n, what):
    data = f.read(n)
    if len(data) != n:
        raise IntegrityError("ciphertext truncated: incomplete {}".format(what))
    return data


def read_header(fin):
    raw = fin.read(HEADER.size)
    if len(raw) < HEADER.size or not raw.startswith(MAGIC):
        raise IntegrityError("not an hx-stages encrypted file (bad or missing header)")
    magic, version, chunk_size, file_id, check = HEADER.unpack(raw)
    if version != VERSION:
        raise IntegrityError("unsupported encrypted format version {}".format(version))
    if not 1 <= chunk_size <= MAX_CHUNK:
        raise IntegrityError("corrupt header: chunk size {}".format(chunk_size))
    return raw, chunk_size, file_id, check


def decrypt_stream(key, fin, fout):
    """Decrypt and authenticate. Plaintext is written as chunks verify; the caller must write to a
    temporary file and keep it only if this returns (see stages.decrypt)."""
    if len(key) != 32:
        raise KeyError_("AES-256-GCM needs a 32-byte key")
    header, chunk_size, file_id, check = read_header(fin)
    if not hmac.compare_digest(_key_check(key, file_id), check):
        raise KeyError_("wrong key: the key does not match the one this file was encrypted with")
    aead = AESGCM(key)
    max_len = chunk_size + TAG

    def next_frame():
        head = fin.read(FRAME.size)
        if not head:
            return None
        if len(head) != FRAME.size:
            raise IntegrityError("ciphertext truncated: incomplete frame header")
        nonce, length = FRAME.unpack(head)
        if not TAG <= length <= max_len:
            raise IntegrityError("corrupt frame: length {} out of range".format(length))
        return nonce, _read_exact(fin, length, "chunk")

    index = 0
    plain = 0
    frame = next_frame()
    if frame is None:
        raise IntegrityError("ciphertext truncated: no chunks after the header")
    while frame is not None:
        following = next_frame()
        final = following is None
        nonce, ct = frame
        try:
            pt = aead.decrypt(nonce, ct, _aad(header, index, final))
        except InvalidTag:
            if final:
                raise IntegrityError("authentication failed at chunk {}: the file is truncated, reordered "
                                     "or modified".format(index)) from None
            raise IntegrityError("authentication failed at chunk {}: ciphertext modified, reordered, or "
                                 "data after the final chunk".format(index)) from None
        fout.write(pt)
        plain += len(pt)
        index += 1
        frame = following
    return {"chunks": index, "plaintext_bytes": plain, "chunk_size": chunk_size}
