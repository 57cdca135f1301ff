# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HX-MLOps maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type


class ModuleDocFragment(object):
    # Options every hx.mlops module that talks to a domain's Kubernetes API shares.
    # Set them once per play with module_defaults: {group/hx.mlops.k8s: {...}}.
    DOCUMENTATION = r'''
options:
  kubeconfig:
    description:
      - Path to the kubeconfig holding the domain's context.
      - Defaults to E(K8S_AUTH_KUBECONFIG), then E(KUBECONFIG), then helm's own default (C(~/.kube/config)).
    type: path
  context:
    description:
      - Kubernetes context of the domain, for example C(hx-vendor).
      - Defaults to E(K8S_AUTH_CONTEXT), then the kubeconfig's current context.
    type: str
  helm_binary:
    description:
      - Path to the C(helm) binary.
      - Defaults to C(helm) on E(PATH), then C(~/.cache/hx-mlops/tools/bin/helm).
    type: path
  charts_path:
    description:
      - Directory holding the catalog charts (the collection's C(charts/) directory).
      - Defaults to E(HX_MLOPS_CHARTS_PATH), then a C(charts/) directory found from the
        working directory upwards, then the installed collection.
      - The M(hx.mlops.catalog) role passes it explicitly.
    type: path
'''
