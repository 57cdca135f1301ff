# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HX-MLOps maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of helm_store: decoding helm's release Secrets, kubeconfig parsing and auth
selection, when to fall back to helm, and the HTTPS read against a local TLS server."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import gzip
import json
import os
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "collections"))

from ansible_collections.hx.mlops.plugins.module_utils import helm_store as s  # noqa: E402

RELEASE = {"name": "pg", "namespace": "ns", "version": 2,
           "info": {"status": "deployed", "description": "hx.mlops input digest ab", "last_deployed": "t"},
           "chart": {"metadata": {"name": "postgres", "version": "0.1.0"}, "templates": []},
           "config": {"a": 1}, "manifest": "---\nkind: Service\nmetadata: {name: pg}\n", "hooks": []}


def encode(release, compress=True):
    """What helm writes (base64 of gzip of JSON) as the Kubernetes API returns it (base64 again)."""
    raw = json.dumps(release).encode("utf-8")
    if compress:
        raw = gzip.compress(raw)
    return base64.b64encode(base64.b64encode(raw)).decode("ascii")


def secret(release, name=None, version=None, status="deployed", data=None):
    name = release["name"] if name is None else name
    version = release["version"] if version is None else version
    return {"metadata": {"name": "sh.helm.release.v1.%s.v%s" % (name, version), "labels": {
        "owner": "helm", "name": name, "version": str(version), "status": status}},
        "type": "helm.sh/release.v1", "data": {"release": encode(release) if data is None else data}}


# --- decoding ----------------------------------------------------------------------------------

def test_decode_release_gzip_and_plain():
    assert s.decode_release(encode(RELEASE)) == RELEASE
    assert s.decode_release(encode(RELEASE, compress=False)) == RELEASE


def test_status_view_is_what_helm_status_prints():
    assert s.status_view(RELEASE) == dict((k, RELEASE[k]) for k in
                                          ("name", "namespace", "version", "info", "config", "manifest"))


def test_latest_releases_takes_the_highest_revision():
    v1 = dict(RELEASE, version=1, info=dict(RELEASE["info"], status="superseded"))
    v10 = dict(RELEASE, version=10)
    mlflow = dict(RELEASE, name="mlflow", version=1)
    out = s.latest_releases([secret(v1), secret(v10), secret(dict(RELEASE, version=9)), secret(mlflow)])
    assert sorted(out) == ["mlflow", "pg"]
    assert out["pg"]["version"] == 10 and "chart" not in out["pg"]  # 10 > 9 as numbers
    assert out["mlflow"] == s.status_view(mlflow)


def test_latest_releases_leaves_doubtful_releases_to_helm():
    items = [
        secret(RELEASE, data="bm90IGJhc2U2NA=="),                       # not a release
        secret(dict(RELEASE, name="a"), version=3),                     # label says 3, object says 2
        secret(dict(RELEASE, name="b"), name="b2"),                     # label name != object name
        secret(dict(RELEASE, name="c")), secret(dict(RELEASE, name="c")),  # two latest revisions
        secret(dict(RELEASE, name="d"), version="x"),                   # no number
    ]
    assert s.latest_releases(items) == {"pg": None, "a": None, "b2": None, "c": None, "d": None}
    unlabelled = secret(RELEASE)
    del unlabelled["metadata"]["labels"]["name"]
    assert s.latest_releases([unlabelled]) == {}  # helm does not see it under any name either


# --- kubeconfig --------------------------------------------------------------------------------

def test_kubeconfig_path_like_helm(tmp_path):
    assert s.kubeconfig_path("/k/c", {"KUBECONFIG": "/other"}) == "/k/c"
    assert s.kubeconfig_path(None, {"KUBECONFIG": "/env/c"}) == "/env/c"
    assert s.kubeconfig_path(None, {}) == os.path.join(os.path.expanduser("~"), ".kube", "config")
    with pytest.raises(s.Unsupported, match="several files"):
        s.kubeconfig_path(None, {"KUBECONFIG": "/a%s/b" % os.pathsep})
    with pytest.raises(s.Unsupported, match="several files"):
        s.kubeconfig_path("/a%s/b" % os.pathsep, {})


CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nCA\n").decode()


def config(cluster=None, user=None, current="c1"):
    return {"apiVersion": "v1", "kind": "Config", "current-context": current,
            "clusters": [{"name": "k1", "cluster": dict({"server": "https://10.0.0.1:6443"}, **(cluster or {}))},
                         {"name": "k2", "cluster": {"server": "https://api.two:443/prefix/"}}],
            "users": [{"name": "u1", "user": user if user is not None else {}}, {"name": "u2", "user": {"token": "t2"}}],
            "contexts": [{"name": "c1", "context": {"cluster": "k1", "user": "u1", "namespace": "x"}},
                         {"name": "c2", "context": {"cluster": "k2", "user": "u2"}}]}


def test_settings_client_certificate_data_and_ca_data():
    st = s.connection_settings(config({"certificate-authority-data": CA},
                                      {"client-certificate-data": base64.b64encode(b"CERT").decode(),
                                       "client-key-data": base64.b64encode(b"KEY").decode()}), environ={})
    assert st == {"host": "10.0.0.1", "port": 6443, "prefix": "", "insecure": False,
                  "ca_data": "-----BEGIN CERTIFICATE-----\nCA\n", "cert_data": b"CERT", "key_data": b"KEY"}


def test_settings_files_are_relative_to_the_kubeconfig_and_data_wins():
    st = s.connection_settings(config({"certificate-authority": "ca.crt"},
                                      {"client-certificate": "/abs/c.crt", "client-key": "k.key"}),
                               base_dir="/kc", environ={})
    assert (st["ca_file"], st["cert_file"], st["key_file"]) == ("/kc/ca.crt", "/abs/c.crt", "/kc/k.key")
    st = s.connection_settings(config({"certificate-authority": "ca.crt", "certificate-authority-data": CA}),
                               base_dir="/kc", environ={})
    assert "ca_file" not in st and st["ca_data"].startswith("-----BEGIN")


def test_settings_context_token_prefix_and_token_file(tmp_path):
    st = s.connection_settings(config(), "c2", environ={})
    assert st == {"host": "api.two", "port": 443, "prefix": "/prefix", "insecure": False, "token": "t2"}
    (tmp_path / "tok").write_text("from-file\n")
    st = s.connection_settings(config(user={"token": "inline", "tokenFile": "tok"}), base_dir=str(tmp_path), environ={})
    assert st["token"] == "from-file"  # client-go prefers the readable file
    with pytest.raises(s.Unsupported, match="tokenFile"):
        s.connection_settings(config(user={"tokenFile": "missing"}), base_dir=str(tmp_path), environ={})


def test_settings_insecure():
    st = s.connection_settings(config({"insecure-skip-tls-verify": True}), environ={})
    assert st["insecure"] is True and "ca_data" not in st
    with pytest.raises(s.Unsupported, match="insecure-skip-tls-verify together"):
        s.connection_settings(config({"insecure-skip-tls-verify": True, "certificate-authority-data": CA}),
                              environ={})


@pytest.mark.parametrize("cluster, user, match", [
    (None, {"exec": {"command": "aws"}}, "exec"),
    (None, {"auth-provider": {"name": "oidc"}}, "auth-provider"),
    (None, {"token": "t", "as": "admin"}, "as"),
    (None, {"username": "u", "password": "p"}, "password, username"),
    ({"proxy-url": "http://proxy:3128"}, None, "proxy-url"),
    ({"tls-server-name": "api"}, None, "tls-server-name"),
    ({"server": "http://10.0.0.1:8080"}, None, "not an https URL"),
    (None, {"client-certificate-data": "Q0VSVA=="}, "without its key"),
])
def test_settings_fall_back_for_what_they_do_not_handle(cluster, user, match):
    with pytest.raises(s.Unsupported, match=match):
        s.connection_settings(config(cluster, user), environ={})


@pytest.mark.parametrize("environ, match", [
    ({"HELM_DRIVER": "configmap"}, "HELM_DRIVER"),
    ({"HELM_DRIVER": "sql"}, "HELM_DRIVER"),
    ({"HELM_DRIVER": "Secrets"}, "HELM_DRIVER"),  # helm itself rejects it: unknown driver
    ({"HTTPS_PROXY": "http://proxy:3128"}, "HTTPS_PROXY"),
    ({"https_proxy": "http://proxy:3128"}, "https_proxy"),
    ({"HELM_KUBECONTEXT": "other"}, "HELM_KUBECONTEXT"),
    ({"HELM_KUBEAPISERVER": "https://x"}, "HELM_KUBEAPISERVER"),
    ({"HELM_KUBETOKEN": "t"}, "HELM_KUBETOKEN"),
    ({"HELM_NAMESPACE": "x"}, "HELM_NAMESPACE"),
])
def test_environment_that_changes_what_helm_reads_falls_back(environ, match):
    with pytest.raises(s.Unsupported, match=match):
        s.connection_settings(config(), environ=environ)


def test_secret_drivers_and_proxies_for_plain_http_are_fine():
    for env in ({"HELM_DRIVER": "secret"}, {"HELM_DRIVER": "secrets"}, {"HELM_DRIVER": ""},
                {"HTTP_PROXY": "http://p:1"}, {"NO_PROXY": "*"}):
        assert s.connection_settings(config(), environ=env)["host"] == "10.0.0.1"


@pytest.mark.parametrize("cfg, context, match", [
    (config(current=None), None, "no context"),
    (config(), "nope", "context 'nope' not found"),
    (dict(config(), clusters=[]), None, "cluster 'k1' not found"),
    ("not a mapping", None, "not a mapping"),
])
def test_settings_missing_pieces(cfg, context, match):
    with pytest.raises(s.Unsupported, match=match):
        s.connection_settings(cfg, context, environ={})


def test_unreadable_kubeconfig(tmp_path):
    store = s.ReleaseStore(str(tmp_path / "missing"), environ={})
    with pytest.raises(s.Unsupported, match="kubeconfig unreadable"):
        store.releases("ns")


# --- the HTTPS read against a local TLS API server ---------------------------------------------

def _pki(tmp_path):
    """A CA, a server certificate for 127.0.0.1 and a client certificate (cryptography ships with ansible)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)

    def cert(cn, issuer_key=None, issuer_name=None, ca=False, san=None):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        b = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name or name)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        crt = b.sign(issuer_key or key, hashes.SHA256())
        return key, crt, name

    def pem(key, crt):
        return (crt.public_bytes(serialization.Encoding.PEM),
                key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))

    ca_key, ca_crt, ca_name = cert("test-ca", ca=True)
    srv_key, srv_crt, _srv_name = cert("apiserver", ca_key, ca_name, san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cli_key, cli_crt, _cli_name = cert("admin", ca_key, ca_name)
    files = {}
    for label, (key, crt) in {"ca": (ca_key, ca_crt), "server": (srv_key, srv_crt), "client": (cli_key, cli_crt)}.items():
        c, k = pem(key, crt)
        (tmp_path / ("%s.crt" % label)).write_bytes(c)
        (tmp_path / ("%s.key" % label)).write_bytes(k)
        files[label] = (c, k)
    return files


class _Handler(BaseHTTPRequestHandler):
    answers = {}
    seen = []

    def do_GET(self):  # noqa: N802 - http.server API
        self.seen.append((self.path, self.headers.get("Authorization"),
                          bool(self.connection.getpeercert())))
        code, body = self.answers.get(self.path.split("?")[0], (404, {}))
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def apiserver(tmp_path):
    pki = _pki(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(tmp_path / "server.crt"), str(tmp_path / "server.key"))
    ctx.load_verify_locations(str(tmp_path / "ca.crt"))
    ctx.verify_mode = ssl.CERT_OPTIONAL  # client certificate when given (token otherwise)
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    _Handler.answers, _Handler.seen = {}, []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], pki, tmp_path
    httpd.shutdown()
    httpd.server_close()


def write_kubeconfig(tmp_path, port, user, cluster=None):
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "t",
           "clusters": [{"name": "t", "cluster": dict({"server": "https://127.0.0.1:%d" % port}, **(cluster or {}))}],
           "users": [{"name": "t", "user": user}],
           "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}]}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def b64(data):
    return base64.b64encode(data).decode()


def test_list_over_https_with_client_certificate_data(apiserver):
    port, pki, tmp = apiserver
    _Handler.answers["/api/v1/namespaces/hx-mlops/secrets"] = (200, {
        "kind": "SecretList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
        "items": [secret(dict(RELEASE, version=1)), secret(RELEASE)]})
    kc = write_kubeconfig(tmp, port, {"client-certificate-data": b64(pki["client"][0]),
                                      "client-key-data": b64(pki["client"][1])},
                          {"certificate-authority-data": b64(pki["ca"][0])})
    keys = tmp / "keys"
    keys.mkdir()
    store = s.ReleaseStore(kc, "t", tmpdir=str(keys), environ={})
    assert store.releases("hx-mlops") == {"pg": s.status_view(RELEASE)}
    assert _Handler.seen == [("/api/v1/namespaces/hx-mlops/secrets?labelSelector=owner%3Dhelm", None, True)]
    assert os.listdir(str(keys)) == []  # the key material written for ssl was removed again


def test_list_with_token_ca_file_and_errors(apiserver):
    port, pki, tmp = apiserver
    _Handler.answers["/api/v1/namespaces/empty/secrets"] = (200, {"kind": "SecretList", "items": []})
    _Handler.answers["/api/v1/namespaces/forbidden/secrets"] = (403, {"kind": "Status", "code": 403})
    _Handler.answers["/api/v1/namespaces/paged/secrets"] = (200, {"kind": "SecretList", "items": [],
                                                                  "metadata": {"continue": "abc"}})
    _Handler.answers["/api/v1/namespaces/odd/secrets"] = (200, {"kind": "Status"})
    kc = write_kubeconfig(tmp, port, {"token": "sekret"}, {"certificate-authority": "ca.crt"})
    store = s.ReleaseStore(kc, environ={})
    assert store.releases("empty") == {}
    assert _Handler.seen[-1][1:] == ("Bearer sekret", False)
    for ns, match in (("forbidden", "HTTP 403"), ("paged", "paginated"), ("odd", "not a SecretList"),
                      ("nothere", "HTTP 404")):
        with pytest.raises(s.Unsupported, match=match):
            store.releases(ns)


def test_list_refuses_an_unknown_server_certificate(apiserver):
    port, pki, tmp = apiserver
    kc = write_kubeconfig(tmp, port, {"token": "t"})  # no CA: system roots do not know the test CA
    with pytest.raises(s.Unsupported, match="SSL|certificate"):
        s.ReleaseStore(kc, environ={}).releases("empty")
    kc = write_kubeconfig(tmp, port, {"token": "t"}, {"insecure-skip-tls-verify": True})
    _Handler.answers["/api/v1/namespaces/empty/secrets"] = (200, {"kind": "SecretList", "items": []})
    assert s.ReleaseStore(kc, environ={}).releases("empty") == {}


def test_unreachable_server_is_unsupported(tmp_path):
    kc = write_kubeconfig(tmp_path, 1, {"token": "t"}, {"insecure-skip-tls-verify": True})
    with pytest.raises(s.Unsupported, match="ConnectionRefused|Error"):
        s.ReleaseStore(kc, environ={}).releases("ns")
