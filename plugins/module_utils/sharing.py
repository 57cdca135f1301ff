# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Streaming client for the Model and Dataset Sharing APIs, and the promotion
logic built on it (copy one version from a source domain to a target domain,
verifying its SHA-256 at every hop).

Only the standard library is used, so the modules run with any controller
Python. Artifacts are never held in memory: downloads stream to a temporary
file while their digest is computed, uploads stream from that file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import shutil
import ssl
import tempfile
import uuid
import zipfile

try:
    import http.client as httplib
    from urllib.parse import urlencode, urlsplit, quote
except ImportError:  # pragma: no cover - Python 2 is not supported
    httplib = None

API = "/api/v1"
CHUNK = 1024 * 1024

KINDS = {
    "model": {
        "id": "modelIdentifier",
        "catalog": "model_catalog",
        "list": "models",
        "read_scope": "read:model",
        "write_scope": "write:model",
    },
    "dataset": {
        "id": "datasetIdentifier",
        "catalog": "dataset_catalog",
        "list": "datasets",
        "read_scope": "read:dataset",
        "write_scope": "write:dataset",
    },
}


class SharingError(Exception):
    """An API call failed; the message names the endpoint and the cause."""

    def __init__(self, msg, status=None):
        super(SharingError, self).__init__(msg)
        self.status = status


class DigestMismatch(SharingError):
    pass


def _reason(status, body):
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        detail = (body or "")[:300]
    return "HTTP %s%s" % (status, (": %s" % detail) if detail else "")


class SharingClient(object):
    """One API of one domain, e.g. the vendor's Model Sharing API."""

    def __init__(self, base_url, token=None, name=None, timeout=60, validate_certs=True, ca_path=None):
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SharingError("invalid API URL %r: expected http(s)://host[:port][/prefix]" % base_url)
        self.base_url = base_url.rstrip("/")
        self.scheme, self.host, self.port = parts.scheme, parts.hostname, parts.port
        self.prefix = parts.path.rstrip("/")
        self.token = token
        self.name = name or self.base_url
        self.timeout = timeout
        self.context = None
        if self.scheme == "https":
            self.context = ssl.create_default_context(cafile=ca_path)
            if not validate_certs:
                self.context.check_hostname = False
                self.context.verify_mode = ssl.CERT_NONE

    # -- transport -----------------------------------------------------------------
    def _connection(self):
        if self.scheme == "https":
            return httplib.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self.context)
        return httplib.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def _open(self, method, path, query=None, body=None, headers=None):
        url = self.prefix + API + path
        if query:
            url += "?" + urlencode([(k, v) for k, v in query.items() if v is not None])
        hdrs = {"Accept": "application/json"}
        if self.token:
            hdrs["Authorization"] = "Bearer %s" % self.token
        hdrs.update(headers or {})
        conn = self._connection()
        try:
            conn.request(method, url, body=body, headers=hdrs)
            resp = conn.getresponse()
        except (OSError, httplib.HTTPException) as e:
            conn.close()
            raise SharingError("%s is unreachable (%s %s): %s" % (self.name, method, self.base_url + API + path, e))
        return conn, resp

    def request_json(self, method, path, query=None, payload=None, expect=(200,)):
        body, headers = None, {}
        if payload is not None:
            body = json.dumps(payload).encode("utf-8")
            headers["Content-Type"] = "application/json"
        conn, resp = self._open(method, path, query, body, headers)
        try:
            data = resp.read().decode("utf-8", "replace")
        finally:
            conn.close()
        if resp.status not in expect:
            raise self._error(method, path, resp.status, data)
        return json.loads(data) if data else None

    def _error(self, method, path, status, body):
        what = "%s %s%s" % (method, self.base_url + API, path)
        if status == 401:
            return SharingError("%s: no valid credential was sent (%s) to %s" % (self.name, _reason(status, body), what), status)
        if status == 403:
            return SharingError("%s: the credential was refused (%s) by %s" % (self.name, _reason(status, body), what), status)
        return SharingError("%s: %s failed with %s" % (self.name, what, _reason(status, body)), status)

    # -- API -----------------------------------------------------------------------
    def health(self):
        conn, resp = self._open("GET", "/health")
        try:
            data = resp.read().decode("utf-8", "replace")
        finally:
            conn.close()
        try:
            status = json.loads(data).get("status")
        except ValueError:
            status = None
        return resp.status, status

    def catalog(self, kind, **filters):
        spec = KINDS[kind]
        if kind == "model":
            filters.setdefault("status", "")  # every status, not only production
        return self.request_json("GET", "/" + spec["catalog"], query=filters)[spec["list"]]

    def find(self, kind, name, version):
        """The catalog entry of ``name`` at ``version`` (``latest`` resolves), or None."""
        rows = self.catalog(kind, name=name, version=version)
        rows = [r for r in rows if r["name"] == name and (version == "latest" or r["version"] == version)]
        return rows[-1] if rows else None

    def download(self, kind, identifier, version, fileobj):
        """Stream an artifact into ``fileobj``; returns (sha256 computed, sha256 announced, size)."""
        conn, resp = self._open("GET", "/%s/by_id/%d" % (kind, identifier), {"version": version},
                                headers={"Accept": "application/octet-stream"})
        try:
            if resp.status != 200:
                raise self._error("GET", "/%s/by_id/%d" % (kind, identifier), resp.status,
                                  resp.read().decode("utf-8", "replace"))
            announced = resp.getheader("X-Content-SHA256")
            sha, size = hashlib.sha256(), 0
            while True:
                chunk = resp.read(CHUNK)
                if not chunk:
                    break
                sha.update(chunk)
                size += len(chunk)
                fileobj.write(chunk)
        finally:
            conn.close()
        return sha.hexdigest(), announced, size

    def upload(self, kind, fields, files):
        """POST a multipart form, streaming ``files`` [(field, filename, path)] from disk."""
        boundary = "hx-%s" % uuid.uuid4().hex
        pieces = []
        for key, value in fields.items():
            pieces.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                           % (boundary, key, value)).encode("utf-8"))
        for field, filename, path in files:
            pieces.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                           "Content-Type: application/octet-stream\r\n\r\n" % (boundary, field, quote(filename))).encode("utf-8"))
            pieces.append(path)
            pieces.append(b"\r\n")
        pieces.append(("--%s--\r\n" % boundary).encode("utf-8"))
        length = sum(os.path.getsize(p) if isinstance(p, str) else len(p) for p in pieces)

        def body():
            for p in pieces:
                if isinstance(p, str):
                    with open(p, "rb") as f:
                        while True:
                            chunk = f.read(CHUNK)
                            if not chunk:
                                break
                            yield chunk
                else:
                    yield p

        headers = {"Content-Type": "multipart/form-data; boundary=%s" % boundary, "Content-Length": str(length)}
        conn, resp = self._open("POST", "/" + kind, body=body(), headers=headers)
        try:
            data = resp.read().decode("utf-8", "replace")
        finally:
            conn.close()
        if resp.status != 200:
            raise self._error("POST", "/" + kind, resp.status, data)
        return json.loads(data)

    def set_status(self, identifier, status, comment=None):
        return self.request_json("PATCH", "/model/%d/status" % identifier, payload={"status": status, "comment": comment})


# -- promotion -----------------------------------------------------------------------

def _identity(kind, row):
    """What must be equal for two catalog entries to hold the same artifact."""
    if kind == "model":
        return {"sha256": row["sha256"]}
    return {"dataset": row["dataset"]["sha256"], "dataModel": row["dataModel"]["sha256"]}


def plan(kind, source, target, name, version, status=None, source_status=None):
    """Decide what promoting (name, version) from source to target needs.

    Returns a dict: action ('none', 'copy' or 'set_status'), the source row and the target row.
    Raises SharingError when the version is missing at the source or the target holds other bytes.
    """
    src = source.find(kind, name, version)
    if src is None:
        raise SharingError("%s: no %s named %r with version %r" % (source.name, kind, name, version), 404)
    if source_status and src.get("status") != source_status:
        raise SharingError(
            "%s: %s %s %s has status %r there; promotion needs status %r (has it passed that domain's gate?)"
            % (source.name, kind, name, src["version"], src.get("status"), source_status), 409)
    dst = target.find(kind, name, src["version"])
    if dst is None:
        return {"action": "copy", "source": src, "target": None}
    if _identity(kind, dst) != _identity(kind, src):
        raise DigestMismatch(
            "%s already holds %s %s %s with different content (%s) than %s (%s); versions are immutable, "
            "publish a new version instead"
            % (target.name, kind, name, src["version"], _identity(kind, dst), source.name, _identity(kind, src)))
    if kind == "model" and status and dst["status"] != status:
        return {"action": "set_status", "source": src, "target": dst}
    return {"action": "none", "source": src, "target": dst}


def _json_field(value):
    return json.dumps(value if value is not None else {}, sort_keys=True)


def copy(kind, source, target, src, status=None, workdir=None):
    """Stream ``src`` from source to target through a temporary file; verify digests on arrival."""
    tmp = tempfile.mkdtemp(prefix="hx-promote-", dir=workdir)
    try:
        spec = KINDS[kind]
        blob = os.path.join(tmp, "artifact")
        with open(blob, "wb") as f:
            got, announced, size = source.download(kind, src[spec["id"]], src["version"], f)
        if got != src["sha256"] or (announced and announced != got):
            raise DigestMismatch(
                "%s: %s %s %s arrived with SHA-256 %s but the source catalog says %s%s; nothing was published"
                % (source.name, kind, src["name"], src["version"], got, src["sha256"],
                   " and the download header says %s" % announced if announced and announced != got else ""))
        if kind == "model":
            fields = {
                "name": src["name"], "version": src["version"], "status": status or src["status"],
                "library": src["library"], "libraryVersion": src["libraryVersion"], "domain": src["domain"],
                "tag": src["tag"], "parameters": _json_field(src.get("parameters")),
                "characteristics": _json_field(src.get("characteristics")),
            }
            result = target.upload("model", fields, [("file", "%s-%s" % (src["name"], src["version"]), blob)])
        else:
            with zipfile.ZipFile(blob) as z:
                for member in ("dataset", "dataModel"):
                    with z.open(member) as zf, open(os.path.join(tmp, member), "wb") as out:
                        shutil.copyfileobj(zf, out, CHUNK)
            fields = {
                "name": src["name"], "version": src["version"], "dataType": src["dataType"], "tag": src["tag"],
                "parameters": _json_field(src.get("parameters")),
            }
            result = target.upload("dataset", fields, [("datasetFile", "dataset", os.path.join(tmp, "dataset")),
                                                       ("dataModelFile", "dataModel", os.path.join(tmp, "dataModel"))])
        if _identity(kind, result) != _identity(kind, src):
            raise DigestMismatch("%s stored %s %s %s as %s, expected %s" % (
                target.name, kind, src["name"], src["version"], _identity(kind, result), _identity(kind, src)))
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- module glue ---------------------------------------------------------------------

def promote_argument_spec(kind):
    spec = dict(
        name=dict(type="str", required=True),
        version=dict(type="str", default="latest"),
        source_url=dict(type="str", required=True),
        source_token=dict(type="str", required=True, no_log=True),
        source_name=dict(type="str"),
        target_url=dict(type="str", required=True),
        target_token=dict(type="str", required=True, no_log=True),
        target_name=dict(type="str"),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        timeout=dict(type="int", default=300),
        workdir=dict(type="path"),
    )
    if kind == "model":
        statuses = ["training", "development", "staging", "production"]
        spec["status"] = dict(type="str", choices=statuses)
        spec["source_status"] = dict(type="str", choices=statuses)
    return spec


def run_promotion(module, kind):
    """Shared main() of model_promote and dataset_promote."""
    p = module.params

    def client(side):
        return SharingClient(p[side + "_url"], p[side + "_token"], name=p[side + "_name"] or p[side + "_url"],
                             timeout=p["timeout"], validate_certs=p["validate_certs"], ca_path=p["ca_path"])

    status = p.get("status")
    try:
        source, target = client("source"), client("target")
        decision = plan(kind, source, target, p["name"], p["version"], status, p.get("source_status"))
        src, dst = decision["source"], decision["target"]
        before = {"present": dst is not None}
        if dst is not None and kind == "model":
            before["status"] = dst["status"]
        after = {"present": True, "sha256": src["sha256"]}
        if kind == "model":
            after["status"] = status or (dst or src)["status"]
        result = dict(changed=decision["action"] != "none", action=decision["action"], version=src["version"],
                      sha256=src["sha256"], source=src, diff=dict(before=before, after=after))
        if not module.check_mode:
            if decision["action"] == "copy":
                dst = copy(kind, source, target, src, status, p["workdir"])
            elif decision["action"] == "set_status":
                dst = target.set_status(dst[KINDS[kind]["id"]], status,
                                        "promoted from %s" % source.name)
        result["target"] = dst
    except SharingError as e:
        module.fail_json(msg=str(e), http_status=e.status, digest_mismatch=isinstance(e, DigestMismatch))
    module.exit_json(**result)
