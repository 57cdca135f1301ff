# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the module tests."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools

import pytest
from module_runner import run_main


@pytest.fixture
def run_module(monkeypatch):
    """run_module(module, args, check_mode=False) -> what the module exited with (see module_runner)."""
    return functools.partial(run_main, monkeypatch)
