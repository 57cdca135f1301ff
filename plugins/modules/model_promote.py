#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: model_promote
short_description: Copy one model version from a domain's Model Sharing API to another's, verifying its digest
version_added: 0.1.0
description:
  - Finds O(name) at O(version) in the source domain's Model Sharing API, streams it to a temporary
    file while computing its SHA-256, checks that digest against the source catalog and the
    download's C(X-Content-SHA256) header, publishes it to the target domain's API and checks
    the digest the target stored.
  - Idempotent; the target already holding the same version with the same digest is not a change.
    The target holding that version with other content is an error (versions are immutable).
  - With O(status), the target version's status is set too (for example V(production)), and the
    change is recorded by the target API with the caller and the time.
author:
  - HX-MLOps contributors (@hx-mlops)
extends_documentation_fragment:
  - hx.mlops.attributes
  - hx.mlops.sharing_promote
options:
  name:
    description: Name of the model.
    type: str
    required: true
  status:
    description: Status of the version at the target; unset keeps the source's status on a copy.
    type: str
    choices: [training, development, staging, production]
  source_status:
    description:
      - Status the version must have at the source, for example V(staging) so that only a model that
        passed MNO staging's gate reaches production. Another status fails the task and changes nothing.
    type: str
    choices: [training, development, staging, production]
attributes:
  check_mode:
    support: full
    details: Reads both catalogs and predicts the copy or status change; transfers nothing.
  diff_mode:
    support: full
    details: Shows presence, status and digest at the target before and after.
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Promote the validated QoE model from staging to production
  hx.mlops.model_promote:
    name: qoe-regressor
    version: 1.0.0
    status: production
    source_url: http://mno-staging.example.invalid:8080
    source_token: "{{ lookup('ansible.builtin.file', hx_credentials_dir ~ '/links/mno-staging-model.token') }}"
    target_url: http://127.0.0.1:8080
    target_token: "{{ lookup('ansible.builtin.file', hx_credentials_dir ~ '/clients/self.token') }}"
"""

RETURN = r"""
action:
  description: V(copy), V(set_status), or V(none).
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
    module = AnsibleModule(argument_spec=promote_argument_spec("model"), supports_check_mode=True)
    run_promotion(module, "model")


if __name__ == "__main__":
    main()
