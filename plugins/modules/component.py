#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HX-MLOps maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: component
short_description: Install, upgrade or remove an HX-MLOps catalog module in a domain
version_added: "0.1.0"
description:
  - Installs or upgrades (C(helm upgrade --install)) or removes (C(helm uninstall)) one module
    of the HX-MLOps catalog (postgres, timescaledb, minio, pgadmin, kubeflow_pipelines, mlflow,
    torchserve, tfserving, prometheus, kepler, scaphandre, grafana, modelsharing, datasetsharing)
    from the charts shipped in this collection.
  - C(changed) is decided before acting, by comparing the manifests C(helm template) renders
    with the same values, and the merged values, with the live release (C(helm status -o json)).
    Nothing is upgraded when they match.
  - Values are written to a private (0600) temporary file; they never appear on a command line.
    Secret-looking values and Secret data are redacted in C(diff) and results.
author:
  - HX-MLOps maintainers (@hx-mlops)
extends_documentation_fragment:
  - hx.mlops.k8s_auth
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Predicts C(changed) with read-only calls (C(helm status), C(helm template)); the cluster is not modified.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Before/after of the release's user values and of every rendered manifest (secrets redacted).
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details: A second run with the same values renders identical manifests and reports no change.
options:
  name:
    description:
      - Catalog module. C(kubeflow-pipelines) is accepted for C(kubeflow_pipelines).
      - An unknown name fails and lists the valid ones.
    type: str
    required: true
  category:
    description:
      - Expected category of O(name); the task fails when the module belongs to another one.
    type: str
    choices: [storage, ml_toolkit, serving_platform, energy_measurement, observability, link]
  state:
    description: Whether the release should exist.
    type: str
    choices: [present, absent]
    default: present
  values:
    description:
      - Chart values, merged over O(values_files). Validated by the chart's C(values.schema.json).
    type: dict
    default: {}
  secret_values:
    description:
      - Chart values holding secrets (passwords, tokens), deep-merged over O(values).
      - Declared C(no_log) so they never show in output or logs; like every value they reach helm
        only through a 0600 temporary file and are redacted in C(diff).
    type: dict
    default: {}
  values_files:
    description: Values files (on the managed node), merged in order before O(values).
    type: list
    elements: path
    default: []
  namespace:
    description: Namespace of the release (created when missing).
    type: str
    default: hx-mlops
  release:
    description: Release name. Defaults to the chart name (for example C(kubeflow-pipelines)).
    type: str
  wait:
    description: Wait until every workload of the release is Ready (install/upgrade) or gone (uninstall).
    type: bool
    default: true
  timeout:
    description: Seconds helm waits.
    type: int
    default: 300
  atomic:
    description:
      - Roll back a failed install or upgrade (C(helm upgrade --install --atomic)), so the release
        stays at its last good revision.
    type: bool
    default: false
  compare:
    description:
      - How C(changed) is decided when the release exists.
      - V(digest) first compares the sha256 of the chart files, the merged values, release, namespace
        and helm binary with the digest this module recorded in the release (C(helm upgrade --description));
        equal means the rendering would be identical, so C(helm template) is skipped. Any difference, or a
        release not deployed by this module, falls back to V(render).
      - V(render) always renders with C(helm template) and compares the manifests and values with the live release.
    type: str
    choices: [digest, render]
    default: digest
  manifests_dir:
    description:
      - Only for O(name=kubeflow_pipelines). Directory holding the offline output of the upstream
        Kubeflow Pipelines kustomize build (YAML files). When set, those manifests are installed as
        the release instead of the minimal first-party API/UI pair; their CustomResourceDefinitions
        are installed first and waited for until Established.
    type: path
notes:
  - Give passwords in O(secret_values) (or point the charts' C(existingSecret) keys at your own Secrets).
seealso:
  - module: hx.mlops.component_info
  - module: hx.mlops.components
'''

EXAMPLES = r'''
- name: Install PostgreSQL in the vendor domain
  hx.mlops.component:
    name: postgres
    category: storage
    namespace: hx-mlops
    secret_values:
      auth:
        password: "{{ lookup('ansible.builtin.password', hx_credentials_dir + '/postgres', length=24) }}"
    context: hx-vendor
    kubeconfig: inventories/local/.state/kubeconfig

- name: Install MLflow on the domain postgres and minio, rolling back on failure
  hx.mlops.component:
    name: mlflow
    atomic: true
    values:
      backendStore: {host: postgres, existingSecret: postgres-auth}
      artifacts: {endpoint: "http://minio:9000", bucket: mlflow, existingSecret: minio-auth}

- name: Serve a model from the Model Sharing API, digest verified
  hx.mlops.component:
    name: torchserve
    values:
      model:
        source: modelsharing
        name: qoe
        fileName: qoe.mar
        sha256: "{{ model_sha256 }}"
        modelsharing: {url: "http://modelsharing:8000", modelId: 3, tokenSecret: modelsharing-reader}

- name: Install upstream Kubeflow Pipelines from an offline kustomize output
  hx.mlops.component:
    name: kubeflow_pipelines
    namespace: kubeflow
    manifests_dir: /srv/offline/kfp-2.3.0

- name: Remove Grafana
  hx.mlops.component:
    name: grafana
    state: absent
'''

RETURN = r'''
name:
  description: Canonical catalog module name.
  returned: always
  type: str
  sample: postgres
category:
  description: Category of the module.
  returned: always
  type: str
  sample: storage
release:
  description: Helm release name.
  returned: always
  type: str
  sample: postgres
namespace:
  description: Namespace of the release.
  returned: always
  type: str
revision:
  description: Release revision after the task (absent when not installed).
  returned: when installed
  type: int
  sample: 2
status:
  description: Helm release status after the task.
  returned: when installed
  type: str
  sample: deployed
changes:
  description: Why the task changed (or not) - computed before acting.
  returned: state=present
  type: dict
  contains:
    reasons:
      description: Human readable reasons.
      type: list
      elements: str
    added:
      description: Objects only in the rendered chart.
      type: list
      elements: str
    removed:
      description: Objects only in the live release.
      type: list
      elements: str
    modified:
      description: Objects that differ.
      type: list
      elements: str
    values_changed:
      description: Whether the merged values differ from the live ones.
      type: bool
    method:
      description: C(digest) (inputs identical to the deployed release) or C(render) (manifests compared).
      type: str
images:
  description: Container images of the rendered release.
  returned: state=present
  type: list
  elements: str
commands:
  description: Every helm command run, as argument lists (values are passed by file).
  returned: always
  type: list
  elements: list
  sample: [["helm", "status", "postgres", "--namespace", "hx-mlops", "--output", "json"]]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hx.mlops.plugins.module_utils import catalog
from ansible_collections.hx.mlops.plugins.module_utils import helm as hx_helm


def main():
    argument_spec = dict(
        name=dict(type='str', required=True),
        category=dict(type='str', choices=list(catalog.CATEGORIES)),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        values=dict(type='dict', default={}),
        secret_values=dict(type='dict', default={}, no_log=True),
        values_files=dict(type='list', elements='path', default=[]),
        namespace=dict(type='str', default='hx-mlops'),
        release=dict(type='str'),
        wait=dict(type='bool', default=True),
        timeout=dict(type='int', default=300),
        atomic=dict(type='bool', default=False),
        manifests_dir=dict(type='path'),
        compare=dict(type='str', default='digest', choices=['digest', 'render']),
    )
    argument_spec.update(hx_helm.auth_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not hx_helm.HAS_YAML:
        module.fail_json(msg='PyYAML is required on the managed node')
    p = module.params
    if p['manifests_dir'] and catalog.canonical_name(p['name']) != 'kubeflow_pipelines':
        module.fail_json(msg='manifests_dir is only valid for name=kubeflow_pipelines, not %s' % p['name'])

    manager = hx_helm.manager_from_module(module)
    spec = dict((k, p[k]) for k in ('name', 'category', 'state', 'values', 'secret_values', 'values_files', 'namespace',
                                    'release', 'wait', 'timeout', 'atomic', 'manifests_dir', 'compare'))
    try:
        result = manager.ensure(spec)
    except catalog.CatalogError as exc:
        module.fail_json(msg=str(exc), valid_modules=catalog.module_names(),
                         valid_categories=list(catalog.CATEGORIES))
    except hx_helm.HelmError as exc:
        module.fail_json(msg=exc.msg, commands=exc.commands)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
