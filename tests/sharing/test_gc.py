"""hx-sharing gc: what a killed process leaves in the object store is removed, nothing else."""

from __future__ import annotations

import os
import time

from hx_sharing.gc import collect

from .helpers import bucket_keys, open_multipart_uploads, publish_model


def test_gc_removes_orphans_only(stack, unique):
    s3 = stack.s3()
    bucket = stack.settings.model_bucket
    with stack.model_client() as c:
        kept = publish_model(c, unique, "1.0.0", b"kept").json()
    # what a SIGKILLed upload leaves: an open multipart upload and an object without a row
    up = s3.create_multipart_upload(Bucket=bucket, Key=f"models/{unique}-partial")
    s3.upload_part(
        Bucket=bucket, Key=f"models/{unique}-partial", UploadId=up["UploadId"], PartNumber=1, Body=os.urandom(1024)
    )
    s3.put_object(Bucket=bucket, Key=f"models/{unique}-orphan", Body=b"orphan")
    time.sleep(1.1)

    young = collect(stack.settings, "model", older_than=3600)
    assert young.as_dict()["changed"] is False  # within the grace period: untouched

    dry = collect(stack.settings, "model", older_than=0, dry_run=True)
    assert f"models/{unique}-orphan" in dry.deleted_objects
    assert f"models/{unique}-orphan" in bucket_keys(s3, bucket)

    report = collect(stack.settings, "model", older_than=0)
    assert f"models/{unique}-partial" in report.aborted_uploads
    assert f"models/{unique}-orphan" in report.deleted_objects
    assert open_multipart_uploads(s3, bucket) == []
    keys = bucket_keys(s3, bucket)
    assert f"models/{unique}-orphan" not in keys
    with stack.model_client() as c:  # every published model is intact
        assert c.get(f"/api/v1/model/by_id/{kept['modelIdentifier']}").content == b"kept"
        for m in c.get("/api/v1/model_catalog", params={"status": ""}).json()["models"]:
            assert c.get(f"/api/v1/model/{m['modelIdentifier']}/data").status_code == 200
    assert collect(stack.settings, "model", older_than=0).as_dict()["changed"] is False
