"""charts/modelsharing and charts/datasetsharing: lint, render, and the properties that matter."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.fixtures.services import tools_dir

ROOT = Path(__file__).resolve().parents[2]
CHARTS = {"modelsharing": "model", "datasetsharing": "dataset"}


@pytest.fixture(scope="module")
def helm() -> str:
    path = tools_dir() / "bin" / "helm"
    if not path.exists():
        pytest.fail("run: hack/build-tools.sh helm", pytrace=False)
    return str(path)


def _render(helm: str, chart: str, *sets: str) -> list[dict]:
    args = [helm, "template", "rel", str(ROOT / "charts" / chart), "--namespace", "hx"]
    for s in sets:
        args += ["--set", s]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.mark.parametrize("chart", CHARTS)
def test_lint(helm, chart):
    r = subprocess.run([helm, "lint", str(ROOT / "charts" / chart)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("chart,api", CHARTS.items())
def test_rendered_deployment(helm, chart, api):
    docs = _render(
        helm,
        chart,
        "global.imageRegistry=mirror.local:5000",
        "clients[0].name=mno-prod",
        f"clients[0].scopes={{read:{api}}}",
        "clients[0].tokenSecret=mno-prod-token",
    )
    dep = next(d for d in docs if d["kind"] == "Deployment")
    pod = dep["spec"]["template"]["spec"]
    api_c = next(c for c in pod["containers"] if c["name"] == "api")
    assert api_c["image"] == "mirror.local:5000/hx-mlops/sharing:0.1.0"
    assert api_c["args"][:2] == ["serve", api]
    for probe in ("livenessProbe", "readinessProbe"):
        assert api_c[probe]["httpGet"]["path"] == "/api/v1/health"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert api_c["securityContext"]["readOnlyRootFilesystem"] is True
    assert api_c["resources"]["limits"]["memory"]
    env = {e["name"]: e for e in api_c["env"]}
    assert env["HX_SHARING_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "databaseUrl"
    init = {c["name"]: c for c in pod["initContainers"]}
    assert init["migrate"]["args"] == ["migrate"]
    client = init["client-0"]
    assert "--token-env" in client["args"] and not any("token" in a and "=" in a for a in client["args"])
    assert next(e for e in client["env"] if e["name"] == "HX_CLIENT_TOKEN")["valueFrom"]["secretKeyRef"]["name"] == (
        "mno-prod-token"
    )
    assert not [d for d in docs if d["kind"] == "Secret"]  # nothing secret rendered unless asked


def test_unknown_values_are_rejected(helm):
    r = subprocess.run(
        [helm, "template", "rel", str(ROOT / "charts" / "modelsharing"), "--set", "confg.bucket=x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and "confg" in r.stderr
