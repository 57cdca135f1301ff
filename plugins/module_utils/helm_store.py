# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HX-MLOps maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Batched, read-only view of Helm v3's release store through the Kubernetes API.

Helm's default storage driver keeps every revision of a release as a Secret of type
`helm.sh/release.v1` labelled `owner=helm`, `name=<release>`, `status=<status>`,
`version=<revision>`; `data.release` is base64 (Kubernetes) of base64 of gzip of the release
JSON. `helm status` reads the highest revision of one release; one
`GET /api/v1/namespaces/<ns>/secrets?labelSelector=owner%3Dhelm` gives the same for every
release of a namespace, with no helm process.

Only for connections that are sure to reach what helm would reach, as helm would: anything
else raises `Unsupported`, and the caller asks helm (`helm status`) instead. Standard library
only (http.client, ssl).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import gzip
import json
import os
import ssl
import tempfile

from http.client import HTTPSConnection
from urllib.parse import quote, urlsplit

try:
    import yaml
    HAS_YAML = True
    # libyaml's safe loader when PyYAML was built with it: same objects, several times faster
    # (helm.py parses release manifests with it too)
    YAML_LOADER = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None
    HAS_YAML = False
    YAML_LOADER = None

# What `helm status -o json` prints of a release (helm v3.19: no chart, no hooks).
STATUS_KEYS = ('name', 'namespace', 'version', 'info', 'config', 'manifest')

# kubeconfig fields this reader handles exactly like client-go; any other field (exec,
# auth-provider, impersonation, basic auth, proxy-url, tls-server-name, ...) -> helm.
CLUSTER_FIELDS = frozenset(('server', 'certificate-authority', 'certificate-authority-data',
                            'insecure-skip-tls-verify', 'disable-compression', 'extensions'))
USER_FIELDS = frozenset(('client-certificate', 'client-certificate-data', 'client-key', 'client-key-data',
                         'token', 'tokenFile', 'extensions'))

# Environment that changes where helm (or its HTTP client) connects, as whom, or which store it reads.
HELM_ENV = ('HELM_NAMESPACE', 'HELM_KUBECONTEXT', 'HELM_KUBEAPISERVER', 'HELM_KUBETOKEN', 'HELM_KUBEASUSER',
            'HELM_KUBEASGROUPS', 'HELM_KUBECAFILE', 'HELM_KUBEINSECURE_SKIP_TLS_VERIFY',
            'HELM_KUBETLS_SERVER_NAME')
PROXY_ENV = ('HTTPS_PROXY', 'https_proxy')
SECRET_DRIVERS = ('', 'secret', 'secrets')

GZIP_MAGIC = b'\x1f\x8b\x08'


class Unsupported(Exception):
    """The batched read cannot be sure to see what helm sees: ask helm instead."""


# --------------------------------------------------------------------------- decoding

def _b64(data):
    if not isinstance(data, bytes):
        data = data.encode('ascii')
    return base64.b64decode(data)


def decode_release(data):
    """`data.release` of a helm release Secret (as the Kubernetes API returns it, base64)
    -> the release dict. Like helm's decodeRelease: base64, then gzip when it starts with
    the gzip magic, else plain JSON."""
    raw = _b64(_b64(data))
    if raw[:3] == GZIP_MAGIC:
        raw = gzip.decompress(raw)
    return json.loads(raw.decode('utf-8'))


def status_view(release):
    """The part of a stored release that `helm status -o json` prints."""
    return dict((k, release[k]) for k in STATUS_KEYS if k in release)


def latest_releases(items):
    """Secret items of one namespace (labelled owner=helm) -> {release name: status view of
    its highest revision, or None when that revision cannot be read exactly}.

    Like helm's storage.Last(): every Secret labelled name=<release>, the highest version."""
    by_name = {}
    for item in items or []:
        meta = item.get('metadata') or {}
        labels = meta.get('labels') or {}
        name = labels.get('name')
        if not name:
            continue  # helm would not find it under any release name
        by_name.setdefault(name, []).append(item)
    out = {}
    for name, secrets in by_name.items():
        try:
            versions = [int((s['metadata']['labels']).get('version')) for s in secrets]
        except (TypeError, ValueError, KeyError):
            out[name] = None
            continue
        top = max(versions)
        if versions.count(top) != 1:
            out[name] = None
            continue
        secret = secrets[versions.index(top)]
        try:
            rel = decode_release((secret.get('data') or {})['release'])
        except Exception:  # pylint: disable=broad-except
            out[name] = None
            continue
        # the label and the stored object agree on identity and revision, else ask helm
        if not isinstance(rel, dict) or rel.get('version') != top or rel.get('name') != name:
            out[name] = None
            continue
        out[name] = status_view(rel)
    return out


# --------------------------------------------------------------------------- kubeconfig

def kubeconfig_path(kubeconfig=None, environ=None):
    """The kubeconfig file helm reads: --kubeconfig, else $KUBECONFIG (one file only: a list
    is merged by client-go, not handled here), else ~/.kube/config."""
    environ = os.environ if environ is None else environ
    if kubeconfig:
        path = kubeconfig
    else:
        paths = [p for p in environ.get('KUBECONFIG', '').split(os.pathsep) if p]
        if len(paths) > 1:
            raise Unsupported('KUBECONFIG lists several files')
        path = paths[0] if paths else os.path.join(os.path.expanduser('~'), '.kube', 'config')
    if os.pathsep in path:
        raise Unsupported('kubeconfig lists several files')
    return path


def _named(entries, name, what):
    found = [e for e in entries or [] if isinstance(e, dict) and e.get('name') == name]
    if len(found) != 1 or not isinstance(found[0].get(what), dict):
        raise Unsupported('%s %r not found once in the kubeconfig' % (what, name))
    return found[0][what]


def _resolve(path, base):
    if not path:
        return path
    path = os.path.expanduser(path)
    return path if os.path.isabs(path) else os.path.join(base, path)


def connection_settings(config, context=None, base_dir='.', environ=None):
    """kubeconfig dict + context name -> how to connect, as client-go would:
    {host, port, prefix, ca_data | ca_file, insecure, cert_data | cert_file, key_data | key_file,
    token}. Raises Unsupported for anything it does not handle exactly."""
    environ = os.environ if environ is None else environ
    for var in HELM_ENV + PROXY_ENV:
        if environ.get(var):
            raise Unsupported('%s is set' % var)
    if environ.get('HELM_DRIVER', '') not in SECRET_DRIVERS:  # helm matches it case-sensitively
        raise Unsupported('HELM_DRIVER is %s' % environ.get('HELM_DRIVER'))
    if not isinstance(config, dict):
        raise Unsupported('kubeconfig is not a mapping')
    name = context or config.get('current-context')
    if not name:
        raise Unsupported('no context')
    ctx = _named(config.get('contexts'), name, 'context')
    cluster = _named(config.get('clusters'), ctx.get('cluster'), 'cluster')
    user = _named(config.get('users'), ctx.get('user'), 'user') if ctx.get('user') else {}
    extra = sorted(set(cluster) - CLUSTER_FIELDS) + sorted(set(user) - USER_FIELDS)
    if extra:
        raise Unsupported('kubeconfig fields not handled: %s' % ', '.join(extra))

    url = urlsplit(str(cluster.get('server') or ''))
    if url.scheme != 'https' or not url.hostname or url.query or url.fragment:
        raise Unsupported('server is not an https URL')
    out = {'host': url.hostname, 'port': url.port or 443, 'prefix': url.path.rstrip('/'),
           'insecure': bool(cluster.get('insecure-skip-tls-verify'))}
    # client-go: *-data wins over the file of the same thing
    if cluster.get('certificate-authority-data'):
        out['ca_data'] = _b64(cluster['certificate-authority-data']).decode('ascii')
    elif cluster.get('certificate-authority'):
        out['ca_file'] = _resolve(cluster['certificate-authority'], base_dir)
    if out['insecure'] and (out.get('ca_data') or out.get('ca_file')):
        raise Unsupported('insecure-skip-tls-verify together with a certificate authority')  # helm refuses it

    if user.get('client-certificate-data'):
        out['cert_data'] = _b64(user['client-certificate-data'])
    elif user.get('client-certificate'):
        out['cert_file'] = _resolve(user['client-certificate'], base_dir)
    if user.get('client-key-data'):
        out['key_data'] = _b64(user['client-key-data'])
    elif user.get('client-key'):
        out['key_file'] = _resolve(user['client-key'], base_dir)
    if bool(out.get('cert_data') or out.get('cert_file')) != bool(out.get('key_data') or out.get('key_file')):
        raise Unsupported('a client certificate without its key (or the reverse)')

    token = user.get('token') or None
    if user.get('tokenFile'):
        # client-go reads the file (and prefers it to `token` when it is readable)
        try:
            with open(_resolve(user['tokenFile'], base_dir)) as fh:
                token = fh.read().strip() or token
        except (IOError, OSError):
            raise Unsupported('tokenFile unreadable')
    if token:
        out['token'] = token
    return out


def load_kubeconfig(path):
    if not HAS_YAML:
        raise Unsupported('PyYAML missing')
    try:
        with open(path) as fh:
            return yaml.load(fh, Loader=YAML_LOADER)  # noqa: S506 - a safe loader (CSafeLoader or SafeLoader)
    except Exception as exc:  # pylint: disable=broad-except
        raise Unsupported('kubeconfig unreadable: %s' % exc)


def ssl_context(settings, tmpdir=None):
    """An SSLContext verifying the server and presenting the client certificate like client-go.
    Certificate/key data go to 0600 files (ssl.load_cert_chain reads files), removed at once."""
    if settings.get('insecure'):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif settings.get('ca_data'):
        ctx = ssl.create_default_context(cadata=settings['ca_data'])
    elif settings.get('ca_file'):
        ctx = ssl.create_default_context(cafile=settings['ca_file'])
    else:
        ctx = ssl.create_default_context()
    written = []
    try:
        cert = settings.get('cert_file')
        key = settings.get('key_file')
        if settings.get('cert_data'):
            cert = _private_file(settings['cert_data'], tmpdir, written)
        if settings.get('key_data'):
            key = _private_file(settings['key_data'], tmpdir, written)
        if cert:
            ctx.load_cert_chain(cert, key)
    finally:
        for path in written:
            try:
                os.unlink(path)
            except OSError:
                pass
    return ctx


def _private_file(data, tmpdir, written):
    fd, path = tempfile.mkstemp(prefix='hx-kube-', suffix='.pem', dir=tmpdir)
    written.append(path)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)
    return path


# --------------------------------------------------------------------------- the store

class ReleaseStore(object):
    """Lists helm releases per namespace in one API call each (see the module docstring).

    `releases(namespace)` -> {release: status view of its highest revision, or None when it
    must be read with helm}; a release that is not a key has no revision at all in that
    namespace. Raises Unsupported whenever the answer could differ from helm's."""

    def __init__(self, kubeconfig=None, context=None, tmpdir=None, environ=None, timeout=15):
        self.kubeconfig = kubeconfig
        self.context = context
        self.tmpdir = tmpdir
        self.environ = os.environ if environ is None else environ
        self.timeout = timeout
        self._settings = None
        self._ssl = None

    def settings(self):
        if self._settings is None:
            path = kubeconfig_path(self.kubeconfig, self.environ)
            config = load_kubeconfig(path)
            self._settings = connection_settings(config, self.context,
                                                 os.path.dirname(os.path.abspath(path)), self.environ)
        return self._settings

    def get(self, path):
        """GET path (below the server URL) -> decoded JSON of a 200 answer, else Unsupported."""
        st = self.settings()
        if self._ssl is None:
            try:
                self._ssl = ssl_context(st, self.tmpdir)
            except (ssl.SSLError, IOError, OSError, ValueError) as exc:
                raise Unsupported('TLS setup: %s' % exc)
        headers = {'Accept': 'application/json', 'User-Agent': 'hx.mlops'}
        if st.get('token'):
            headers['Authorization'] = 'Bearer %s' % st['token']
        conn = HTTPSConnection(st['host'], st['port'], timeout=self.timeout, context=self._ssl)
        try:
            conn.request('GET', st['prefix'] + path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise Unsupported('HTTP %s' % resp.status)
            return json.loads(body.decode('utf-8'))
        except Unsupported:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            raise Unsupported('%s: %s' % (type(exc).__name__, exc))
        finally:
            conn.close()

    def releases(self, namespace):
        data = self.get('/api/v1/namespaces/%s/secrets?labelSelector=%s' % (
            quote(namespace, safe=''), quote('owner=helm', safe='')))
        if not isinstance(data, dict) or data.get('kind') != 'SecretList' or not isinstance(data.get('items'), list):
            raise Unsupported('not a SecretList')
        if (data.get('metadata') or {}).get('continue'):
            raise Unsupported('paginated answer')
        return latest_releases(data['items'])
