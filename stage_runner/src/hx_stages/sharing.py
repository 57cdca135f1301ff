"""Client for the Model and Dataset Sharing APIs (contract of issue 8), streaming both ways.

Bearer token from an environment variable (default HX_SHARING_TOKEN); never from argv."""

import base64
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import uuid
import zipfile

import requests

from .errors import SharingError
from .util import atomic_output

DEFAULT_TOKEN_ENV = "HX_SHARING_TOKEN"  # noqa: S105 - the name of the variable, not a token
_DIGEST_HEADERS = ("X-Content-SHA256", "X-Checksum-SHA256", "X-Content-Sha256", "X-Digest-SHA256", "X-SHA256")


class MultipartStream(io.RawIOBase):
    """multipart/form-data body read lazily from files, with a known length, so that requests
    sends it with Content-Length and never holds a whole file in memory."""

    def __init__(self, fields, files):
        super().__init__()
        self.boundary = uuid.uuid4().hex
        self._parts = []
        for name, value in fields.items():
            if value is None:
                continue
            head = ('--{}\r\nContent-Disposition: form-data; name="{}"\r\n\r\n'.format(self.boundary, name)).encode()
            self._parts.append(("bytes", head + str(value).encode("utf-8") + b"\r\n"))
        for name, (filename, path, ctype) in files.items():
            head = ('--{}\r\nContent-Disposition: form-data; name="{}"; filename="{}"\r\nContent-Type: {}\r\n\r\n'
                    .format(self.boundary, name, filename.replace('"', ""), ctype)).encode()
            self._parts.append(("bytes", head))
            self._parts.append(("file", path))
            self._parts.append(("bytes", b"\r\n"))
        self._parts.append(("bytes", "--{}--\r\n".format(self.boundary).encode()))
        self.len = sum(len(v) if k == "bytes" else os.path.getsize(v) for k, v in self._parts)
        self._i = 0
        self._cur = None
        self._pos = 0

    @property
    def content_type(self):
        return "multipart/form-data; boundary=" + self.boundary

    def readable(self):
        return True

    def tell(self):
        # requests derives Content-Length from len - tell(); without it, it falls back to chunked
        return self._pos

    def __len__(self):
        return self.len

    def read(self, n=-1):
        out = bytearray()
        while (n < 0 or len(out) < n) and self._i < len(self._parts):
            if self._cur is None:
                kind, value = self._parts[self._i]
                self._cur = io.BytesIO(value) if kind == "bytes" else open(value, "rb")
            chunk = self._cur.read(-1 if n < 0 else n - len(out))
            if chunk:
                out += chunk
            else:
                self._cur.close()
                self._cur = None
                self._i += 1
        self._pos += len(out)
        return bytes(out)

    def close(self):
        if self._cur is not None:
            self._cur.close()
            self._cur = None
        super().close()


def _api(base):
    base = base.rstrip("/")
    return base if base.endswith("/api/v1") else base + "/api/v1"


def _expected_digest(headers):
    for h in _DIGEST_HEADERS:
        if headers.get(h):
            return headers[h].strip().lower()
    for h in ("Repr-Digest", "Digest"):
        m = re.search(r"sha-256=:?([A-Za-z0-9+/=]+):?", headers.get(h, ""))
        if m:
            return base64.b64decode(m.group(1)).hex()
    return None


class SharingClient:
    def __init__(self, base_url, token_env=DEFAULT_TOKEN_ENV, timeout=120, session=None):
        if not base_url:
            raise SharingError("no sharing API URL given")
        self.api = _api(base_url)
        self.timeout = timeout
        self.session = session or requests.Session()
        token = os.environ.get(token_env or DEFAULT_TOKEN_ENV)
        self.headers = {"Authorization": "Bearer " + token} if token else {}

    def _check(self, resp, what):
        if resp.status_code >= 400:
            detail = resp.text[:300].strip()
            raise SharingError("{} failed: HTTP {} from {}: {}".format(what, resp.status_code, resp.url, detail))

    def _get_to_file(self, url, params, dest, what):
        try:
            with self.session.get(url, params=params, headers=self.headers, stream=True, timeout=self.timeout) as r:
                self._check(r, what)
                expected = _expected_digest(r.headers)
                h = hashlib.sha256()
                with atomic_output(dest) as f:
                    for block in r.iter_content(1 << 20):
                        h.update(block)
                        f.write(block)
                    if expected and expected != h.hexdigest():
                        raise SharingError("{}: digest mismatch (server says {}, received {})".format(
                            what, expected, h.hexdigest()))
                return r.headers, h.hexdigest()
        except requests.RequestException as e:
            raise SharingError("{} failed: {}".format(what, e)) from None

    # ------------------------------------------------------------ datasets
    def download_dataset(self, dataset_id, version, dest_dir):
        """Returns (dataset_path, data_model_path or None)."""
        os.makedirs(dest_dir, exist_ok=True)
        zpath = os.path.join(dest_dir, "dataset-{}-{}.zip".format(dataset_id, version or "latest"))
        params = {"version": version} if version else None
        self._get_to_file("{}/dataset/by_id/{}".format(self.api, dataset_id), params, zpath,
                          "download of dataset {}".format(dataset_id))
        try:
            with zipfile.ZipFile(zpath) as z:
                members = [m for m in z.infolist() if not m.is_dir()]
                model = [m for m in members if re.search(r"data_?model", m.filename, re.I)]
                data = [m for m in members if m not in model]
                if not model:
                    model = [m for m in data if m.filename.lower().endswith(".json")][:1]
                    data = [m for m in data if m not in model]
                if len(data) != 1:
                    raise SharingError("dataset {} zip holds {} data files, expected 1: {}".format(
                        dataset_id, len(data), [m.filename for m in members]))
                out = []
                for m in (data[0], model[0] if model else None):
                    if m is None:
                        out.append(None)
                        continue
                    target = os.path.join(dest_dir, os.path.basename(m.filename))  # no path traversal
                    with z.open(m) as src, atomic_output(target) as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    out.append(target)
        except zipfile.BadZipFile:
            raise SharingError("dataset {} download is not a valid zip".format(dataset_id)) from None
        finally:
            os.unlink(zpath)
        return out[0], out[1]

    def publish_dataset(self, name, version, data_type, tag, parameters, dataset_path, data_model_path):
        fields = {"name": name, "version": version, "dataType": data_type, "tag": tag,
                  "parameters": json.dumps(parameters, sort_keys=True)}
        files = {"dataModelFile": (os.path.basename(data_model_path), data_model_path, "application/json"),
                 "datasetFile": (os.path.basename(dataset_path), dataset_path, "application/octet-stream")}
        return self._post("{}/dataset".format(self.api), fields, files, "upload of dataset {} {}".format(name, version))

    # ------------------------------------------------------------ models
    def download_model(self, model_id, version, dest_dir):
        os.makedirs(dest_dir, exist_ok=True)
        dest = os.path.join(dest_dir, "model-{}-{}".format(model_id, version or "latest"))
        self._get_to_file("{}/model/by_id/{}".format(self.api, model_id), {"version": version or "latest"}, dest,
                          "download of model {}".format(model_id))
        return dest

    def publish_model(self, name, version, status, library, library_version, domain, tag, parameters,
                      characteristics, path):
        fields = {"name": name, "version": version, "status": status, "library": library,
                  "libraryVersion": library_version, "domain": domain, "tag": tag,
                  "parameters": json.dumps(parameters, sort_keys=True),
                  "characteristics": json.dumps(characteristics, sort_keys=True)}
        files = {"file": (os.path.basename(path), path, "application/octet-stream")}
        return self._post("{}/model".format(self.api), fields, files, "upload of model {} {}".format(name, version))

    def _post(self, url, fields, files, what):
        body = MultipartStream(fields, files)
        headers = dict(self.headers, **{"Content-Type": body.content_type, "Content-Length": str(body.len)})
        try:
            r = self.session.post(url, data=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as e:
            raise SharingError("{} failed: {}".format(what, e)) from None
        finally:
            body.close()
        self._check(r, what)
        try:
            return r.json()
        except ValueError:
            raise SharingError("{}: response is not JSON".format(what)) from None


def parse_ref(ref):
    """``dataset:<id>[@version]`` / ``model:<id>[@version]`` -> (kind, id, version); else None."""
    m = re.match(r"^(dataset|model):([^@/]+)(?:@(.+))?$", ref or "")
    if not m:
        return None
    return m.group(1), m.group(2), m.group(3)


def resolve_input(ref, dest_root, dataset_api=None, model_api=None, token_env=None):
    """A local path stays as it is; a sharing reference is downloaded (streamed) under dest_root."""
    parsed = parse_ref(ref)
    if parsed is None:
        return ref, None
    kind, ident, version = parsed
    dest = tempfile.mkdtemp(prefix="download-", dir=dest_root)
    if kind == "dataset":
        client = SharingClient(dataset_api or os.environ.get("HX_DATASET_API_URL"), token_env)
        return client.download_dataset(ident, version, dest)
    client = SharingClient(model_api or os.environ.get("HX_MODEL_API_URL"), token_env)
    path = client.download_model(ident, version, dest)
    return path, None
