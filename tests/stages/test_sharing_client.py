"""The sharing client over real HTTP on loopback, against a minimal server that implements the
issue-8 contract (routes, multipart field names, zip with dataset + dataModel, X-Content-SHA256,
bearer token). The stages themselves run for real."""

import email.parser
import hashlib
import http.server
import io
import json
import threading
import urllib.parse
import zipfile

import pytest
from hx_stages.util import sha256_file

TOKEN = "t0ken-for-tests"


class Contract(http.server.BaseHTTPRequestHandler):
    store = None

    def log_message(self, *a):
        pass

    def _send(self, code, body, ctype="application/json", headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _auth(self):
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            self._send(401, {"detail": "Not authenticated"})
            return False
        return True

    def do_POST(self):  # noqa: N802
        try:
            self._post()
        except Exception as e:  # noqa: BLE001 - report contract violations to the client
            self._send(500, {"detail": "contract violation: {!r}".format(e)})

    def _post(self):
        if not self._auth():
            return
        assert self.headers.get("Transfer-Encoding") is None  # streamed with a known length
        body = self.rfile.read(int(self.headers["Content-Length"]))
        msg = email.parser.BytesParser().parsebytes(
            b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body)
        fields, files = {}, {}
        for part in msg.get_payload():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename():
                files[name] = part.get_payload(decode=True)
            else:
                fields[name] = part.get_payload(decode=True).decode()
        s = self.store
        if self.path == "/api/v1/dataset":
            assert set(fields) == {"name", "version", "dataType", "tag", "parameters"}
            assert set(files) == {"dataModelFile", "datasetFile"}
            s["datasets"].append({"fields": fields, "files": files})
            self._send(200, dict(fields, datasetIdentifier=len(s["datasets"])))
        elif self.path == "/api/v1/model":
            assert set(fields) == {"name", "version", "status", "library", "libraryVersion", "domain", "tag",
                                   "parameters", "characteristics"}
            assert set(files) == {"file"}
            s["models"].append({"fields": fields, "files": files})
            self._send(200, dict(fields, modelIdentifier=len(s["models"])))
        else:
            self._send(404, {"detail": "not found"})

    def do_GET(self):  # noqa: N802
        if not self._auth():
            return
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        parts = url.path.split("/")
        s = self.store
        if url.path.startswith("/api/v1/dataset/by_id/"):
            d = s["datasets"][int(parts[-1]) - 1]
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as z:
                z.writestr("dataset", d["files"]["datasetFile"])
                z.writestr("dataModel", d["files"]["dataModelFile"])
            data = buf.getvalue()
            s["gets"].append((url.path, q))
            self._send(200, data, "application/zip", {"X-Content-SHA256": hashlib.sha256(data).hexdigest()})
        elif url.path.startswith("/api/v1/model/by_id/"):
            data = s["models"][int(parts[-1]) - 1]["files"]["file"]
            digest = hashlib.sha256(data).hexdigest() if not s.get("lie") else "0" * 64
            s["gets"].append((url.path, q))
            self._send(200, data, "application/octet-stream", {"X-Content-SHA256": digest})
        else:
            self._send(404, {"detail": "not found"})


@pytest.fixture
def api(monkeypatch):
    Contract.store = {"datasets": [], "models": [], "gets": []}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Contract)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:{}".format(server.server_address[1])
    monkeypatch.setenv("HX_SHARING_TOKEN", TOKEN)
    monkeypatch.setenv("HX_DATASET_API_URL", url)
    monkeypatch.setenv("HX_MODEL_API_URL", url + "/api/v1")
    yield url, Contract.store
    server.shutdown()
    server.server_close()


def test_dataset_publish_and_read_back(run, datasets, aes_key, api):
    url, store = api
    code, rep = run("anonymize", "-i", datasets["holdout"], "--publish", "--publish-name", "kpi-anon",
                    "--publish-version", "1.0.0", "--data-type", "synthetic", "--domain", "vendor")
    assert code == 0, rep
    assert rep["published"]["changed"] is True and rep["published"]["response"]["datasetIdentifier"] == 1
    up = store["datasets"][0]
    params = json.loads(up["fields"]["parameters"])
    assert params["run_key"] == rep["run_key"] and params["characteristics"]["energy"] == rep["energy"]
    assert json.loads(up["files"]["dataModelFile"])["columns"][1]["name"] == "imsi"
    assert hashlib.sha256(up["files"]["datasetFile"]).hexdigest() == rep["outputs"][0]["sha256"]
    # again: not recomputed, not uploaded again
    code, rep2 = run("anonymize", "-i", datasets["holdout"], "--publish", "--publish-name", "kpi-anon",
                     "--publish-version", "1.0.0")
    assert rep2["changed"] is False and rep2["published"]["changed"] is False and len(store["datasets"]) == 1
    # a stage reading it back through the API
    code, val = run("validate", "-i", "dataset:1@1.0.0", "--schema", "builtin:telco-kpi")
    assert code == 0, val
    assert val["inputs"]["data"]["sha256"] == rep["outputs"][0]["sha256"]
    assert store["gets"][-1] == ("/api/v1/dataset/by_id/1", {"version": ["1.0.0"]})


def test_model_publish_and_gate_from_the_api(run, datasets, api):
    url, store = api
    code, rep = run("train", "-i", datasets["train"], "--publish", "--publish-name", "qoe-throughput",
                    "--publish-version", "0.1.0", "--model-status", "staging", "--domain", "vendor")
    assert code == 0, rep
    f = store["models"][0]["fields"]
    assert (f["name"], f["version"], f["status"], f["library"], f["domain"]) == (
        "qoe-throughput", "0.1.0", "staging", "scikit-learn", "vendor")
    ch = json.loads(f["characteristics"])
    assert ch["energy"]["method"] in ("measured", "estimated") and ch["metrics"] == rep["result"]["metrics"]
    assert json.loads(f["parameters"])["features"][0] == "rsrp"
    code, gate = run("test", "--model", "model:1", "-i", datasets["holdout"], "--min", "r2=0.7")
    assert code == 0 and gate["passed"] is True
    assert store["gets"][-1] == ("/api/v1/model/by_id/1", {"version": ["latest"]})


def test_digest_mismatch_and_auth_errors(run, datasets, api, monkeypatch, tmp_path):
    url, store = api
    assert run("train", "-i", datasets["train"], "--publish")[0] == 0
    store["lie"] = True
    code, rep = run("test", "--model", "model:1", "-i", datasets["holdout"], "--min", "r2=0.7")
    assert code == 2 and rep["error_kind"] == "sharing" and "digest mismatch" in rep["error"]
    complete, leftovers = run.run_dirs()
    assert not [c for c in complete if c.startswith("test-")] and leftovers == []
    import os
    downloads = os.path.join(run.runs_dir, ".downloads")
    assert not [f for _, _, files in os.walk(downloads) for f in files]  # the bad download was not kept
    monkeypatch.setenv("HX_SHARING_TOKEN", "wrong")
    code, rep = run("validate", "-i", "dataset:1")
    assert code == 2 and "HTTP 401" in rep["error"]


def test_multipart_stream_has_exact_length(tmp_path):
    from hx_stages.sharing import MultipartStream

    f = tmp_path / "blob.bin"
    f.write_bytes(bytes(range(256)) * 1000)
    body = MultipartStream({"name": "x", "parameters": json.dumps({"a": 1})},
                           {"file": ("blob.bin", str(f), "application/octet-stream")})
    data = b""
    while True:
        chunk = body.read(7000)
        if not chunk:
            break
        data += chunk
    assert len(data) == body.len and body.tell() == body.len
    assert sha256_file(f) == hashlib.sha256(bytes(range(256)) * 1000).hexdigest()
    assert data.endswith(("--" + body.boundary + "--\r\n").encode())
