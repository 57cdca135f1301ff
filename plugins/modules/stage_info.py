#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HX-MLOps maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: stage_info
short_description: List HX-MLOps stage runs and their reports (energy included)
version_added: "0.1.0"
description:
  - O(mode=local) reads the complete runs (directories with the C(COMPLETE) marker) under O(runs_dir) and
    returns their reports.
  - O(mode=job) lists the stage Jobs of a namespace (label C(app.kubernetes.io/managed-by=hx.mlops)) with their
    state and, with O(include_reports), the report from the last JSON line of each pod log.
  - Never changes anything.
author:
  - HX-MLOps maintainers (@hx-mlops)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Read-only; runs the same in check mode.
  diff_mode:
    description:
      - Will return details on what has changed (or possibly needs changing in check_mode), when in
        diff mode.
    support: none
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation
        indicates no change.
    support: full
    details: Never changes anything.
options:
  mode:
    description: Where the runs are.
    type: str
    choices: [local, job]
    default: local
  runs_dir:
    description: Runs directory of the stages (O(mode=local)).
    type: path
  stage:
    description: Only runs of this stage.
    type: str
    choices: [datagen, anonymize, encrypt, decrypt, validate, train, test]
  run_key:
    description: Only runs whose run key starts with this (O(mode=local)) or whose Job carries it (O(mode=job)).
    type: str
  include_reports:
    description: Return the reports of Jobs (reads pod logs; O(mode=job)).
    type: bool
    default: true
  namespace:
    description: Namespace of the Jobs.
    type: str
    default: hx-mlops
  kubeconfig:
    description: Kubeconfig for O(mode=job).
    type: path
  context:
    description: Kubernetes context of the domain.
    type: str
seealso:
  - module: hx.mlops.stage
'''

EXAMPLES = r'''
- name: Energy of every train run on this controller
  hx.mlops.stage_info:
    runs_dir: /srv/hx/runs
    stage: train
  register: runs

- name: Show joules per run
  ansible.builtin.debug:
    msg: "{{ runs.runs | map(attribute='energy.joules') | list }}"

- name: Stage Jobs in the production domain
  hx.mlops.stage_info:
    mode: job
    context: hx-mno-prod
'''

RETURN = r'''
runs:
  description:
    - O(mode=local) - the reports of complete runs, oldest first (stage, run_key, inputs, params, result, outputs,
      energy, passed, started_at, finished_at).
    - O(mode=job) - one entry per Job with name, namespace, stage, run_key, state and report.
  returned: always
  type: list
  elements: dict
energy_joules_total:
  description: Sum of the joules of the listed runs that have an energy record.
  returned: always
  type: float
'''

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 - after the documentation, as Ansible modules are laid out
from ansible_collections.hx.mlops.plugins.module_utils import stage as st  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type='str', choices=['local', 'job'], default='local'),
            runs_dir=dict(type='path'),
            stage=dict(type='str', choices=list(st.STAGES)),
            run_key=dict(type='str', no_log=False),
            include_reports=dict(type='bool', default=True),
            namespace=dict(type='str', default='hx-mlops'),
            kubeconfig=dict(type='path'),
            context=dict(type='str'),
        ),
        required_if=[('mode', 'local', ['runs_dir'])],
        supports_check_mode=True,
    )
    p = module.params
    try:
        if p['mode'] == 'local':
            runs = st.list_local_runs(p['runs_dir'], p['stage'], p['run_key'])
        else:
            kube = st.KubeJobs(p['kubeconfig'], p['context'])
            runs = []
            for job in kube.list(p['namespace'], p['stage']):
                meta = job.get('metadata') or {}
                key = (meta.get('annotations') or {}).get('hx.mlops/run-key', '')
                if p['run_key'] and not key.startswith(p['run_key']):
                    continue
                entry = {'name': meta.get('name'), 'namespace': meta.get('namespace'),
                         'stage': (meta.get('labels') or {}).get('hx.mlops/stage'), 'run_key': key,
                         'state': st.job_state(job)}
                if p['include_reports'] and entry['state'] in ('succeeded', 'failed'):
                    entry['report'] = st.parse_report(kube.log(p['namespace'], entry['name']))
                runs.append(entry)
    except st.StageModuleError as e:
        module.fail_json(msg=e.msg, **e.details)
    total = 0.0
    for r in runs:
        energy = r.get('energy') or (r.get('report') or {}).get('energy') or {}
        total += float(energy.get('joules') or 0.0)
    module.exit_json(changed=False, runs=runs, energy_joules_total=round(total, 6))


if __name__ == '__main__':
    main()
