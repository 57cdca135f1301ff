"""Fixtures for the sharing services: real PostgreSQL + real MinIO + both APIs on loopback."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fixtures.services import MinioServer, PostgresServer, ToolMissing, free_port, wait_for  # noqa: E402

MiB = 1024 * 1024
MAX_UPLOAD = 12 * MiB
PART_SIZE = 5 * MiB  # the S3 minimum, so a 12 MiB upload takes the multipart path


def _or_fail(factory):
    """Build a server; a missing tool fails the test with the command that provides it."""
    try:
        return factory()
    except ToolMissing as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def postgres():
    pg = _or_fail(PostgresServer)
    pg.start()
    yield pg
    pg.cleanup()


@pytest.fixture(scope="session")
def minio():
    server = _or_fail(MinioServer)  # fails (never skips) with "run: hack/build-tools.sh minio"
    server.start()
    yield server
    server.cleanup()


class LiveServer:
    """A uvicorn server for one app, in a thread of this process, on a free loopback port."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        wait_for(lambda: self.server.started, 30, "uvicorn")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@dataclass
class Stack:
    pg: PostgresServer
    minio: MinioServer
    settings: object
    db_url: str
    model: LiveServer
    dataset: LiveServer
    tokens: dict[str, str]

    def s3(self):
        return self.minio.s3_client()

    def headers(self, who: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def model_client(self, who: str = "admin") -> httpx.Client:
        return httpx.Client(base_url=self.model.url, headers=self.headers(who), timeout=60)

    def dataset_client(self, who: str = "admin") -> httpx.Client:
        return httpx.Client(base_url=self.dataset.url, headers=self.headers(who), timeout=60)

    def wait_healthy(self, timeout: float = 60) -> None:
        for url in (self.model.url, self.dataset.url):
            wait_for(
                lambda url=url: httpx.get(f"{url}/api/v1/health", timeout=10).status_code == 200,
                timeout,
                "sharing health",
            )


CLIENTS = {
    "admin": ["read:model", "write:model", "read:dataset", "write:dataset"],
    "model-reader": ["read:model"],
    "model-writer": ["read:model", "write:model"],
    "dataset-reader": ["read:dataset"],
}


@pytest.fixture(scope="session")
def stack(postgres, minio):
    from hx_sharing import clients
    from hx_sharing.dataset_service import build_app as dataset_app
    from hx_sharing.db import Database
    from hx_sharing.logs import setup_logging
    from hx_sharing.migrate import upgrade
    from hx_sharing.model_service import build_app as model_app
    from hx_sharing.settings import Settings

    setup_logging("INFO", "json")  # INFO: every log call of the routes runs (a bad `extra` key would 500)
    db_url = postgres.create_database("sharing")
    upgrade(db_url)
    settings = Settings(
        database_url=db_url,
        s3_endpoint_url=minio.endpoint,
        s3_access_key=minio.access_key,
        s3_secret_key=minio.secret_key,
        s3_connect_timeout=1,
        s3_read_timeout=10,
        s3_max_attempts=2,
        max_upload_bytes=MAX_UPLOAD,
        part_size=PART_SIZE,
        auth_cache_seconds=0,
        db_connect_timeout=2,
        _env_file=None,
    )
    db = Database(settings)
    tokens = {name: clients.create_client(db, name, scopes) for name, scopes in CLIENTS.items()}
    db.dispose()
    model = LiveServer(model_app(settings)).start()
    dataset = LiveServer(dataset_app(settings)).start()
    st = Stack(postgres, minio, settings, db_url, model, dataset, tokens)
    st.wait_healthy()
    yield st
    model.stop()
    dataset.stop()


@pytest.fixture
def unique():
    """A name no other test uses."""
    return f"t{time.monotonic_ns()}"
