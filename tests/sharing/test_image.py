"""The sharing services' container image, built here (hack/sharing-image.sh: locally built base
image, wheels fetched on the host) and run for real: migrate, client registration, then the Model
Sharing API as uid 10001 on a read-only root file system, against the session's PostgreSQL and
MinIO, with an upload and a digest-checked download through it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import uuid

import httpx
import pytest

from tests.fixtures.services import free_port, wait_for

from .helpers import publish_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TAG = "hx-mlops/sharing:test"


def _docker(*args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode:
        raise AssertionError(f"docker {' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def image():
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    except FileNotFoundError:
        info = None
    if info is None or info.returncode:
        pytest.fail("Docker Engine is not running: run `make setup` (hack/docker.sh installs and starts it)", pytrace=False)
    build = subprocess.run(
        ["bash", os.path.join(ROOT, "hack", "sharing-image.sh"), "amd64", TAG],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    yield TAG
    _docker("image", "rm", "-f", TAG, check=False)


def test_image_serves_the_model_api_non_root_on_a_read_only_root(image, postgres, minio):
    db_url = postgres.create_database("img_" + uuid.uuid4().hex[:8])
    env = {
        "HX_SHARING_DATABASE_URL": db_url,
        "HX_SHARING_S3_ENDPOINT_URL": minio.endpoint,
        "HX_SHARING_S3_ACCESS_KEY": minio.access_key,
        "HX_SHARING_S3_SECRET_KEY": minio.secret_key,
        "HX_SHARING_MODEL_BUCKET": "img-" + uuid.uuid4().hex[:8],
        "HX_SHARING_HOST": "127.0.0.1",
    }
    # values through the environment of `docker run` itself, never on its command line
    run = ["run", "--rm", "--network", "host", "--read-only", "--tmpfs", "/tmp", *(a for k in env for a in ("-e", k))]
    docker_env = {**os.environ, **env}

    _docker(*run, image, "migrate", env=docker_env)
    created = _docker(*run, image, "client", "create", "--name", "img", "--scopes", "read:model,write:model", env=docker_env)
    token = created.stdout.strip()

    port = free_port()
    name = "hx-sharing-img-" + uuid.uuid4().hex[:8]
    _docker(*run[:1], "-d", "--name", name, *run[2:], image, "serve", "model", "--port", str(port), env=docker_env)
    try:
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/api/v1/health", timeout=2).json().get("status") == "UP"
            except (httpx.HTTPError, ValueError):
                return False

        wait_for(healthy, 60, "the sharing image's model API")
        top = _docker("top", name, "-o", "pid,uid,args").stdout
        assert any(line.split()[1] == "10001" and "hx-sharing" in line for line in top.splitlines()[1:]), top
        assert json.loads(_docker("inspect", name).stdout)[0]["HostConfig"]["ReadonlyRootfs"] is True

        data = os.urandom(3 * 1024 * 1024 + 17)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            published = publish_model(c, "img-" + uuid.uuid4().hex[:6], "1.0.0", data)
            assert published.status_code == 200, published.text
            got = c.get(f"/api/v1/model/by_id/{published.json()['modelIdentifier']}")
        assert got.status_code == 200 and got.content == data
        assert published.json()["sha256"] == hashlib.sha256(data).hexdigest()
    finally:
        logs = _docker("logs", name, check=False)
        _docker("rm", "-f", name, check=False)
    assert "Traceback" not in logs.stdout + logs.stderr, logs.stderr[-3000:]
