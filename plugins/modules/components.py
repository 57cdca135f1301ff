#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HX-MLOps maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: components
short_description: Converge a domain's whole HX-MLOps catalog, dependency levels in parallel
version_added: "0.1.0"
description:
  - Applies a list of catalog modules the way M(hx.mlops.component) applies one, in dependency
    order (for example mlflow after postgres and minio, grafana after prometheus). Modules of the
    same level run concurrently (threads, each its own helm processes); a level starts only when
    the previous one succeeded. Modules with O(components[].state=absent) are removed first,
    dependents before their dependencies.
  - Each module's C(changed) is decided before acting exactly as M(hx.mlops.component) does; the
    task is changed when any module is.
  - The live releases are read with one Kubernetes API call per namespace (the Secrets of helm's
    default storage driver) instead of one C(helm status) per module, with the kubeconfig and context
    given; when that read cannot be exactly what helm would see (kubeconfig users with C(exec) or
    C(auth-provider), proxies, another C(HELM_DRIVER), HTTP errors such as a 403, ...), C(helm status)
    is used per module as before.
author:
  - HX-MLOps maintainers (@hx-mlops)
extends_documentation_fragment:
  - hx.mlops.k8s_auth
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Every module is predicted with read-only calls; nothing is installed or removed.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: One before/after per module that changes (secrets redacted).
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
options:
  components:
    description: The modules of the domain.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Catalog module.
        type: str
        required: true
      category:
        description: Expected category of the module.
        type: str
        choices: [storage, ml_toolkit, serving_platform, energy_measurement, observability, link]
      state:
        description: Whether the release should exist.
        type: str
        choices: [present, absent]
        default: present
      values:
        description: Chart values.
        type: dict
        default: {}
      secret_values:
        description: Values holding secrets, merged last; C(no_log).
        type: dict
        default: {}
      values_files:
        description: Values files merged before the values.
        type: list
        elements: path
        default: []
      namespace:
        description: Namespace; defaults to O(namespace).
        type: str
      release:
        description: Release name; defaults to the chart name.
        type: str
      wait:
        description: Wait for Ready; defaults to O(wait).
        type: bool
      timeout:
        description: Seconds; defaults to O(timeout).
        type: int
      atomic:
        description: Roll back a failed upgrade; defaults to O(atomic).
        type: bool
      manifests_dir:
        description: Offline upstream manifests (kubeflow_pipelines only).
        type: path
  compare:
    description: How C(changed) is decided for an existing release, see M(hx.mlops.component).
    type: str
    choices: [digest, render]
    default: digest
  namespace:
    description: Default namespace of the releases.
    type: str
    default: hx-mlops
  wait:
    description: Default for O(components[].wait).
    type: bool
    default: true
  timeout:
    description: Default for O(components[].timeout).
    type: int
    default: 300
  atomic:
    description: Default for O(components[].atomic).
    type: bool
    default: false
  parallel:
    description: Most releases installed at once inside a level (1 = sequential).
    type: int
    default: 12
'''

EXAMPLES = r'''
- name: Converge the vendor domain catalog
  hx.mlops.components:
    context: hx-vendor
    components:
      - {name: postgres, secret_values: {auth: {password: "{{ pg_password }}"}}}
      - {name: minio, secret_values: {auth: {rootPassword: "{{ minio_password }}"}}}
      - {name: mlflow}
      - {name: prometheus}
      - {name: grafana, secret_values: {auth: {adminPassword: "{{ grafana_password }}"}}}
'''

RETURN = r'''
results:
  description: One result per module, in request order (same keys as M(hx.mlops.component)) plus C(level).
  returned: always
  type: list
  elements: dict
levels:
  description: The dependency levels that were run, in order.
  returned: always
  type: list
  elements: list
changed_modules:
  description: Names of the modules that changed (or would change in check mode).
  returned: always
  type: list
  elements: str
commands:
  description: Every helm command run, as argument lists.
  returned: always
  type: list
  elements: list
timings:
  description:
    - Wall-clock seconds of every helm call (C(call), C(release), C(seconds)), in completion order.
    - C(call=list) is the one Kubernetes API read of every helm release of a namespace (C(release) holds
      the namespace) that replaces C(helm status) per release while planning; C(call=list-fallback) means
      that read was not possible exactly like helm (see RV(list_fallbacks)) and C(helm status) was used.
  returned: always
  type: list
  elements: dict
list_fallbacks:
  description:
    - Namespaces whose releases were read with C(helm status) per release instead of one Kubernetes API
      read, with the reason (for example an C(exec) kubeconfig user, a proxy, or an HTTP 403).
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hx.mlops.plugins.module_utils import catalog
from ansible_collections.hx.mlops.plugins.module_utils import helm as hx_helm


def main():
    component_spec = dict(
        name=dict(type='str', required=True),
        category=dict(type='str', choices=list(catalog.CATEGORIES)),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        values=dict(type='dict', default={}),
        secret_values=dict(type='dict', default={}, no_log=True),
        values_files=dict(type='list', elements='path', default=[]),
        namespace=dict(type='str'),
        release=dict(type='str'),
        wait=dict(type='bool'),
        timeout=dict(type='int'),
        atomic=dict(type='bool'),
        manifests_dir=dict(type='path'),
    )
    argument_spec = dict(
        components=dict(type='list', elements='dict', required=True, options=component_spec),
        namespace=dict(type='str', default='hx-mlops'),
        wait=dict(type='bool', default=True),
        timeout=dict(type='int', default=300),
        atomic=dict(type='bool', default=False),
        parallel=dict(type='int', default=12),
        compare=dict(type='str', default='digest', choices=['digest', 'render']),
    )
    argument_spec.update(hx_helm.auth_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not hx_helm.HAS_YAML:
        module.fail_json(msg='PyYAML is required on the managed node')
    p = module.params
    specs = []
    for comp in p['components']:
        spec = dict(comp)
        spec['compare'] = p['compare']
        for key in ('namespace', 'wait', 'timeout', 'atomic'):
            if spec.get(key) is None:
                spec[key] = p[key]
        specs.append(spec)

    manager = hx_helm.manager_from_module(module)
    try:
        present = [s['name'] for s in specs if s['state'] == 'present']
        absent = [s['name'] for s in specs if s['state'] == 'absent']
        levels = catalog.removal_levels(absent) + catalog.dependency_levels(present)
        results, failed = manager.ensure_many(specs, parallel=p['parallel'])
    except catalog.CatalogError as exc:
        module.fail_json(msg=str(exc), valid_modules=catalog.module_names(),
                         valid_categories=list(catalog.CATEGORIES))
    except hx_helm.HelmError as exc:
        module.fail_json(msg=exc.msg, commands=exc.commands)

    commands = []
    diffs = []
    for res in results:
        commands.extend(res.get('commands') or [])
        # one diff per changed module: the callback prints each before/after
        d = res.pop('diff', None)
        if d is not None and res.get('changed'):
            diffs.append(d)
    changed_modules = [r['name'] for r in results if r.get('changed')]
    out = dict(changed=bool(changed_modules), results=results, levels=levels,
               changed_modules=changed_modules, commands=commands,
               timings=[dict(call=w, release=r, seconds=t) for w, r, t in manager.timings],
               list_fallbacks=manager.list_fallbacks)
    if failed:
        errors = ['%s: %s' % (r['name'], r['msg']) for r in results if r.get('failed')]
        module.fail_json(msg='; '.join(errors), **out)
    if module._diff:
        out['diff'] = diffs
    module.exit_json(**out)


if __name__ == '__main__':
    main()
