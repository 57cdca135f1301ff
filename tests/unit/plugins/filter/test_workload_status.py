# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hx.mlops.plugins.filter.workload_status import FilterModule


def _status(obj):
    return FilterModule().filters()['workload_status'](obj)


def test_deployment_ready_when_replicas_ready_and_generation_observed():
    obj = {'kind': 'Deployment', 'metadata': {'namespace': 'hx', 'name': 'mlflow', 'generation': 3},
           'spec': {'replicas': 2}, 'status': {'readyReplicas': 2, 'observedGeneration': 3}}
    assert _status(obj) == {'name': 'hx/mlflow', 'kind': 'Deployment', 'desired': 2, 'available': 2, 'ready': True}


def test_not_ready_while_a_new_generation_is_rolling_out_or_replicas_missing():
    rolling = {'kind': 'StatefulSet', 'metadata': {'namespace': 'hx', 'name': 'pg', 'generation': 4},
               'spec': {'replicas': 1}, 'status': {'readyReplicas': 1, 'observedGeneration': 3}}
    assert _status(rolling)['ready'] is False
    short = {'kind': 'Deployment', 'metadata': {'name': 'x'}, 'spec': {'replicas': 3}, 'status': {'readyReplicas': 2}}
    assert _status(short) == {'name': '/x', 'kind': 'Deployment', 'desired': 3, 'available': 2, 'ready': False}


def test_daemonset_counts_scheduled_and_ready_pods():
    obj = {'kind': 'DaemonSet', 'metadata': {'namespace': 'kube', 'name': 'kepler'},
           'status': {'desiredNumberScheduled': 3, 'numberReady': 3}}
    assert _status(obj) == {'name': 'kube/kepler', 'kind': 'DaemonSet', 'desired': 3, 'available': 3, 'ready': True}
