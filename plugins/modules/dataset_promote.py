#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: dataset_promote
short_description: Copy one dataset version from a domain's Dataset Sharing API to another's, verifying its digest
version_added: 0.1.0
description:
  - Finds O(name) at O(version) in the source domain's Dataset Sharing API, streams it to a temporary
    file while computing its SHA-256, checks that digest against the source catalog and the
    download's C(X-Content-SHA256) header, publishes it to the target domain's API and checks
    the digest the target stored.
  - Idempotent; the target already holding the same version with the same digest is not a change.
    The target holding that version with other content is an error (versions are immutable).
author:
  - HX-MLOps contributors (@hx-mlops)
extends_documentation_fragment:
  - hx.mlops.attributes
  - hx.mlops.sharing_promote
options:
  name:
    description: Name of the dataset.
    type: str
    required: true
attributes:
  check_mode:
    support: full
    details: Reads both catalogs and predicts the copy or status change; transfers nothing.
  diff_mode:
    support: full
    details: Shows presence and digest at the target before and after.
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Fetch the MNO's anonymized KPI dataset into the vendor domain
  hx.mlops.dataset_promote:
    name: ran-kpis
    source_url: http://mno-prod.example.invalid:8081
    source_token: "{{ lookup('ansible.builtin.file', hx_credentials_dir ~ '/links/mno-prod-dataset.token') }}"
    target_url: http://127.0.0.1:8081
    target_token: "{{ lookup('ansible.builtin.file', hx_credentials_dir ~ '/clients/self.token') }}"
"""

RETURN = r"""
action:
  description: V(copy), or V(none).
  returned: success
  type: str
version:
  description: The version promoted (V(latest) resolved).
  returned: success
  type: str
sha256:
  description: SHA-256 of the artifact, verified on arrival.
  returned: success
  type: str
source:
  description: The source catalog entry.
  returned: success
  type: dict
target:
  description: The target catalog entry after the change (before it, in check mode).
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hx.mlops.plugins.module_utils.sharing import promote_argument_spec, run_promotion


def main():
    module = AnsibleModule(argument_spec=promote_argument_spec("dataset"), supports_check_mode=True)
    run_promotion(module, "dataset")


if __name__ == "__main__":
    main()
