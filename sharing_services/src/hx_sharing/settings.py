"""One typed settings object, read from environment variables.

Every variable is prefixed with ``HX_SHARING_``; for example ``HX_SHARING_DATABASE_URL``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HX_SHARING_", extra="ignore")

    # PostgreSQL, as an SQLAlchemy URL (driver psycopg 3), e.g.
    # postgresql+psycopg://sharing:secret@127.0.0.1:5432/sharing
    database_url: SecretStr = SecretStr("postgresql+psycopg://sharing@127.0.0.1:5432/sharing")
    db_pool_size: int = Field(10, ge=1)
    db_connect_timeout: int = Field(5, ge=1, description="seconds")
    # The catalog read path (GET /model_catalog, /dataset_catalog) runs on the event loop with its
    # own asyncio connections, and caches answers per catalog generation (see hx_sharing.catalog).
    catalog_connections: int = Field(4, ge=1, le=64)
    catalog_cache_bytes: int = Field(16 * MiB, ge=0, description="per process; 0 turns the cache off")

    # S3 / MinIO
    s3_endpoint_url: str | None = "http://127.0.0.1:9000"
    s3_access_key: SecretStr = SecretStr("minioadmin")
    s3_secret_key: SecretStr = SecretStr("minioadmin")
    s3_region: str = "us-east-1"
    s3_connect_timeout: float = Field(3.0, gt=0)
    s3_read_timeout: float = Field(30.0, gt=0)
    s3_max_attempts: int = Field(3, ge=1)
    # SigV4-sign request bodies (botocore does it by default on plain http). Off by default: it hashes
    # every byte once more, and the service's own SHA-256, checked by clients on download, already
    # covers the artifact end to end.
    s3_sign_payload: bool = False
    model_bucket: str = "modelsharing-registry"
    dataset_bucket: str = "datasetsharing-registry"
    create_buckets: bool = True

    # Transfers
    max_upload_bytes: int = Field(10 * 1024 * MiB, ge=1, description="per upload, all files together")
    part_size: int = Field(8 * MiB, ge=5 * MiB, description="S3 multipart part size")
    upload_concurrency: int = Field(2, ge=1, le=16, description="parts in flight per upload")
    # Bytes per block handed from the object store to the client. 4 MiB measured about twice the
    # throughput of 1 MiB on 2 cores (fewer thread hops and socket drains per byte); 8 MiB was slower.
    download_chunk_size: int = Field(4 * MiB, ge=64 * 1024)
    # With download_concurrency > 1, downloads larger than one range are fetched as that many ranged
    # GETs in flight (like boto3's download_file), for stores where one connection is the limit.
    # 1 (default): one streaming GET, the cheapest in CPU, which wins on a small shared machine.
    download_range_size: int = Field(4 * MiB, ge=256 * 1024)
    download_concurrency: int = Field(1, ge=1, le=16)

    # Serving
    host: str = "127.0.0.1"
    model_port: int = 8080
    dataset_port: int = 8081
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    # Set to false only for local experiments: every route but /health then accepts anonymous calls.
    # Run the Alembic migrations before serving (handy for local processes; charts use an init container).
    migrate_on_start: bool = False
    auth_enabled: bool = True
    # Seconds a token lookup is cached in the process (0: every request asks the database).
    auth_cache_seconds: float = Field(5.0, ge=0)


@lru_cache
def get_settings() -> Settings:
    return Settings()
