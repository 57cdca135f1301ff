"""The committed OpenAPI documents are what the code generates."""

from pathlib import Path

from hx_sharing import openapi

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi"


def test_committed_openapi_files_are_up_to_date():
    stale = openapi.stale(DOCS)
    assert not stale, f"regenerate with: hx-sharing openapi export --out-dir docs/openapi ({stale})"
