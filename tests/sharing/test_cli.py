"""hx-sharing CLI: client administration without tokens on the command line, migrations, openapi."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def _run(stack, *args, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    e = {**os.environ, "HX_SHARING_DATABASE_URL": stack.db_url, **(env or {})}
    return subprocess.run(
        [str(BIN / "hx-sharing"), *args], input=stdin, env=e, capture_output=True, text=True, timeout=60, check=False
    )


def test_create_prints_generated_token_once(stack, unique):
    r = _run(stack, "client", "create", "--name", unique, "--scopes", "read:model")
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert token.startswith("hxs_") and len(token) > 40
    ok = httpx.get(f"{stack.model.url}/api/v1/model_catalog", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    again = _run(stack, "client", "create", "--name", unique, "--scopes", "read:model")
    assert again.returncode == 2 and "exists" in again.stderr


def test_apply_registers_a_given_token_idempotently(stack, unique):
    token = "ansible-generated-" + "k" * 40
    first = _run(
        stack,
        "client",
        "apply",
        "--name",
        unique,
        "--scopes",
        "read:dataset,write:dataset",
        "--token-env",
        "HX_TOKEN",
        env={"HX_TOKEN": token},
    )
    second = _run(
        stack,
        "client",
        "apply",
        "--name",
        unique,
        "--scopes",
        "write:dataset read:dataset",
        "--token-stdin",
        stdin=token + "\n",
    )
    assert json.loads(first.stdout)["changed"] is True
    assert json.loads(second.stdout)["changed"] is False
    assert first.stdout.count(token) == 0 and second.stdout.count(token) == 0
    r = httpx.get(f"{stack.dataset.url}/api/v1/dataset_catalog", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    third = _run(stack, "client", "apply", "--name", unique, "--scopes", "read:dataset")
    assert json.loads(third.stdout)["changed"] is True
    listed = {c["name"]: c for c in json.loads(_run(stack, "client", "list").stdout)}
    assert listed[unique]["scopes"] == ["read:dataset"]
    assert token not in _run(stack, "client", "list").stdout


def test_bad_input_is_refused(stack, unique):
    short = _run(stack, "client", "apply", "--name", unique, "--scopes", "read:model", "--token-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least" in short.stderr
    scope = _run(stack, "client", "create", "--name", unique, "--scopes", "admin")
    assert scope.returncode == 2 and "unknown scope" in scope.stderr
    no_token_arg = _run(stack, "client", "create", "--name", unique, "--scopes", "read:model", "--token", "x" * 40)
    assert no_token_arg.returncode != 0  # there is no --token option on purpose


def test_revoke(stack, unique):
    token = _run(stack, "client", "create", "--name", unique, "--scopes", "read:model").stdout.strip()
    assert json.loads(_run(stack, "client", "revoke", "--name", unique).stdout)["changed"] is True
    r = httpx.get(f"{stack.model.url}/api/v1/model_catalog", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_migrate_is_idempotent(stack):
    assert _run(stack, "migrate").returncode == 0
    assert _run(stack, "migrate").returncode == 0


def test_openapi_check(tmp_path, stack):
    assert _run(stack, "openapi", "check", "--out-dir", str(tmp_path)).returncode == 1
    assert _run(stack, "openapi", "export", "--out-dir", str(tmp_path)).returncode == 0
    assert _run(stack, "openapi", "check", "--out-dir", str(tmp_path)).returncode == 0
