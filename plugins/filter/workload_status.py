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
    C({name, kind, namespace, ready, desired, available}).
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


def workload_status(obj):
    kind = obj.get("kind", "")
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    meta = obj.get("metadata") or {}
    if kind == "DaemonSet":
        desired = status.get("desiredNumberScheduled", 0)
        ready_count = status.get("numberReady", 0)
    else:
        desired = spec.get("replicas", 1)
        ready_count = status.get("readyReplicas", 0)
    generation_seen = status.get("observedGeneration", 0) >= meta.get("generation", 0)
    return {
        "name": "%s/%s" % (meta.get("namespace", ""), meta.get("name", "")),
        "kind": kind,
        "desired": desired,
        "available": ready_count,
        "ready": generation_seen and ready_count >= desired,
    }


class FilterModule(object):
    def filters(self):
        return {"workload_status": workload_status}
