#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HX-MLOps maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: stage
short_description: Run an HX-MLOps stage (anonymize, encrypt, decrypt, validate, train, test, datagen) once per run key
version_added: "0.1.0"
description:
  - Runs one stage of the C(hx_stages) package (console script C(hx-stage)) and returns its JSON report,
    including CPU time and energy (measured from RAPL or estimated from a power model).
  - O(mode=local) runs the stage as a local process with an argument list. The stage itself is idempotent by
    run key (sha256 of stage, input digests and parameters); a second run with the same inputs and parameters
    does not recompute and reports C(changed=false).
  - O(mode=job) renders a Kubernetes Job (image, args, environment from Secrets, C(kubernetes.io/arch)
    nodeSelector, the edge toleration only for edge-capable stages), applies it with the kubernetes python
    client, waits for it and reads the report from the last JSON line of the pod log. The Job name carries a
    key over stage, args, image, placement and environment; an existing succeeded Job with that key is not
    run again.
  - Secrets (keys, tokens) are passed through the environment (O(secret_env), O(secret_name),
    O(secret_env_refs)), never on the command line.
author:
  - HX-MLOps maintainers (@hx-mlops)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - O(mode=local) runs C(hx-stage ... --plan), which computes the run key from the inputs and predicts
        whether the stage would run, without computing or writing anything.
      - O(mode=job) looks the Job up and predicts whether it would be created.
  diff_mode:
    description:
      - Will return details on what has changed (or possibly needs changing in check_mode), when in
        diff mode.
    support: partial
    details: Returns before/after of the run's completion state for its run key.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation
        indicates no change.
    support: full
    details: Same inputs and parameters give the same run key; that run is not repeated.
options:
  stage:
    description: The stage to run.
    type: str
    required: true
    choices: [datagen, anonymize, encrypt, decrypt, validate, train, test]
  args:
    description:
      - Arguments after the stage name, as a list, for example C([--input, /data/kpi.csv, --columns, "imsi,msisdn"]).
      - Inputs are local paths or sharing references C(dataset:<id>[@version]), C(model:<id>[@version]).
      - Never put key material here; C(--runs-dir), C(--domain), C(--force), C(--plan) are set by the module.
    type: list
    elements: str
    default: []
  mode:
    description: Run as a local process or as a Kubernetes Job.
    type: str
    choices: [local, job]
    default: local
  executable:
    description:
      - Path to C(hx-stage) for O(mode=local). Defaults to C(hx-stage) on E(PATH).
      - Ignored when O(python) is set.
    type: path
  python:
    description: Python interpreter that has C(hx_stages) installed; runs C(python -m hx_stages).
    type: path
  runs_dir:
    description:
      - Directory of the stage's run directories (O(mode=local)); the run key is looked up there.
      - Defaults to E(HX_STAGE_RUNS_DIR) of the stage process, else C(.hx-stage-runs) in its working directory.
    type: path
  domain:
    description: Domain label for metrics, reports and artifact metadata, for example C(mno-staging).
    type: str
  env:
    description: Extra environment for the stage, for example C(HX_STAGE_METRICS_DIR) or C(HX_DATASET_API_URL).
    type: dict
    default: {}
  secret_env:
    description:
      - Secret environment for O(mode=local), for example C(HX_STAGE_KEY) or C(HX_SHARING_TOKEN). Never logged.
      - For O(mode=job) use O(secret_name) or O(secret_env_refs) instead.
    type: dict
    default: {}
  force:
    description: Run again even if a complete run with the same key exists (O(mode=job) deletes the old Job).
    type: bool
    default: false
  fail_on_gate:
    description: Fail the task when the stage ran but its check failed (validate failed, a test threshold missed).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for the stage (O(mode=job) also sets the Job's activeDeadlineSeconds).
    type: int
    default: 3600
  image:
    description: Container image whose entrypoint is C(hx-stage) (O(mode=job)).
    type: str
  namespace:
    description: Namespace of the Job.
    type: str
    default: hx-mlops
  kubeconfig:
    description: Kubeconfig for O(mode=job); defaults to E(KUBECONFIG) or in-cluster configuration.
    type: path
  context:
    description: Kubernetes context of the domain, for example C(hx-mno-prod).
    type: str
  arch:
    description: CPU architecture the Job must run on (nodeSelector C(kubernetes.io/arch)).
    type: str
    choices: [amd64, arm64]
    default: amd64
  edge_capable:
    description:
      - The stage may run on edge nodes. Only then the Job tolerates the C(hx.mlops/edge=true:NoSchedule) taint.
    type: bool
    default: false
  secret_name:
    description: Secret whose keys become environment variables of the Job (envFrom), for example C(HX_STAGE_KEY).
    type: str
  secret_env_refs:
    description: Single environment variables taken from Secret keys.
    type: list
    elements: dict
    default: []
    suboptions:
      env:
        description: Environment variable name.
        type: str
        required: true
      secret:
        description: Secret name.
        type: str
        required: true
      key:
        description: Key in the Secret.
        type: str
        required: true
  runs_claim:
    description: PersistentVolumeClaim mounted as the stage's runs directory, so that runs survive the Job.
    type: str
  service_account:
    description: Service account of the Job's pod.
    type: str
  pull_policy:
    description: imagePullPolicy of the container.
    type: str
    choices: [Always, IfNotPresent, Never]
    default: IfNotPresent
  backoff_limit:
    description: Retries of a failed pod; stages are deterministic, so the default is no retry.
    type: int
    default: 0
  ttl_seconds_after_finished:
    description: Let Kubernetes delete the finished Job; the next run with the same key then runs again.
    type: int
  resources:
    description: Container resources (requests/limits).
    type: dict
  job_name_prefix:
    description: Prefix of the Job name.
    type: str
    default: hx-stage
notes:
  - Exit codes of C(hx-stage) are 0 (passed), 1 (the stage's check failed), 2 (error); the report is the last
    line of stdout in every case.
  - In O(mode=job), inputs given as sharing references with C(@latest) resolve at run time; the Job key only
    sees the reference, so pin versions for exact idempotence, or mount O(runs_claim) so the stage's own
    content-based run key applies.
seealso:
  - module: hx.mlops.stage_info
'''

EXAMPLES = r'''
- name: Generate a synthetic KPI dataset
  hx.mlops.stage:
    stage: datagen
    args: [--rows, "2000", --seed, "1", --output, /srv/hx/data/kpi.csv]
    runs_dir: /srv/hx/runs
    domain: vendor

- name: Pseudonymise subscriber and cell identifiers
  hx.mlops.stage:
    stage: anonymize
    args: [--input, /srv/hx/data/kpi.csv, --columns, "imsi,msisdn,cell_id", --output, /srv/hx/data/kpi.anon.csv]
    runs_dir: /srv/hx/runs
    domain: vendor
    secret_env:
      HX_STAGE_KEY: "{{ lookup('ansible.builtin.file', hx_credentials_dir ~ '/anonymize.key') }}"

- name: Gate a model on held-out data
  hx.mlops.stage:
    stage: test
    args: [--model, /srv/hx/models/model.skops, --input, /srv/hx/data/holdout.csv, --min, r2=0.8, --max, mae=10]
    runs_dir: /srv/hx/runs
  register: gate

- name: Validate on an arm64 edge node as a Job
  hx.mlops.stage:
    mode: job
    stage: validate
    image: localhost/hx-stages:0.1.0
    args: [--input, "dataset:12@1.0.0", --schema, builtin:telco-kpi]
    arch: arm64
    edge_capable: true
    context: hx-mno-prod
    domain: mno-prod
    env:
      HX_DATASET_API_URL: http://datasetsharing.hx-mlops.svc:8000
    secret_name: hx-stage-credentials
'''

RETURN = r'''
changed:
  description: Whether the stage ran (or, in check mode, would run) or an output was (re)written.
  returned: always
  type: bool
report:
  description:
    - The stage's JSON report - run_key, inputs with digests, params, result, outputs with sha256 and metadata
      paths, energy (method measured/estimated, joules, cpu_seconds, duration_seconds, power model), changed,
      cached, passed.
    - In check mode, the plan (run_key, would_run, and the stored report if the run exists).
  returned: always
  type: dict
  sample:
    stage: train
    run_key: 5e0c...
    changed: true
    cached: false
    passed: true
    result: {metrics: {r2: 0.95, mae: 8.1, rmse: 17.3}}
    energy: {method: estimated, joules: 0.97, cpu_seconds: 0.28, duration_seconds: 0.7}
run_key:
  description: Run key (O(mode=local)) or Job key (O(mode=job)).
  returned: always
  type: str
would_run:
  description: Whether the stage would be (or was) computed.
  returned: always
  type: bool
energy:
  description: The energy record of the run (absent in check mode for a run that does not exist yet).
  returned: when available
  type: dict
cmd:
  description: The command that ran (O(mode=local)); secrets are not part of it.
  returned: mode=local
  type: list
  elements: str
job:
  description: Name, namespace, state and the rendered manifest of the Job (O(mode=job)).
  returned: mode=job
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 - after the documentation, as Ansible modules are laid out
from ansible_collections.hx.mlops.plugins.module_utils import stage as st  # noqa: E402


def _local(module):
    p = module.params
    secret_env = p['secret_env'] or {}
    st.check_args(p['stage'], p['args'], [str(v) for v in secret_env.values()])
    executable = p['executable']
    if not p['python'] and not executable:
        executable = module.get_bin_path('hx-stage', required=True)
    env = st.local_env(p['env'], secret_env)
    cmd = st.local_command(p['stage'], p['args'], executable, p['python'], p['runs_dir'], p['domain'], p['force'],
                           plan=module.check_mode)
    rc, report, err = st.run_local(module.run_command, cmd, env)
    if report.get('failed') or rc not in (0, st.EXIT_GATE_FAILED):
        module.fail_json(msg='stage %s failed: %s' % (p['stage'], report.get('error', err)), changed=False,
                         report=report, cmd=cmd)
    if module.check_mode:
        # the plan: run key, whether the stage would run, and the stored report if the run exists
        would_run = bool(report['would_run'])
        stored = report.get('stored_report') or {}
        complete_before = not would_run
    else:
        would_run = not report.get('cached', False)
        stored = report
        complete_before = bool(report.get('cached'))
    result = {'run_key': report['run_key'], 'would_run': would_run, 'report': report, 'cmd': cmd,
              'diff': {'before': {'run_key': report['run_key'], 'complete': complete_before},
                       'after': {'run_key': report['run_key'], 'complete': True}}}
    if stored.get('energy'):
        result['energy'] = stored['energy']
    changed = bool(report.get('changed'))
    if not module.check_mode and rc == st.EXIT_GATE_FAILED and p['fail_on_gate']:
        module.fail_json(msg='stage %s check failed: %s' % (p['stage'], st.gate_message(report)), changed=changed,
                         **result)
    module.exit_json(changed=changed, **result)


def _job(module):
    p = module.params
    if not p['image']:
        module.fail_json(msg='mode=job needs image')
    st.check_args(p['stage'], p['args'])
    key = st.job_key(p['stage'], p['args'], p['image'], p['arch'], p['edge_capable'], p['env'], p['secret_name'],
                     p['secret_env_refs'], p['domain'])
    name = st.job_name(p['stage'], key, p['job_name_prefix'])
    manifest = st.job_manifest(
        name, p['namespace'], p['stage'], p['args'], p['image'], key, arch=p['arch'], edge_capable=p['edge_capable'],
        env=p['env'], secret_name=p['secret_name'], secret_env_refs=p['secret_env_refs'], domain=p['domain'],
        pull_policy=p['pull_policy'], backoff_limit=p['backoff_limit'], active_deadline_seconds=p['timeout'],
        ttl_seconds_after_finished=p['ttl_seconds_after_finished'], service_account=p['service_account'],
        runs_claim=p['runs_claim'], resources=p['resources'])
    kube = st.KubeJobs(p['kubeconfig'], p['context'])
    existing = kube.get(p['namespace'], name)
    state = st.job_state(existing)
    would_run = p['force'] or state in ('absent', 'failed')
    job = {'name': name, 'namespace': p['namespace'], 'state': state, 'manifest': manifest}
    result = {'run_key': key, 'would_run': would_run, 'job': job,
              'diff': {'before': {'job': name, 'state': state},
                       'after': {'job': name, 'state': 'succeeded' if would_run else state}}}
    if module.check_mode:
        module.exit_json(changed=would_run, report={'plan': True, 'would_run': would_run, 'run_key': key}, **result)
    changed = False
    if would_run:
        if existing is not None:
            kube.delete(p['namespace'], name)
        kube.create(manifest)
        changed = True
    state = kube.wait(p['namespace'], name, p['timeout'])[0]
    job['state'] = state
    log = kube.log(p['namespace'], name)
    report = st.parse_report(log) or {}
    result['report'] = report
    if report.get('energy'):
        result['energy'] = report['energy']
    if state == 'timeout':
        module.fail_json(msg='Job %s/%s did not finish within %ss' % (p['namespace'], name, p['timeout']),
                         changed=changed, **result)
    if state != 'succeeded':
        exit_code = report.get('exit_code')
        if exit_code == st.EXIT_GATE_FAILED and not p['fail_on_gate']:
            module.exit_json(changed=changed, **result)
        msg = report.get('error') or (st.gate_message(report) if exit_code == st.EXIT_GATE_FAILED else 'no report')
        module.fail_json(msg='Job %s/%s %s: %s' % (p['namespace'], name, state, msg), changed=changed, **result)
    module.exit_json(changed=changed, **result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            stage=dict(type='str', required=True, choices=list(st.STAGES)),
            args=dict(type='list', elements='str', default=[]),
            mode=dict(type='str', choices=['local', 'job'], default='local'),
            executable=dict(type='path'),
            python=dict(type='path'),
            runs_dir=dict(type='path'),
            domain=dict(type='str'),
            env=dict(type='dict', default={}),
            secret_env=dict(type='dict', default={}, no_log=True),
            force=dict(type='bool', default=False),
            fail_on_gate=dict(type='bool', default=True),
            timeout=dict(type='int', default=3600),
            image=dict(type='str'),
            namespace=dict(type='str', default='hx-mlops'),
            kubeconfig=dict(type='path'),
            context=dict(type='str'),
            arch=dict(type='str', choices=list(st.ARCHES), default='amd64'),
            edge_capable=dict(type='bool', default=False),
            secret_name=dict(type='str'),
            secret_env_refs=dict(type='list', elements='dict', default=[], no_log=False, options=dict(
                env=dict(type='str', required=True),
                secret=dict(type='str', required=True, no_log=False),
                key=dict(type='str', required=True, no_log=False),
            )),
            runs_claim=dict(type='str'),
            service_account=dict(type='str'),
            pull_policy=dict(type='str', choices=['Always', 'IfNotPresent', 'Never'], default='IfNotPresent'),
            backoff_limit=dict(type='int', default=0),
            ttl_seconds_after_finished=dict(type='int'),
            resources=dict(type='dict'),
            job_name_prefix=dict(type='str', default='hx-stage'),
        ),
        supports_check_mode=True,
    )
    try:
        if module.params['mode'] == 'local':
            _local(module)
        else:
            _job(module)
    except st.StageModuleError as e:
        module.fail_json(msg=e.msg, **e.details)


if __name__ == '__main__':
    main()
