# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: workload_status
short_description: Readiness of a Deployment, StatefulSet or DaemonSet
version_added: 0.1.0
description:
  - Turns a workload object (as returned by M(kubernetes.core.k8s_info)) into
    C({name, kind, ready, desired, available}), C(name) being C(namespace/name).
author:
  - HX-MLOps contributors (@hx-mlops)
options:
  _input:
    description: The workload object.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: List the workloads that are not ready
  ansible.builtin.debug:
    msg: "{{ deployments.resources | map('hx.mlops.workload_status') | rejectattr('ready') | list }}"
"""

RETURN = r"""
_value:
  description: The workload's readiness.
  type: dict
"""


from ansible_collections.hx.mlops.plugins.module_utils.helm import workload_readiness


def workload_status(obj):
    # the readiness rule is the one hx.mlops.component_info applies to helm's resources
    out = workload_readiness(obj)
    meta = obj.get("metadata") or {}
    return {
        "name": "%s/%s" % (meta.get("namespace", ""), meta.get("name", "")),
        "kind": obj.get("kind", ""),
        "desired": out["desired"],
        "available": out["ready_replicas"],
        "ready": out["ready"],
    }


class FilterModule(object):
    def filters(self):
        return {"workload_status": workload_status}
