import os
import struct

import pytest
from hx_stages import crypto
from hx_stages.util import sha256_file


def listing(directory):
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def _encrypt(run, src, tmp_path, chunk=4096):
    out = tmp_path / "enc" / (os.path.basename(src) + ".hxenc")
    code, rep = run("encrypt", "-i", src, "--chunk-size", chunk, "-o", out)
    assert code == 0, rep
    return rep["output"]["path"], rep


def _frames(path):
    data = open(path, "rb").read()
    header, rest = data[: crypto.HEADER.size], data[crypto.HEADER.size:]
    frames = []
    while rest:
        nonce, length = crypto.FRAME.unpack(rest[: crypto.FRAME.size])
        end = crypto.FRAME.size + length
        frames.append(rest[:end])
        rest = rest[end:]
    return header, frames


def test_roundtrip_multichunk(run, datasets, aes_key, tmp_path):
    enc, rep = _encrypt(run, datasets["train_pq"], tmp_path)
    size = os.path.getsize(datasets["train_pq"])
    assert rep["result"]["chunks"] == -(-size // 4096) and rep["result"]["plaintext_bytes"] == size
    assert open(enc, "rb").read(5) == b"HXGCM"
    out = tmp_path / "dec" / "train.parquet"
    code, rep = run("decrypt", "-i", enc, "-o", out)
    assert code == 0
    assert sha256_file(out) == sha256_file(datasets["train_pq"])
    assert rep["outputs"][0]["name"] == "train_pq.parquet"


def test_roundtrip_empty_file(run, aes_key, tmp_path):
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    enc, rep = _encrypt(run, empty, tmp_path)
    assert rep["result"]["chunks"] == 1
    code, rep = run("decrypt", "-i", enc, "-o", tmp_path / "dec" / "empty.bin")
    assert code == 0 and os.path.getsize(tmp_path / "dec" / "empty.bin") == 0


def _tamper_and_decrypt(run, enc, tmp_path, data, name):
    bad = tmp_path / name
    bad.write_bytes(data)
    outdir = tmp_path / "dec-{}".format(name)
    code, rep = run("decrypt", "-i", bad, "-o", str(outdir) + "/")
    assert code == 2 and rep["failed"] is True
    assert listing(outdir) == []
    complete, leftovers = run.run_dirs()
    assert not [c for c in complete if c.startswith("decrypt-")] and leftovers == []
    return rep


def test_flipped_ciphertext_byte(run, datasets, aes_key, tmp_path):
    enc, _ = _encrypt(run, datasets["train"], tmp_path)
    data = bytearray(open(enc, "rb").read())
    data[len(data) - 100] ^= 0x01  # inside the last chunk: earlier chunks decrypt fine first
    rep = _tamper_and_decrypt(run, enc, tmp_path, bytes(data), "flipped.hxenc")
    assert rep["error_kind"] == "integrity" and "authentication failed" in rep["error"]


def test_truncated_at_frame_boundary(run, datasets, aes_key, tmp_path):
    enc, _ = _encrypt(run, datasets["train"], tmp_path)
    header, frames = _frames(enc)
    assert len(frames) > 3
    rep = _tamper_and_decrypt(run, enc, tmp_path, header + b"".join(frames[:-1]), "cut.hxenc")
    assert "truncated" in rep["error"]


def test_truncated_mid_frame(run, datasets, aes_key, tmp_path):
    enc, _ = _encrypt(run, datasets["train"], tmp_path)
    data = open(enc, "rb").read()
    rep = _tamper_and_decrypt(run, enc, tmp_path, data[:-7], "cut2.hxenc")
    assert "truncated" in rep["error"]


def test_reordered_and_appended_chunks(run, datasets, aes_key, tmp_path):
    enc, _ = _encrypt(run, datasets["train"], tmp_path)
    header, frames = _frames(enc)
    swapped = [frames[1], frames[0]] + frames[2:]
    rep = _tamper_and_decrypt(run, enc, tmp_path, header + b"".join(swapped), "swapped.hxenc")
    assert "chunk 0" in rep["error"]
    rep = _tamper_and_decrypt(run, enc, tmp_path, header + b"".join(frames + [frames[1]]), "appended.hxenc")
    assert rep["error_kind"] == "integrity"


def test_wrong_key(run, datasets, aes_key, tmp_path, monkeypatch):
    enc, _ = _encrypt(run, datasets["train"], tmp_path)
    monkeypatch.setenv("HX_STAGE_KEY", os.urandom(32).hex())
    rep = _tamper_and_decrypt(run, enc, tmp_path, open(enc, "rb").read(), "other-key.hxenc")
    assert rep["error_kind"] == "key" and "wrong key" in rep["error"]


def test_key_file_formats_and_bad_key(run, datasets, tmp_path, monkeypatch):
    monkeypatch.delenv("HX_STAGE_KEY", raising=False)
    raw = os.urandom(32)
    (tmp_path / "raw.key").write_bytes(raw)
    import base64
    (tmp_path / "b64.key").write_text(base64.b64encode(raw).decode() + "\n")
    code, rep = run("encrypt", "-i", datasets["holdout"], "--key-file", tmp_path / "raw.key")
    assert code == 0
    enc = rep["outputs"][0]["path"]
    code, rep = run("decrypt", "-i", enc, "--key-file", tmp_path / "b64.key")
    assert code == 0 and rep["outputs"][0]["sha256"] == sha256_file(datasets["holdout"])
    (tmp_path / "short.key").write_text("00" * 16)
    code, rep = run("encrypt", "-i", datasets["holdout"], "--key-file", tmp_path / "short.key")
    assert code == 2 and "must be 32 bytes" in rep["error"]


def test_not_an_encrypted_file(run, datasets, aes_key, tmp_path):
    code, rep = run("decrypt", "-i", datasets["holdout"], "-o", str(tmp_path / "x") + "/")
    assert code == 2 and "not an hx-stages encrypted file" in rep["error"]
    assert listing(tmp_path / "x") == []


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 3 * 4096])
def test_stream_boundaries(size):
    import io
    key = os.urandom(32)
    data = os.urandom(size)
    enc = io.BytesIO()
    info = crypto.encrypt_stream(key, io.BytesIO(data), enc, 4096)
    assert info["chunks"] == max(1, -(-size // 4096))
    dec = io.BytesIO()
    crypto.decrypt_stream(key, io.BytesIO(enc.getvalue()), dec)
    assert dec.getvalue() == data
    assert struct.unpack(">I", enc.getvalue()[6:10])[0] == 4096
