# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Descriptions of the attributes every hx.mlops module declares; each module
    # sets `support` (and `details`) for its own behaviour.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and predict whether it would change anything, without changing it.
  diff_mode:
    description: Returns a before and after of what it changes when run with C(--diff).
  idempotent:
    description: Running it again with the same options and no change in between reports no change.
"""
