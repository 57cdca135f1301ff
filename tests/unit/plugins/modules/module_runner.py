# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() in-process with real arguments and collect what it exits with."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


def run_main(monkeypatch, module, args, check_mode=False):
    """The keywords the module exited with (exit_json or fail_json), plus ``failed``."""
    exits = {}

    def exit_json(self, **kw):
        exits.update(kw, failed=False)
        raise SystemExit(0)

    def fail_json(self, msg, **kw):
        exits.update(kw, msg=msg, failed=True)
        raise SystemExit(1)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return exits
