"""The console scripts as the local flavor runs them (SharingStack), the reference client flow, JSON logs."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.fixtures.services import SharingStack, ToolMissing, wait_for


@pytest.fixture(scope="module")
def local_stack():
    try:
        st = SharingStack(env={"HX_SHARING_LOG_LEVEL": "INFO"})
    except ToolMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    with st:
        yield st


def test_reference_mno_flow_against_the_console_scripts(local_stack, tmp_path):
    st = local_stack
    writer = {"Authorization": f"Bearer {st.token}"}
    mno = {"Authorization": f"Bearer {st.add_client('mno-prod', ['read:model'])}"}
    form = {
        "name": "ispm",
        "version": "1.0.0",
        "status": "production",
        "library": "torch",
        "libraryVersion": "2.4",
        "domain": "ran",
        "tag": "ispm",
        "parameters": "{}",
        "characteristics": "{}",
    }
    r = httpx.post(f"{st.model_url}/api/v1/model", data=form, files={"file": ("m.mar", b"MAR")}, headers=writer)
    assert r.status_code == 200, r.text

    # what the reference MNO pipeline does: health, catalog with every filter (empty when unset), by_id
    assert httpx.get(f"{st.model_url}/api/v1/health").json() == {"status": "UP"}
    params = {"domain": "", "tag": "ispm", "status": "", "name": "", "version": ""}
    models = httpx.get(f"{st.model_url}/api/v1/model_catalog", params=params, headers=mno).json()["models"]
    m = models[0]
    got = httpx.get(
        f"{st.model_url}/api/v1/model/by_id/{m['modelIdentifier']}", params={"version": m["version"]}, headers=mno
    )
    assert got.content == b"MAR"
    assert httpx.get(f"{st.dataset_url}/api/v1/health").json() == {"status": "UP"}


def test_logs_are_json_lines_with_the_caller(local_stack):
    rid = "log-test-0001"
    httpx.get(
        f"{local_stack.model_url}/api/v1/model_catalog",
        headers={"Authorization": f"Bearer {local_stack.token}", "X-Request-ID": rid},
    )

    def lines():
        return [json.loads(x) for x in local_stack.logs["model"].read_text().splitlines() if x.startswith("{")]

    # the access line is written once the response is on its way: wait for it
    wait_for(lambda: any(x.get("requestId") == rid for x in lines()), 10, "access log line")
    line = next(x for x in lines() if x.get("requestId") == rid)
    assert line["msg"] == "request" and line["path"] == "/api/v1/model_catalog"
    assert line["status"] == 200 and line["client"] == "admin"
    assert {"ts", "level", "logger", "ms"} <= set(line)
    assert any(x.get("msg") == "model published" for x in lines())
