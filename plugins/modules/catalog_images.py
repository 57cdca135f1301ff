#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HX-MLOps maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: catalog_images
short_description: List the container images a domain's catalog pulls, for mirroring
version_added: "0.1.0"
description:
  - Renders each listed catalog module with its values (C(helm template), no cluster needed) and
    returns every container and init container image, so an air-gapped registry can be filled
    before installing. Falls back to reading image blocks of the merged values when a chart
    cannot be rendered (for example a required password is not given).
  - With O(registry), also returns the source -> target copy plan; installing with
    C(global.imageRegistry) set to that registry then pulls only from the mirror.
author:
  - HX-MLOps maintainers (@hx-mlops)
extends_documentation_fragment:
  - hx.mlops.k8s_auth
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Read-only.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
options:
  components:
    description:
      - The domain's modules, same shape as C(catalog_components) of the M(hx.mlops.catalog) role.
      - Default every module of the catalog with its default values.
    type: list
    elements: dict
  registry:
    description: Target mirror registry (for example C(mirror.local:5000)).
    type: str
  render:
    description: Render the charts with helm; V(false) reads the values only.
    type: bool
    default: true
'''

EXAMPLES = r'''
- name: Images of the vendor domain, with a copy plan into the mirror
  hx.mlops.catalog_images:
    components: "{{ catalog_components }}"
    registry: mirror.local:5000
  register: imgs

- name: Write the list for skopeo/crane
  ansible.builtin.copy:
    content: "{{ imgs.images | join('\n') }}\n"
    dest: images.txt
    mode: "0644"
'''

RETURN = r'''
images:
  description: Unique image references, sorted.
  returned: always
  type: list
  elements: str
  sample: [docker.io/library/postgres:16.4-bookworm, quay.io/minio/minio:RELEASE.2024-11-07T00-52-20Z]
by_component:
  description: Module name -> its images.
  returned: always
  type: dict
mirror:
  description: Copy plan, one C(source)/C(target) pair per image.
  returned: when registry is set
  type: list
  elements: dict
commands:
  description: helm commands run.
  returned: always
  type: list
  elements: list
'''

import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hx.mlops.plugins.module_utils import catalog
from ansible_collections.hx.mlops.plugins.module_utils import helm as hx_helm


def main():
    argument_spec = dict(
        components=dict(type='list', elements='dict'),
        registry=dict(type='str'),
        render=dict(type='bool', default=True),
    )
    argument_spec.update(hx_helm.auth_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not hx_helm.HAS_YAML:
        module.fail_json(msg='PyYAML is required on the managed node')
    p = module.params
    charts = hx_helm.find_charts_path(p['charts_path'])
    if not charts:
        module.fail_json(msg='charts_path is not set (option charts_path or env HX_MLOPS_CHARTS_PATH)')
    comps = p['components']
    if comps is None:
        comps = [{'name': n} for n in catalog.module_names()
                 if catalog.chart_metadata(charts, n) is not None]
    manager = hx_helm.manager_from_module(module) if p['render'] else None
    commands = []
    by_component = {}
    workdir = tempfile.mkdtemp(prefix='hx-images-', dir=module.tmpdir)
    try:
        for comp in comps:
            try:
                name, _entry = catalog.lookup(comp.get('name'), comp.get('category'))
            except catalog.CatalogError as exc:
                module.fail_json(msg=str(exc), valid_modules=catalog.module_names())
            if catalog.chart_metadata(charts, name) is None:
                module.warn("module '%s' has no chart in %s; skipped" % (name, charts))
                continue
            user = hx_helm.deep_merge(
                hx_helm.merge_values(hx_helm.load_values_files(comp.get('values_files')), comp.get('values')),
                comp.get('secret_values') or {})
            images = None
            if manager is not None:
                spec = {'name': name, 'release': comp.get('release') or catalog.default_release(name),
                        'namespace': comp.get('namespace') or 'hx-mlops', 'chart_path': catalog.chart_path(charts, name)}
                values_file = hx_helm.write_values_file(hx_helm.normalize(user), workdir)
                try:
                    objs = manager.render(spec, values_file, commands)
                    images = catalog.images_from_manifests(objs.values())
                except hx_helm.HelmError as exc:
                    module.warn('%s not rendered (%s); images read from values instead' % (name, exc.msg))
                finally:
                    os.unlink(values_file)
            if images is None:
                merged = hx_helm.deep_merge(catalog.default_values(charts, name), user)
                override = ((merged.get('global') or {}).get('imageRegistry')) or None
                images = catalog.images_from_values(merged, override)
            by_component[name] = images
    except hx_helm.HelmError as exc:
        module.fail_json(msg=exc.msg, commands=commands)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    images = sorted(set(i for imgs in by_component.values() for i in imgs))
    result = dict(changed=False, images=images, by_component=by_component, commands=commands)
    if p['registry']:
        result['mirror'] = catalog.mirror_plan(images, p['registry'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
