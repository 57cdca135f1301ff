"""Garbage collection of the object store: what a crashed process can leave behind.

A service killed mid-upload (SIGKILL, node loss) cannot abort its S3 multipart upload, and one
killed between storing an object and inserting its row leaves an object no row refers to.
``hx-sharing gc`` removes both, once they are older than a grace period (so uploads in progress
are never touched).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select

from .db import Database, Dataset, Model
from .settings import Settings
from .storage import ObjectStore

PREFIXES = {"model": "models/", "dataset": "datasets/"}


@dataclass
class GcReport:
    aborted_uploads: list[str] = field(default_factory=list)
    deleted_objects: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "changed": bool(self.aborted_uploads or self.deleted_objects),
            "abortedUploads": self.aborted_uploads,
            "deletedObjects": self.deleted_objects,
        }


def _referenced(db: Database, service: str) -> set[str]:
    with db.session() as s:
        if service == "model":
            return set(s.scalars(select(Model.object_key)))
        rows = s.execute(select(Dataset.dataset_key, Dataset.data_model_key)).all()
        return {k for row in rows for k in row}


def collect(settings: Settings, service: str, older_than: float = 3600, dry_run: bool = False) -> GcReport:
    bucket = settings.model_bucket if service == "model" else settings.dataset_bucket
    store = ObjectStore(settings, bucket)
    db = Database(settings)
    prefix = PREFIXES[service]
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=older_than)
    report = GcReport()
    try:
        # No Prefix: MinIO lists multipart uploads by prefix only for an exact object name.
        for page in store.s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            for up in page.get("Uploads", []):
                if up["Key"].startswith(prefix) and up["Initiated"] < cutoff:
                    report.aborted_uploads.append(up["Key"])
                    if not dry_run:
                        store.s3.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
        # Rows are read after listing: an object whose row commits meanwhile is younger than the cutoff.
        candidates = []
        for page in store.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            candidates += [o["Key"] for o in page.get("Contents", []) if o["LastModified"] < cutoff]
        referenced = _referenced(db, service)
        for key in candidates:
            if key not in referenced:
                report.deleted_objects.append(key)
                if not dry_run:
                    store.delete(key)
    finally:
        db.dispose()
    return report
