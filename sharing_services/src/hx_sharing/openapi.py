"""Export the OpenAPI documents of both services (``hx-sharing openapi export``)."""

from __future__ import annotations

import json
from pathlib import Path

from .settings import Settings

FILES = {"model-sharing.json": "model", "dataset-sharing.json": "dataset"}


def spec(service: str) -> dict:
    if service == "model":
        from .model_service import build_app
    else:
        from .dataset_service import build_app
    # The spec does not depend on the environment; build with defaults so the export is stable.
    return build_app(Settings(_env_file=None)).openapi()


def render(service: str) -> str:
    return json.dumps(spec(service), indent=2, sort_keys=True) + "\n"


def export(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fname, service in FILES.items():
        path = out_dir / fname
        path.write_text(render(service))
        written.append(path)
    return written


def stale(out_dir: Path) -> list[Path]:
    """Files in out_dir that differ from what export() would write."""
    return [
        out_dir / fname
        for fname, service in FILES.items()
        if not (out_dir / fname).exists() or (out_dir / fname).read_text() != render(service)
    ]
