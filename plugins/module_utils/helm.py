# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HX-MLOps maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helm logic of the hx.mlops catalog modules.

Everything here is plain Python around a `run(argv) -> (rc, stdout, stderr)` callable, so
it is unit-testable without Ansible or a cluster:

* command lines are built by pure functions (argument lists, never shell strings);
* `changed` is decided BEFORE acting by comparing what `helm template` renders with the
  same values against the live release (`helm status -o json`: user values + manifest),
  or, when the input digest recorded in the release matches, without rendering;
* `ensure_many` reads the live releases of a namespace in one Kubernetes API call
  (helm_store), and falls back to `helm status` per release whenever that read may differ;
* values travel in a 0600 temporary file, never on argv; diffs and results redact secrets.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import copy
import hashlib
import json
import os
import re
import shutil
import tempfile
import time

from ansible_collections.hx.mlops.plugins.module_utils import catalog
from ansible_collections.hx.mlops.plugins.module_utils import helm_store
# PyYAML (and libyaml's loader when present) is imported once, in helm_store
from ansible_collections.hx.mlops.plugins.module_utils.helm_store import HAS_YAML, YAML_LOADER, yaml


class HelmError(Exception):
    """A helm call failed; `commands` holds what ran so far."""

    def __init__(self, msg, commands=None, stderr=None):
        super(HelmError, self).__init__(msg)
        self.msg = msg
        self.commands = commands or []
        self.stderr = stderr


UNREACHABLE_PATTERNS = (
    'kubernetes cluster unreachable',
    'connection refused',
    'no such host',
    'i/o timeout',
    'context deadline exceeded',
    'the server could not find the requested resource',
    'context was not found',
    'does not exist',
    'unable to load kubeconfig',
    'invalid configuration',
    'no configuration has been provided',
    'tls handshake timeout',
    'connect: network is unreachable',
)

NOT_FOUND_PATTERNS = ('release: not found', 'not found')

DIGEST_PREFIX = 'hx.mlops input digest '

SECRET_KEY_RE = re.compile(r'(?i)(password|passwd|token|secretkey|secret_key|secretaccesskey)$')


# --------------------------------------------------------------------------- commands

def kube_args(kubeconfig=None, context=None):
    args = []
    if kubeconfig:
        args += ['--kubeconfig', kubeconfig]
    if context:
        args += ['--kube-context', context]
    return args


def cmd_status(helm, release, namespace, kubeconfig=None, context=None, show_resources=False):
    cmd = [helm, 'status', release, '--namespace', namespace, '--output', 'json']
    if show_resources:
        cmd.append('--show-resources')
    return cmd + kube_args(kubeconfig, context)


def cmd_template(helm, release, chart, namespace, values_file):
    # No cluster access: renders exactly what `upgrade` would send, with the same values.
    return [helm, 'template', release, chart, '--namespace', namespace,
            '--values', values_file, '--skip-tests']


def cmd_upgrade(helm, release, chart, namespace, values_file, wait=True, timeout=300,
                atomic=False, kubeconfig=None, context=None, digest=None):
    cmd = [helm, 'upgrade', release, chart, '--install', '--namespace', namespace,
           '--create-namespace', '--values', values_file, '--reset-values',
           '--output', 'json', '--timeout', '%ss' % int(timeout)]
    if digest:
        # recorded in the release (info.description): the next run can skip rendering
        cmd += ['--description', '%s%s' % (DIGEST_PREFIX, digest)]
    if wait:
        cmd.append('--wait')
    if atomic:
        # Helm 3: a failed install/upgrade is rolled back (implies --wait).
        cmd.append('--atomic')
    return cmd + kube_args(kubeconfig, context)


def cmd_uninstall(helm, release, namespace, wait=True, timeout=300, kubeconfig=None, context=None):
    cmd = [helm, 'uninstall', release, '--namespace', namespace, '--timeout', '%ss' % int(timeout)]
    if wait:
        cmd.append('--wait')
    return cmd + kube_args(kubeconfig, context)


# --------------------------------------------------------------------------- values

def deep_merge(base, override):
    """Helm's merge: maps merge recursively, anything else (lists too) is replaced."""
    out = copy.deepcopy(base) if isinstance(base, dict) else {}
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def normalize(data):
    """JSON round trip: YAML/Ansible types compare equal to what helm returns."""
    return json.loads(json.dumps(data if data is not None else {}, sort_keys=True, default=str))


def merge_values(file_contents, values):
    merged = {}
    for doc in file_contents:
        merged = deep_merge(merged, doc or {})
    return deep_merge(merged, values or {})


def load_values_files(paths):
    if not HAS_YAML:
        raise HelmError('PyYAML is required to read values_files')
    docs = []
    for path in paths or []:
        try:
            with open(path) as fh:
                doc = yaml.safe_load(fh) or {}
        except (IOError, OSError) as exc:
            raise HelmError("cannot read values file '%s': %s" % (path, exc))
        except yaml.YAMLError as exc:
            raise HelmError("values file '%s' is not valid YAML: %s" % (path, exc))
        if not isinstance(doc, dict):
            raise HelmError("values file '%s' must hold a mapping, got %s" % (path, type(doc).__name__))
        docs.append(doc)
    return docs


def write_values_file(values, directory=None):
    """Write values to a fresh 0600 file (mkstemp) and return its path."""
    fd, path = tempfile.mkstemp(prefix='hx-values-', suffix='.json', dir=directory)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, json.dumps(values, sort_keys=True).encode('utf-8'))
    finally:
        os.close(fd)
    return path


def _digest(text):
    return hashlib.sha256(str(text).encode('utf-8')).hexdigest()[:12]


def redact_values(data):
    """Replace secret-looking values by a short digest (changes stay visible in diffs)."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if SECRET_KEY_RE.search(str(key)) and isinstance(value, (str, int, float)) and value != '':
                out[key] = '<redacted sha256:%s>' % _digest(value)
            else:
                out[key] = redact_values(value)
        return out
    if isinstance(data, list):
        return [redact_values(v) for v in data]
    return data


def redact_object(obj):
    if not isinstance(obj, dict):
        return obj
    if obj.get('kind') == 'Secret':
        obj = copy.deepcopy(obj)
        for field in ('data', 'stringData'):
            if isinstance(obj.get(field), dict):
                obj[field] = dict((k, '<redacted sha256:%s>' % _digest(v)) for k, v in obj[field].items())
    return obj


# --------------------------------------------------------------------------- manifests

def object_key(obj):
    meta = obj.get('metadata') or {}
    ns = meta.get('namespace')
    name = meta.get('name', '')
    return '%s/%s' % (obj.get('kind', '?'), '%s/%s' % (ns, name) if ns else name)


def parse_manifests(text):
    """Rendered YAML stream -> {Kind/namespace/name: object}; comments and empty docs dropped."""
    if not HAS_YAML:
        raise HelmError('PyYAML is required to compare manifests')
    out = {}
    for doc in yaml.load_all(text or '', Loader=YAML_LOADER):
        if not isinstance(doc, dict) or not doc:
            continue
        if doc.get('kind') == 'List' and isinstance(doc.get('items'), list):
            for item in doc['items']:
                out[object_key(item)] = normalize(item)
            continue
        out[object_key(doc)] = normalize(doc)
    return out


def chart_labels(manifests):
    """helm.sh/chart and app.kubernetes.io/version of the first object carrying them
    (`helm status -o json` does not include the chart metadata)."""
    for _key, obj in sorted(manifests.items()):
        labels = (obj.get('metadata') or {}).get('labels') or {}
        if labels.get('helm.sh/chart'):
            return labels
    return {}


def compare(live, desired):
    """Compare a live release with the desired one.

    live: None (no release) or {'status', 'values', 'manifests'}; desired: {'values', 'manifests'}.
    Returns {'changed', 'reasons', 'added', 'removed', 'modified', 'values_changed'}."""
    desired_values = normalize(desired.get('values'))
    desired_objs = desired.get('manifests') or {}
    if live is None:
        return {'changed': True, 'reasons': ['release is not installed'],
                'added': sorted(desired_objs), 'removed': [], 'modified': [],
                'values_changed': bool(desired_values)}
    live_objs = live.get('manifests') or {}
    added = sorted(k for k in desired_objs if k not in live_objs)
    removed = sorted(k for k in live_objs if k not in desired_objs)
    modified = sorted(k for k in desired_objs if k in live_objs and desired_objs[k] != live_objs[k])
    values_changed = normalize(live.get('values')) != desired_values
    reasons = []
    if live.get('status') != 'deployed':
        reasons.append("release status is '%s', not 'deployed'" % live.get('status'))
    if values_changed:
        reasons.append('values differ')
    if added or removed or modified:
        reasons.append('rendered manifests differ (%d added, %d removed, %d modified)' % (
            len(added), len(removed), len(modified)))
    return {'changed': bool(reasons), 'reasons': reasons, 'added': added, 'removed': removed,
            'modified': modified, 'values_changed': values_changed}


def _dump(data):
    if HAS_YAML:
        return yaml.safe_dump(data, default_flow_style=False, sort_keys=True)
    return json.dumps(data, indent=2, sort_keys=True) + '\n'  # pragma: no cover


def make_diff(release, namespace, live, desired):
    """Ansible diff dict: before/after text of (redacted) values and manifests."""
    def side(state):
        if state is None:
            return ''
        return _dump({
            'values': redact_values(normalize(state.get('values'))),
            'manifests': dict((k, redact_object(v)) for k, v in sorted((state.get('manifests') or {}).items())),
        })
    return {
        'before_header': '%s/%s (live%s)' % (namespace, release,
                                             ', revision %s' % live.get('revision') if live else ': absent'),
        'after_header': '%s/%s (%s)' % (namespace, release, 'rendered' if desired is not None else 'absent'),
        'before': side(live),
        'after': side(desired),
    }


def chart_default_values(chart_path):
    path = os.path.join(chart_path, 'values.yaml')
    if not os.path.isfile(path):
        return {}
    with open(path) as fh:
        return yaml.safe_load(fh) or {}


# --------------------------------------------------------------------------- input digest

def input_digest(chart_path, values, release, namespace, helm=None):
    """sha256 of everything `helm template` output depends on here: every file of the chart
    (symlinked library chart included), the merged values, release, namespace and the helm
    binary (path, size, mtime). Equal digest => identical rendering."""
    h = hashlib.sha256()
    for part in (release, namespace, json.dumps(normalize(values), sort_keys=True)):
        h.update(part.encode('utf-8'))
        h.update(b'\0')
    if helm:
        try:
            st = os.stat(helm)
            h.update(('%s %d %d' % (os.path.realpath(helm), st.st_size, int(st.st_mtime))).encode('utf-8'))
        except OSError:
            h.update(str(helm).encode('utf-8'))
    files = []
    for root, dirs, names in os.walk(chart_path, followlinks=True):
        dirs.sort()
        for name in names:
            full = os.path.join(root, name)
            files.append((os.path.relpath(full, chart_path), full))
    for rel, full in sorted(files):
        h.update(rel.encode('utf-8'))
        h.update(b'\0')
        with open(full, 'rb') as fh:
            h.update(fh.read())
        h.update(b'\0')
    return h.hexdigest()


def digest_of(description):
    if description and description.startswith(DIGEST_PREFIX):
        return description[len(DIGEST_PREFIX):].strip()
    return None


def live_from_release(rel):
    """A release as `helm status -o json` prints it (or helm_store's status view of the stored
    release: the same keys) -> the `live` dict the manager compares. One function for both
    sources, so they cannot disagree."""
    info = rel.get('info') or {}
    manifests = parse_manifests(rel.get('manifest') or '')
    chart_meta = (rel.get('chart') or {}).get('metadata') or {}
    labels = chart_labels(manifests)
    return {
        'name': rel.get('name'),
        'namespace': rel.get('namespace'),
        'revision': rel.get('version'),
        'status': info.get('status'),
        'chart': ('%s-%s' % (chart_meta.get('name'), chart_meta.get('version')) if chart_meta
                  else labels.get('helm.sh/chart')),
        'app_version': chart_meta.get('appVersion') or labels.get('app.kubernetes.io/version'),
        'values': rel.get('config') or {},
        'manifests': manifests,
        'resources': info.get('resources'),
        'digest': digest_of(info.get('description')),
        'updated': info.get('last_deployed'),
    }


# --------------------------------------------------------------------------- kubeconfig

def kubeconfig_contexts(kubeconfig):
    path = kubeconfig or os.environ.get('KUBECONFIG', '').split(os.pathsep)[0] or os.path.expanduser('~/.kube/config')
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh) or {}
    except Exception:  # unreadable: the helm error says why
        return []
    return sorted(c.get('name') for c in data.get('contexts') or [] if c.get('name'))


def is_unreachable(stderr):
    low = (stderr or '').lower()
    return any(p in low for p in UNREACHABLE_PATTERNS)


def clean_stderr(stderr):
    """Drop helm's warnings about symlinked library charts from error text."""
    lines = [ln for ln in (stderr or '').splitlines()
             if 'found symbolic link in path' not in ln and ln.strip()]
    return '\n'.join(lines)


# --------------------------------------------------------------------------- upstream KFP

def build_upstream_chart(manifests_dir, workdir, name='kubeflow-pipelines-upstream', version='0.1.0'):
    """Wrap an offline kustomize output (directory of YAML files) into a throw-away chart:
    every CustomResourceDefinition goes to crds/ (helm installs those first and waits until
    they are Established), everything else is emitted verbatim through .Files.Get (no
    template parsing of upstream text). Returns the chart path."""
    if not os.path.isdir(manifests_dir):
        raise HelmError("manifests_dir '%s' is not a directory" % manifests_dir)
    files = []
    for root, _dirs, names in os.walk(manifests_dir):
        for fname in names:
            if fname.endswith(('.yaml', '.yml', '.json')):
                files.append(os.path.join(root, fname))
    files.sort()
    if not files:
        raise HelmError("manifests_dir '%s' holds no .yaml/.yml/.json file" % manifests_dir)
    crds, others = [], []
    for path in files:
        with open(path) as fh:
            for doc in yaml.safe_load_all(fh):
                if not isinstance(doc, dict) or not doc:
                    continue
                if doc.get('kind') == 'CustomResourceDefinition':
                    crds.append(doc)
                else:
                    others.append(doc)
    chart = os.path.join(workdir, name)
    if os.path.exists(chart):
        shutil.rmtree(chart)
    os.makedirs(os.path.join(chart, 'crds'))
    os.makedirs(os.path.join(chart, 'templates'))
    os.makedirs(os.path.join(chart, 'upstream'))
    with open(os.path.join(chart, 'Chart.yaml'), 'w') as fh:
        fh.write(_dump({'apiVersion': 'v2', 'name': name, 'version': version, 'type': 'application',
                        'description': 'Offline upstream Kubeflow Pipelines manifests'}))
    with open(os.path.join(chart, 'crds', 'crds.yaml'), 'w') as fh:
        fh.write(yaml.safe_dump_all(crds, sort_keys=True) if crds else '')
    for idx, doc in enumerate(others):
        with open(os.path.join(chart, 'upstream', '%04d.yaml' % idx), 'w') as fh:
            fh.write(_dump(doc))
    with open(os.path.join(chart, 'templates', 'upstream.yaml'), 'w') as fh:
        fh.write('{{- range $path, $_ := .Files.Glob "upstream/*.yaml" }}\n---\n'
                 '{{ $.Files.Get $path }}\n{{- end }}\n')
    return chart


# --------------------------------------------------------------------------- the manager

class ComponentManager(object):
    """Install/upgrade/remove/inspect catalog modules with helm.

    run: callable(argv) -> (rc, stdout, stderr)."""

    def __init__(self, run, helm='helm', charts_dir=None, kubeconfig=None, context=None,
                 tmpdir=None, check_mode=False, diff=False, release_store=None):
        self.run = run
        self.helm = helm
        self.charts_dir = charts_dir
        self.kubeconfig = kubeconfig
        self.context = context
        self.tmpdir = tmpdir
        self.check_mode = check_mode
        self.diff = diff
        self.timings = []  # (what, release, seconds) of every helm call, for profiling
        # release_store: object with releases(namespace) -> {release: status view or None}
        # (helm_store.ReleaseStore), raising on anything it cannot read exactly like helm
        self.release_store = release_store
        self.listed = {}  # namespace -> releases(namespace), while ensure_many plans
        self.list_fallbacks = {}  # namespace -> why helm status was used instead

    # -- helpers
    def _call(self, cmd, commands, what):
        commands.append(list(cmd))
        started = time.time()
        rc, out, err = self.run(cmd)
        self.timings.append((what, cmd[2] if len(cmd) > 2 else '', round(time.time() - started, 3)))
        if rc != 0 and is_unreachable(err):
            raise HelmError(self.unreachable_message(err), commands, err)
        return rc, out, err

    def unreachable_message(self, err):
        contexts = kubeconfig_contexts(self.kubeconfig)
        return ("cannot reach the Kubernetes API (context '%s', kubeconfig '%s'): %s; "
                "contexts in that kubeconfig: %s" % (
                    self.context or '(current)', self.kubeconfig or os.environ.get('KUBECONFIG', '~/.kube/config'),
                    clean_stderr(err), ', '.join(contexts) or '(none found)'))

    @staticmethod
    def namespace_of(spec):
        return spec.get('namespace') or 'hx-mlops'

    def resolve(self, spec):
        """Validate a component spec against the catalog and fill in defaults."""
        name, entry = catalog.lookup(spec['name'], spec.get('category'))
        out = dict(spec)
        out['name'] = name
        out['category'] = entry['category']
        out['release'] = spec.get('release') or entry['chart']
        out['namespace'] = self.namespace_of(spec)
        if spec.get('chart_path'):
            out['chart_path'] = spec['chart_path']
        else:
            if not self.charts_dir:
                raise HelmError('charts_path is not set (option charts_path or env HX_MLOPS_CHARTS_PATH)')
            out['chart_path'] = catalog.chart_path(self.charts_dir, name)
        if not os.path.isfile(os.path.join(out['chart_path'], 'Chart.yaml')):
            raise HelmError("chart of module '%s' not found at %s" % (name, out['chart_path']))
        return out

    def prefetch(self, namespaces):
        """Read every release of these namespaces at once (one API call each) for the planning
        phase. A namespace the store cannot read exactly like helm is left to `helm status`."""
        if self.release_store is None:
            return
        for ns in sorted(set(namespaces)):
            started = time.time()
            try:
                self.listed[ns] = self.release_store.releases(ns)
                what = 'list'
            except Exception as exc:  # pylint: disable=broad-except
                # Unsupported, or anything unexpected: helm status gives the exact answer
                self.list_fallbacks[ns] = '%s: %s' % (type(exc).__name__, exc)
                what = 'list-fallback'
            self.timings.append((what, ns, round(time.time() - started, 3)))

    def live(self, spec, commands, show_resources=False):
        """The deployed release, or None. From the prefetched namespace listing when there is
        one (not for show_resources: only helm adds the live objects), else one helm call:
        status -o json carries values and manifest."""
        listed = None if show_resources else self.listed.get(spec['namespace'])
        if listed is not None:
            if spec['release'] not in listed:
                return None  # the namespace's complete release store holds no revision of it
            if listed[spec['release']] is not None:
                return live_from_release(listed[spec['release']])
            # that release's latest revision could not be read exactly: ask helm
        cmd = cmd_status(self.helm, spec['release'], spec['namespace'], self.kubeconfig, self.context,
                         show_resources=show_resources)
        rc, out, err = self._call(cmd, commands, 'status')
        if rc == 0 and not (out or '').strip():
            # seen once under heavy load: exit 0 without output; ask again before failing
            rc, out, err = self._call(cmd, commands, 'status')
        if rc != 0:
            if any(p in (err or '').lower() for p in NOT_FOUND_PATTERNS):
                return None
            raise HelmError('helm status %s failed: %s' % (spec['release'], clean_stderr(err)), commands, err)
        try:
            rel = json.loads(out)
        except ValueError:
            raise HelmError('helm status %s did not return JSON (stdout %r, stderr %r)' % (
                spec['release'], (out or '')[:200], clean_stderr(err)[:200]), commands, err)
        return live_from_release(rel)

    def desired_values(self, spec):
        # secret_values (no_log in the modules) are merged last: same file, redacted in diffs
        merged = merge_values(load_values_files(spec.get('values_files')), spec.get('values'))
        return normalize(deep_merge(merged, spec.get('secret_values') or {}))

    def render(self, spec, values_file, commands):
        cmd = cmd_template(self.helm, spec['release'], spec['chart_path'], spec['namespace'], values_file)
        rc, out, err = self._call(cmd, commands, 'template')
        if rc != 0:
            raise HelmError(self.values_error(spec, err), commands, err)
        return parse_manifests(out)

    @staticmethod
    def values_error(spec, err):
        text = clean_stderr(err)
        if "don't meet the specifications of the schema" in text:
            detail = '; '.join(ln.strip(' -') for ln in text.splitlines()[1:] if ln.strip().startswith('-'))
            return "values for '%s' violate the chart's values.schema.json: %s" % (spec['name'], detail or text)
        m = re.search(r'execution error at \([^)]*\): (.*)', text)
        if m:
            return "invalid values for '%s': %s" % (spec['name'], m.group(1).strip())
        return "helm template of '%s' failed: %s" % (spec['name'], text)

    def _prepare_chart(self, spec, plan):
        if spec['name'] == 'kubeflow_pipelines' and spec.get('manifests_dir'):
            spec = dict(spec)
            spec['chart_path'] = build_upstream_chart(spec['manifests_dir'], self._workdir(plan))
        return spec

    def _workdir(self, plan):
        # created on first use: a no-op plan needs no temporary files at all
        if not plan.get('workdir'):
            plan['workdir'] = tempfile.mkdtemp(prefix='hx-component-', dir=self.tmpdir)
        return plan['workdir']

    def _values_file(self, plan):
        if not plan.get('values_file'):
            plan['values_file'] = write_values_file(plan['values'], self._workdir(plan))
        return plan['values_file']

    # -- plan (read-only) and apply, so several modules can be planned at once
    def plan(self, spec):
        """Read-only: resolve, read the live release, decide `changed`. Returns a plan dict
        holding the result and what `apply` needs (temporary files until `finish`)."""
        commands = []
        result = {'changed': False, 'commands': commands}
        spec = self.resolve(spec)
        result.update(self._identity(spec))
        plan = {'spec': spec, 'result': result, 'workdir': None}
        if spec.get('state', 'present') == 'absent':
            live = self.live(spec, commands)
            if live is not None:
                result['changed'] = True
                if self.diff:
                    result['diff'] = make_diff(spec['release'], spec['namespace'], live, None)
            return plan
        try:
            spec = plan['spec'] = self._prepare_chart(spec, plan)
            values = plan['values'] = self.desired_values(spec)
            digest = plan['digest'] = input_digest(spec['chart_path'], values, spec['release'],
                                                   spec['namespace'], self.helm)
            live = self.live(spec, commands)
            fast = spec.get('compare', 'digest') == 'digest'
            if fast and live is None and not self.check_mode and not self.diff:
                # nothing installed: the install is certain, and `helm upgrade --install` renders
                # and validates (schema, required values) itself - no separate render needed
                result['changes'] = {'changed': True, 'reasons': ['release is not installed'], 'added': [],
                                     'removed': [], 'modified': [], 'values_changed': bool(values),
                                     'method': 'install'}
                result['changed'] = True
                result['digest'] = digest
                result['images'] = catalog.images_from_values(
                    deep_merge(chart_default_values(spec['chart_path']), values),
                    (values.get('global') or {}).get('imageRegistry') or None)
                return plan
            if (fast and live is not None
                    and live['status'] == 'deployed' and live.get('digest') == digest):
                # deployed by this module from byte-identical chart files and values: rendering
                # again would give the live manifests, so `helm template` is skipped
                desired = {'values': values, 'manifests': live['manifests']}
                cmp_ = compare(live, desired)
                cmp_['method'] = 'digest'
            else:
                desired = {'values': values, 'manifests': self.render(spec, self._values_file(plan), commands)}
                cmp_ = compare(live, desired)
                cmp_['method'] = 'render'
            result['changes'] = cmp_
            result['changed'] = cmp_['changed']
            result['digest'] = digest
            result['images'] = catalog.images_from_manifests(desired['manifests'].values())
            if self.diff:
                result['diff'] = make_diff(spec['release'], spec['namespace'], live, desired)
            if live is not None:
                result['revision'] = live['revision']
                result['status'] = live['status']
            return plan
        except Exception:
            self.finish(plan)
            raise

    def apply(self, plan):
        """Act on a plan (outside check mode, only when it changes something)."""
        spec, result = plan['spec'], plan['result']
        commands = result['commands']
        if not result['changed'] or self.check_mode:
            return result
        if spec.get('state', 'present') == 'absent':
            cmd = cmd_uninstall(self.helm, spec['release'], spec['namespace'], wait=spec.get('wait', True),
                                timeout=spec.get('timeout', 300), kubeconfig=self.kubeconfig, context=self.context)
            rc, _out, err = self._call(cmd, commands, 'uninstall')
            if rc != 0:
                raise HelmError("helm uninstall of '%s' failed: %s" % (spec['name'], clean_stderr(err)), commands, err)
            return result
        cmd = cmd_upgrade(self.helm, spec['release'], spec['chart_path'], spec['namespace'], self._values_file(plan),
                          wait=spec.get('wait', True), timeout=spec.get('timeout', 300),
                          atomic=spec.get('atomic', False), kubeconfig=self.kubeconfig, context=self.context,
                          digest=plan['digest'])
        rc, out, err = self._call(cmd, commands, 'upgrade')
        if rc != 0 and ("don't meet the specifications of the schema" in err or 'execution error at' in err):
            raise HelmError(self.values_error(spec, err), commands, err)
        if rc != 0:
            msg = "helm upgrade --install of '%s' failed" % spec['name']
            if spec.get('atomic'):
                msg += ' (atomic: the release was rolled back)'
            raise HelmError('%s: %s' % (msg, clean_stderr(err)), commands, err)
        try:
            rel = json.loads(out)
            result['revision'] = rel.get('version')
            result['status'] = (rel.get('info') or {}).get('status')
        except ValueError:
            pass
        return result

    @staticmethod
    def finish(plan):
        if plan.get('workdir'):
            shutil.rmtree(plan['workdir'], ignore_errors=True)
            plan['workdir'] = None
            plan['values_file'] = None

    def ensure(self, spec):
        plan = self.plan(spec)
        try:
            return self.apply(plan)
        finally:
            self.finish(plan)

    def present(self, spec):
        return self.ensure(dict(spec, state='present'))

    def absent(self, spec):
        return self.ensure(dict(spec, state='absent'))

    # -- status (component_info)
    def status(self, spec):
        commands = []
        spec = self.resolve(spec)
        live = self.live(spec, commands, show_resources=True)
        out = self._identity(spec)
        out['commands'] = commands
        if live is None:
            out.update({'installed': False, 'ready': False, 'workloads': []})
            return out
        workloads = workloads_from_resources(live.get('resources'))
        out.update({
            'installed': True,
            'revision': live['revision'],
            'status': live['status'],
            'chart': live['chart'],
            'app_version': live['app_version'],
            'updated': live['updated'],
            'workloads': workloads,
            'ready': live['status'] == 'deployed' and all(w['ready'] for w in workloads),
        })
        return out

    @staticmethod
    def _identity(spec):
        return {'name': spec['name'], 'category': spec['category'], 'release': spec['release'],
                'namespace': spec['namespace'], 'chart_path': spec['chart_path']}

    # -- several components, by dependency level, each level concurrently
    def ensure_many(self, specs, parallel=4):
        """Returns (results in request order, failed: bool).

        Phase 1 plans every module at once (read-only: live release, digest or render), so a
        no-op run costs one parallel round whatever the dependency depth, and any planning
        error stops the run before anything changes. Phase 2 applies the modules that change:
        removals first (dependents before their dependencies), then installs/upgrades, each
        starting as soon as its own dependencies are done; nothing new starts after a failure.
        `level` in each result is the module's dependency level."""
        from concurrent.futures import ThreadPoolExecutor
        by_name = {}
        for spec in specs:
            name, _entry = catalog.lookup(spec['name'], spec.get('category'))
            if name in by_name:
                raise HelmError("module '%s' is listed twice" % name)
            by_name[name] = spec
        present = [n for n in by_name if by_name[n].get('state', 'present') != 'absent']
        absent = [n for n in by_name if by_name[n].get('state', 'present') == 'absent']
        levels = catalog.removal_levels(absent) + catalog.dependency_levels(present)
        level_of = dict((n, i) for i, level in enumerate(levels) for n in level)
        workers = max(1, min(int(parallel or 1), len(by_name) or 1))
        results = {}
        plans = {}
        failed = False
        try:
            # the live releases of each namespace in one read, instead of one helm process each
            self.prefetch(self.namespace_of(s) for s in by_name.values())
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = dict((n, pool.submit(self._safe, self.plan, by_name[n])) for n in by_name)
                for name, fut in futures.items():
                    ok, value = fut.result()
                    if ok:
                        plans[name] = value
                    else:
                        results[name] = dict(value, name=name)
                        failed = True
            self.listed = {}  # planning is over: later reads must see the cluster again
            if not failed:
                # removals: dependents before their dependencies; then installs/upgrades:
                # each module starts as soon as the modules it depends on are done (a DAG,
                # not whole levels), up to `workers` at once
                removal = [n for n in plans if by_name[n].get('state', 'present') == 'absent']
                install = [n for n in plans if n not in removal]
                failed = self._run_dag(removal, self._reverse_deps(removal), plans, results, workers)
                if not failed:
                    failed = self._run_dag(install, self._deps(install), plans, results, workers)
            for name in plans:
                if name not in results:
                    results[name] = dict(plans[name]['result'], skipped=True, changed=False,
                                         msg='not run: another module failed')
        finally:
            self.listed = {}
            for plan in plans.values():
                self.finish(plan)
        for name, res in results.items():
            res['level'] = level_of.get(name)
        ordered = [results[catalog.canonical_name(s['name'])] for s in specs]
        return ordered, failed

    @staticmethod
    def _deps(names):
        wanted = set(names)
        return dict((n, [d for d in catalog.CATALOG[n]['depends_on'] if d in wanted]) for n in names)

    @staticmethod
    def _reverse_deps(names):
        wanted = set(names)
        rev = dict((n, []) for n in names)
        for n in names:
            for d in catalog.CATALOG[n]['depends_on']:
                if d in wanted:
                    rev[d].append(n)
        return rev

    def _run_dag(self, names, deps, plans, results, workers):
        """Apply plans of `names`, each once its deps are done. Returns True when one failed;
        nothing new starts after a failure."""
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
        pending = list(names)
        done = set()
        running = {}
        failed = False
        if not pending:
            return False
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(pending)))) as pool:
            while pending or running:
                if not failed:
                    for name in [n for n in pending if all(d in done for d in deps[n])]:
                        running[pool.submit(self._safe, self.apply, plans[name])] = name
                        pending.remove(name)
                if not running:
                    break
                finished, _rest = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in finished:
                    name = running.pop(fut)
                    ok, value = fut.result()
                    if ok:
                        results[name] = value
                        done.add(name)
                    else:
                        results[name] = dict(plans[name]['result'], **value)
                        failed = True
        return failed

    @staticmethod
    def _safe(func, arg):
        try:
            return True, func(arg)
        except (HelmError, catalog.CatalogError) as exc:
            return False, {'failed': True, 'changed': False, 'msg': str(exc),
                           'commands': getattr(exc, 'commands', [])}
        except Exception as exc:  # pylint: disable=broad-except
            # one module's unexpected error must not hide the others' results
            return False, {'failed': True, 'changed': False, 'commands': [],
                           'msg': 'unexpected %s: %s' % (type(exc).__name__, exc)}


def workloads_from_resources(resources):
    """`helm status --show-resources -o json` resources -> [{kind, name, ready, desired, available}]."""
    out = []
    for _gvk, objs in sorted((resources or {}).items()):
        for obj in objs or []:
            kind = obj.get('kind')
            if kind not in ('Deployment', 'StatefulSet', 'DaemonSet'):
                continue
            out.append(workload_readiness(obj))
    return out


def workload_readiness(obj):
    kind = obj.get('kind')
    spec = obj.get('spec') or {}
    st = obj.get('status') or {}
    if kind == 'DaemonSet':
        desired = st.get('desiredNumberScheduled', 0)
        ready = st.get('numberReady', 0)
    else:
        desired = spec.get('replicas', 1)
        ready = st.get('readyReplicas', 0)
    generation_ok = st.get('observedGeneration', 0) >= (obj.get('metadata') or {}).get('generation', 0)
    return {
        'kind': kind,
        'name': (obj.get('metadata') or {}).get('name'),
        'desired': desired,
        'ready_replicas': ready,
        'ready': bool(generation_ok and ready >= desired),
    }


# --------------------------------------------------------------------------- module glue

def auth_argument_spec():
    """Options of the hx.mlops.k8s_auth doc fragment."""
    from ansible.module_utils.basic import env_fallback
    return dict(
        kubeconfig=dict(type='path', fallback=(env_fallback, ['K8S_AUTH_KUBECONFIG', 'KUBECONFIG'])),
        context=dict(type='str', fallback=(env_fallback, ['K8S_AUTH_CONTEXT'])),
        helm_binary=dict(type='path'),
        charts_path=dict(type='path', fallback=(env_fallback, ['HX_MLOPS_CHARTS_PATH'])),
    )


def find_charts_path(explicit=None, start=None):
    """The catalog charts directory: explicit option, else charts/ found upwards from the
    working directory, else the usual collection install locations."""
    if explicit:
        return explicit
    here = os.path.abspath(start or os.getcwd())
    while True:
        cand = os.path.join(here, 'charts')
        if os.path.isfile(os.path.join(cand, 'hx-common', 'Chart.yaml')):
            return cand
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    for base in ('~/.ansible/collections', '/usr/share/ansible/collections'):
        cand = os.path.join(os.path.expanduser(base), 'ansible_collections', 'hx', 'mlops', 'charts')
        if os.path.isdir(cand):
            return cand
    return None


def manager_from_module(module):
    """Build a ComponentManager from an AnsibleModule using the k8s_auth options."""
    p = module.params
    helm = p.get('helm_binary') or module.get_bin_path(
        'helm', required=True, opt_dirs=[os.path.expanduser('~/.cache/hx-mlops/tools/bin')])
    kubeconfig = p.get('kubeconfig')
    if kubeconfig and not os.path.isfile(kubeconfig):
        module.fail_json(msg="kubeconfig '%s' does not exist" % kubeconfig)

    def run(cmd):
        return module.run_command(cmd, expand_user_and_vars=False)

    return ComponentManager(
        run, helm=helm, charts_dir=find_charts_path(p.get('charts_path')), kubeconfig=kubeconfig,
        context=p.get('context'), tmpdir=module.tmpdir, check_mode=module.check_mode,
        diff=module._diff,
        release_store=helm_store.ReleaseStore(kubeconfig, p.get('context'), tmpdir=module.tmpdir))
