# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HX-MLOps maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Logic of hx.mlops.stage / stage_info: command lines, report parsing, Job manifests and the
Kubernetes calls. Pure functions first; the kubernetes client is imported only in job mode."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re
import time

STAGES = ('datagen', 'anonymize', 'encrypt', 'decrypt', 'validate', 'train', 'test')
ARCHES = ('amd64', 'arm64')
EDGE_TOLERATION = {'key': 'hx.mlops/edge', 'operator': 'Equal', 'value': 'true', 'effect': 'NoSchedule'}
RUNS_MOUNT = '/var/lib/hx-stages/runs'
TMP_MOUNT = '/tmp'  # noqa: S108 - an emptyDir mounted in the pod, not a host temp file
MANAGED_LABELS = {'app.kubernetes.io/managed-by': 'hx.mlops', 'app.kubernetes.io/component': 'stage'}
# Options the module sets itself; passing them in args would make the run key lie.
RESERVED_ARGS = ('--runs-dir', '--plan', '--force', '--domain')
EXIT_GATE_FAILED = 1


class StageModuleError(Exception):
    def __init__(self, msg, **details):
        super(StageModuleError, self).__init__(msg)
        self.msg = msg
        self.details = details


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(',', ':'))


def check_args(stage, args, secret_values=()):
    """Reject a stage name not in STAGES, reserved options, and any secret value found in argv."""
    if stage not in STAGES:
        raise StageModuleError('unknown stage %r; valid: %s' % (stage, ', '.join(STAGES)))
    for a in args:
        if not isinstance(a, str):
            raise StageModuleError('args must be strings, got %r' % (a,))
        if a.split('=', 1)[0] in RESERVED_ARGS:
            raise StageModuleError('%s is set by the module (options runs_dir, force, domain); remove it from args'
                                   % a.split('=', 1)[0])
    for value in secret_values:
        if value and any(value in a for a in args):
            raise StageModuleError('a secret_env value appears in args: secrets go through the environment only')


def local_command(stage, args, executable=None, python=None, runs_dir=None, domain=None, force=False, plan=False):
    """The argument list that runs one stage as a local process."""
    if python:
        cmd = [python, '-m', 'hx_stages']
    elif executable:
        cmd = [executable]
    else:
        raise StageModuleError('either executable or python is required for mode=local')
    cmd.append(stage)
    cmd.extend(args)
    if runs_dir:
        cmd.extend(['--runs-dir', runs_dir])
    if domain:
        cmd.extend(['--domain', domain])
    if force:
        cmd.append('--force')
    if plan:
        cmd.append('--plan')
    return cmd


def local_env(env=None, secret_env=None):
    out = {}
    for source in (env or {}, secret_env or {}):
        for k, v in source.items():
            if not re.match(r'^[A-Za-z_][A-Za-z0-9_]*$', str(k)):
                raise StageModuleError('invalid environment variable name %r' % (k,))
            out[str(k)] = '' if v is None else str(v)
    return out


def parse_report(stdout):
    """The stage's report is the last line of stdout that is a JSON object."""
    for line in reversed((stdout or '').splitlines()):
        line = line.strip()
        if not line.startswith('{'):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def run_local(run_command, cmd, env):
    """run_command is AnsibleModule.run_command. Returns (rc, report, stderr)."""
    rc, out, err = run_command(cmd, environ_update=env)
    report = parse_report(out)
    if report is None:
        raise StageModuleError('stage printed no JSON report (rc=%s)' % rc, rc=rc, stdout=out, stderr=err, cmd=cmd)
    return rc, report, err


def gate_message(report):
    res = report.get('result') or {}
    if res.get('message'):
        return res['message']
    failed = res.get('failed') or []
    parts = []
    for f in failed[:10]:
        parts.append('%s %s' % (f.get('check', f.get('metric')), f.get('column') or ''))
    return 'failed checks: ' + ', '.join(p.strip() for p in parts) if parts else 'stage check failed'


# ------------------------------------------------------------------------------- local runs dir

def list_local_runs(runs_dir, stage=None, run_key=None):
    """Complete runs (directories with the COMPLETE marker) under runs_dir, oldest first."""
    runs = []
    if not runs_dir or not os.path.isdir(runs_dir):
        return runs
    for name in sorted(os.listdir(runs_dir)):
        m = re.match(r'^([a-z]+)-([0-9a-f]{64})$', name)
        if not m:
            continue
        if stage and m.group(1) != stage:
            continue
        if run_key and not m.group(2).startswith(run_key):
            continue
        d = os.path.join(runs_dir, name)
        if not os.path.isfile(os.path.join(d, 'COMPLETE')):
            continue
        try:
            with open(os.path.join(d, 'report.json')) as f:
                report = json.load(f)
        except (IOError, OSError, ValueError):
            continue
        runs.append(report)
    runs.sort(key=lambda r: r.get('finished_at', ''))
    return runs


# ------------------------------------------------------------------------------- Job mode

def job_key(stage, args, image, arch, edge_capable, env, secret_name, secret_env_refs, domain):
    """Identity of a Job run: the stage, its arguments (input references, parameters), the image
    and the environment it gets. Same key -> same Job name -> not run again."""
    doc = {'stage': stage, 'args': list(args), 'image': image, 'arch': arch, 'edge': bool(edge_capable),
           'env': dict(env or {}), 'secret': secret_name,
           'secret_env': sorted((r['env'], r['secret'], r['key']) for r in (secret_env_refs or [])),
           'domain': domain}
    return hashlib.sha256(canonical_json(doc).encode('utf-8')).hexdigest()


def job_name(stage, key, prefix='hx-stage'):
    name = '%s-%s-%s' % (prefix, stage, key[:12])
    if len(name) > 63 or not re.match(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', name):
        raise StageModuleError('invalid Job name %r (prefix must be lowercase DNS-1123, name <= 63 chars)' % name)
    return name


def job_manifest(name, namespace, stage, args, image, key, arch='amd64', edge_capable=False, env=None,
                 secret_name=None, secret_env_refs=None, domain=None, pull_policy='IfNotPresent', backoff_limit=0,
                 active_deadline_seconds=None, ttl_seconds_after_finished=None, service_account=None,
                 runs_claim=None, resources=None):
    if arch not in ARCHES:
        raise StageModuleError('arch %r invalid; valid: %s' % (arch, ', '.join(ARCHES)))
    labels = dict(MANAGED_LABELS)
    labels.update({'hx.mlops/stage': stage, 'hx.mlops/run-key': key[:40]})
    if domain:
        labels['hx.mlops/domain'] = domain
    container_env = [{'name': 'HX_STAGE_RUNS_DIR', 'value': RUNS_MOUNT}]
    if domain:
        container_env.append({'name': 'HX_DOMAIN', 'value': domain})
    for k in sorted(env or {}):
        container_env.append({'name': k, 'value': str(env[k])})
    for ref in secret_env_refs or []:
        container_env.append({'name': ref['env'],
                              'valueFrom': {'secretKeyRef': {'name': ref['secret'], 'key': ref['key']}}})
    container = {
        'name': 'stage',
        'image': image,
        'imagePullPolicy': pull_policy,
        'args': [stage] + list(args),
        'env': container_env,
        'volumeMounts': [{'name': 'runs', 'mountPath': RUNS_MOUNT}, {'name': 'tmp', 'mountPath': TMP_MOUNT}],
        'securityContext': {'allowPrivilegeEscalation': False, 'readOnlyRootFilesystem': True,
                            'runAsNonRoot': True, 'capabilities': {'drop': ['ALL']}},
    }
    if secret_name:
        container['envFrom'] = [{'secretRef': {'name': secret_name}}]
    if resources:
        container['resources'] = resources
    runs_volume = ({'name': 'runs', 'persistentVolumeClaim': {'claimName': runs_claim}} if runs_claim
                   else {'name': 'runs', 'emptyDir': {}})
    pod_spec = {
        'restartPolicy': 'Never',
        'nodeSelector': {'kubernetes.io/arch': arch},
        'containers': [container],
        'volumes': [runs_volume, {'name': 'tmp', 'emptyDir': {}}],
        'securityContext': {'seccompProfile': {'type': 'RuntimeDefault'}},
    }
    if edge_capable:
        # only stages marked edge-capable may land on tainted edge nodes
        pod_spec['tolerations'] = [dict(EDGE_TOLERATION)]
    if service_account:
        pod_spec['serviceAccountName'] = service_account
    spec = {'backoffLimit': backoff_limit, 'template': {'metadata': {'labels': labels}, 'spec': pod_spec}}
    if active_deadline_seconds:
        spec['activeDeadlineSeconds'] = active_deadline_seconds
    if ttl_seconds_after_finished is not None:
        spec['ttlSecondsAfterFinished'] = ttl_seconds_after_finished
    return {'apiVersion': 'batch/v1', 'kind': 'Job',
            'metadata': {'name': name, 'namespace': namespace, 'labels': labels,
                         'annotations': {'hx.mlops/run-key': key}},
            'spec': spec}


def job_state(job):
    """absent | running | succeeded | failed, from a Job as a dict."""
    if not job:
        return 'absent'
    status = job.get('status') or {}
    for cond in status.get('conditions') or []:
        if cond.get('status') == 'True' and cond.get('type') in ('Complete', 'SuccessCriteriaMet'):
            return 'succeeded'
        if cond.get('status') == 'True' and cond.get('type') in ('Failed', 'FailureTarget'):
            return 'failed'
    if (status.get('succeeded') or 0) >= 1:
        return 'succeeded'
    return 'running'


class KubeJobs(object):
    """Thin wrapper over the kubernetes python client for Jobs and their pod logs."""

    def __init__(self, kubeconfig=None, context=None):
        try:
            from kubernetes import client, config
            from kubernetes.client.rest import ApiException
        except ImportError:
            raise StageModuleError('mode=job needs the kubernetes python package on the controller') from None
        self.ApiException = ApiException
        try:
            if kubeconfig or context or not os.environ.get('KUBERNETES_SERVICE_HOST'):
                config.load_kube_config(config_file=kubeconfig, context=context)
            else:
                config.load_incluster_config()
        except Exception as e:  # config raises several unrelated types
            raise StageModuleError('cannot load Kubernetes configuration (kubeconfig=%s, context=%s): %s'
                                   % (kubeconfig, context, e)) from None
        self.api_client = client.ApiClient()
        self.batch = client.BatchV1Api(self.api_client)
        self.core = client.CoreV1Api(self.api_client)

    def _dict(self, obj):
        return self.api_client.sanitize_for_serialization(obj)

    def get(self, namespace, name):
        try:
            return self._dict(self.batch.read_namespaced_job(name, namespace))
        except self.ApiException as e:
            if e.status == 404:
                return None
            raise StageModuleError('reading Job %s/%s failed: %s %s' % (namespace, name, e.status, e.reason)) from None

    def create(self, manifest):
        ns = manifest['metadata']['namespace']
        try:
            return self._dict(self.batch.create_namespaced_job(ns, manifest))
        except self.ApiException as e:
            if e.status == 409:
                return self.get(ns, manifest['metadata']['name'])
            name = manifest['metadata']['name']
            raise StageModuleError('creating Job %s/%s failed: %s %s'
                                   % (ns, name, e.status, e.body or e.reason)) from None

    def delete(self, namespace, name):
        try:
            self.batch.delete_namespaced_job(name, namespace, propagation_policy='Foreground')
        except self.ApiException as e:
            if e.status != 404:
                raise StageModuleError('deleting Job %s/%s failed: %s' % (namespace, name, e.reason)) from None
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.get(namespace, name) is None:
                return
            time.sleep(1)
        raise StageModuleError('Job %s/%s still present after delete' % (namespace, name))

    def wait(self, namespace, name, timeout, poll=2):
        deadline = time.time() + timeout
        while True:
            job = self.get(namespace, name)
            state = job_state(job)
            if state in ('succeeded', 'failed', 'absent'):
                return state, job
            if time.time() >= deadline:
                return 'timeout', job
            time.sleep(poll)

    def log(self, namespace, name):
        try:
            pods = self.core.list_namespaced_pod(namespace, label_selector='job-name=%s' % name).items
        except self.ApiException as e:
            raise StageModuleError('listing pods of Job %s/%s failed: %s' % (namespace, name, e.reason)) from None
        if not pods:
            return None
        pods.sort(key=lambda p: p.metadata.creation_timestamp)
        try:
            return self.core.read_namespaced_pod_log(pods[-1].metadata.name, namespace, container='stage')
        except self.ApiException as e:
            raise StageModuleError('reading the log of %s failed: %s' % (pods[-1].metadata.name, e.reason)) from None

    def list(self, namespace, stage=None):
        selector = ','.join('%s=%s' % kv for kv in sorted(MANAGED_LABELS.items()))
        if stage:
            selector += ',hx.mlops/stage=%s' % stage
        try:
            items = self.batch.list_namespaced_job(namespace, label_selector=selector).items
        except self.ApiException as e:
            raise StageModuleError('listing Jobs in %s failed: %s' % (namespace, e.reason)) from None
        return [self._dict(j) for j in items]
