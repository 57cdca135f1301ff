# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Options shared by model_promote and dataset_promote (module_utils/sharing.py
    # promote_argument_spec): the version, the two sharing APIs and the transfer.
    DOCUMENTATION = r"""
options:
  version:
    description: Version to promote; V(latest) is the newest version (semantic-version order) at the source.
    type: str
    default: latest
  source_url:
    description: Base URL of the source domain's sharing API for this kind of artifact (without C(/api/v1)).
    type: str
    required: true
  source_token:
    description: Bearer token with the C(read:) scope of this kind of artifact (C(read:model), C(read:dataset)) at the source.
    type: str
    required: true
  source_name:
    description: Name of the source in messages, for example the domain name.
    type: str
  target_url:
    description: Base URL of the target domain's sharing API for this kind of artifact.
    type: str
    required: true
  target_token:
    description: Bearer token with the C(read:) and C(write:) scopes of this kind of artifact at the target.
    type: str
    required: true
  target_name:
    description: Name of the target in messages.
    type: str
  validate_certs:
    description: Verify TLS certificates of both APIs.
    type: bool
    default: true
  ca_path:
    description: CA bundle used to verify the APIs' certificates.
    type: path
  timeout:
    description: Seconds for each network operation.
    type: int
    default: 300
  workdir:
    description: Directory for the temporary copy (default the system temporary directory).
    type: path
notes:
  - The artifact is streamed through a temporary file, never held in memory; the file is removed afterwards.
"""
