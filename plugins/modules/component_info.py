#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HX-MLOps maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: component_info
short_description: Read the HX-MLOps catalog, a module's values and schema, and its live status
version_added: "0.1.0"
description:
  - O(what=catalog) lists the catalog - categories, modules, chart versions, dependencies and images
    (the reference CLI's C(info)). Needs no cluster.
  - O(what=values) returns a module's default values (the reference CLI's C(list-values)).
  - O(what=schema) returns a module's values schema.
  - O(what=status) returns the live release of a module - revision, status, workloads and their
    readiness (the reference CLI's C(status)).
  - O(what=plan) returns the dependency levels the modules in O(names) are installed in.
author:
  - HX-MLOps maintainers (@hx-mlops)
extends_documentation_fragment:
  - hx.mlops.k8s_auth
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Read-only; runs the same in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details: Never changes anything.
options:
  what:
    description: What to return.
    type: str
    choices: [catalog, values, schema, status, plan]
    default: catalog
  name:
    description: Catalog module, required for O(what=values), O(what=schema) and O(what=status).
    type: str
  names:
    description: Modules to list (O(what=catalog)) or order (O(what=plan)). Default all.
    type: list
    elements: str
  category:
    description: Restrict the listing to a category, or check O(name) belongs to it.
    type: str
    choices: [storage, ml_toolkit, serving_platform, energy_measurement, observability, link]
  namespace:
    description: Namespace of the release (O(what=status)).
    type: str
    default: hx-mlops
  release:
    description: Release name (O(what=status)); defaults to the chart name.
    type: str
'''

EXAMPLES = r'''
- name: List the catalog
  hx.mlops.component_info:
  register: cat

- name: Default values of MinIO (list-values)
  hx.mlops.component_info:
    what: values
    name: minio

- name: Status of Grafana in the staging domain
  hx.mlops.component_info:
    what: status
    name: grafana
    context: hx-mno-staging
  register: st

- name: Assert Grafana is Ready
  ansible.builtin.assert:
    that: st.status.ready
'''

RETURN = r'''
catalog:
  description: The catalog (O(what=catalog)).
  returned: what=catalog
  type: list
  elements: dict
  sample:
    - name: mlflow
      category: ml_toolkit
      chart: mlflow
      chart_version: 0.1.0
      app_version: v2.17.2
      depends_on: [postgres, minio]
      images: [ghcr.io/mlflow/mlflow:v2.17.2]
      available: true
categories:
  description: Category -> module names.
  returned: what=catalog
  type: dict
values:
  description: Default values of the module's chart.
  returned: what=values
  type: dict
schema:
  description: JSON schema of the module's values.
  returned: what=schema
  type: dict
status:
  description: Live state of the release.
  returned: what=status
  type: dict
  contains:
    installed:
      description: Whether the release exists.
      type: bool
    revision:
      description: Current release revision.
      type: int
    status:
      description: Helm status, for example C(deployed) or C(failed).
      type: str
    workloads:
      description: Deployments, StatefulSets and DaemonSets with desired and ready counts.
      type: list
      elements: dict
    ready:
      description: Release deployed and every workload Ready.
      type: bool
levels:
  description: Install levels (each runs concurrently, in order).
  returned: what=plan
  type: list
  elements: list
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hx.mlops.plugins.module_utils import catalog
from ansible_collections.hx.mlops.plugins.module_utils import helm as hx_helm


def main():
    argument_spec = dict(
        what=dict(type='str', default='catalog', choices=['catalog', 'values', 'schema', 'status', 'plan']),
        name=dict(type='str'),
        names=dict(type='list', elements='str'),
        category=dict(type='str', choices=list(catalog.CATEGORIES)),
        namespace=dict(type='str', default='hx-mlops'),
        release=dict(type='str'),
    )
    argument_spec.update(hx_helm.auth_argument_spec())
    module = AnsibleModule(
        argument_spec=argument_spec, supports_check_mode=True,
        required_if=[('what', 'values', ['name']), ('what', 'schema', ['name']), ('what', 'status', ['name'])])
    if not hx_helm.HAS_YAML:
        module.fail_json(msg='PyYAML is required on the managed node')
    p = module.params
    charts = hx_helm.find_charts_path(p['charts_path'])
    result = dict(changed=False)
    try:
        if p['what'] == 'catalog':
            if not charts:
                module.fail_json(msg='charts_path is not set (option charts_path or env HX_MLOPS_CHARTS_PATH)')
            result['catalog'] = catalog.describe(charts, p['names'], p['category'])
            result['categories'] = dict((c, catalog.names_in_category(c)) for c in catalog.CATEGORIES)
        elif p['what'] == 'plan':
            result['levels'] = catalog.dependency_levels(p['names'] or catalog.module_names())
        elif p['what'] in ('values', 'schema'):
            name, _entry = catalog.lookup(p['name'], p['category'])
            if not charts:
                module.fail_json(msg='charts_path is not set (option charts_path or env HX_MLOPS_CHARTS_PATH)')
            result['name'] = name
            if p['what'] == 'values':
                result['values'] = catalog.default_values(charts, name)
            else:
                result['schema'] = catalog.values_schema(charts, name)
        else:
            manager = hx_helm.manager_from_module(module)
            manager.check_mode = False  # read-only either way
            st = manager.status(dict(name=p['name'], category=p['category'], namespace=p['namespace'],
                                     release=p['release']))
            result['commands'] = st.pop('commands')
            result['status'] = st
    except catalog.CatalogError as exc:
        module.fail_json(msg=str(exc), valid_modules=catalog.module_names(),
                         valid_categories=list(catalog.CATEGORIES))
    except hx_helm.HelmError as exc:
        module.fail_json(msg=exc.msg, commands=exc.commands)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
