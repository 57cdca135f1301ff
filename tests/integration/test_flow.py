"""The cross-domain flow on the three local domains, and its unhappy paths.

Everything here is real: the sharing APIs run on PostgreSQL and MinIO per domain,
the stages train and test a real model, the promotion modules stream artifacts.
"""
import json
import os
import uuid

import boto3
import pytest
import requests
import yaml
from botocore.config import Config

from conftest import ROOT, explain, playbook, recap

CREDS = os.path.join(ROOT, "inventories", "local", "credentials")
HOSTVARS = os.path.join(ROOT, "inventories", "local", "host_vars")


def ports(domain):
    with open(os.path.join(HOSTVARS, domain + ".yml")) as f:
        return yaml.safe_load(f)["links_local_ports"]


def api(domain, kind):
    return "http://127.0.0.1:%d" % ports(domain)[kind]


def token_file(domain, client):
    return os.path.join(CREDS, domain, "clients", client + ".token")


def token(domain, client):
    with open(token_file(domain, client)) as f:
        return f.read().strip()


def catalog(domain, kind, **query):
    if kind == "model":
        query.setdefault("status", "")
    r = requests.get(api(domain, kind) + "/api/v1/%s_catalog" % kind, params=query,
                     headers={"Authorization": "Bearer " + token(domain, domain)}, timeout=30)
    r.raise_for_status()
    return r.json()["models" if kind == "model" else "datasets"]


def run_module(tmp_path, module, args, token_files):
    """Run one hx.mlops module in a throw-away playbook; tokens come from files, never argv."""
    task_args = dict(args)
    for key, path in token_files.items():
        task_args[key] = "{{ lookup('ansible.builtin.file', '%s') }}" % path
    pb = tmp_path / ("pb-%s.yml" % uuid.uuid4().hex[:6])
    pb.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False,
                                   "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"}, "tasks": [
        {"name": "Run the module", module: task_args, "register": "out"},
        {"name": "Show the result", "ansible.builtin.debug": {"msg": "RESULT={{ out | to_json }}"}}]}]))
    proc = playbook(str(pb), "-i", "localhost,", "-c", "local", check=False)
    return proc


@pytest.fixture(scope="module")
def flow():
    """Run the flow once (links included); every test below starts from its result."""
    first = playbook("playbooks/flow.yml", "-i", "inventories/local", check=False)
    assert first.returncode == 0, explain(first)
    return first


def test_model_reaches_production_with_the_vendors_digest_and_rerun_changes_nothing(flow):
    vendor = {m["version"]: m for m in catalog("vendor", "model", name="qoe-regressor")}["1.0.0"]
    staging = {m["version"]: m for m in catalog("mno-staging", "model", name="qoe-regressor")}["1.0.0"]
    prod = {m["version"]: m for m in catalog("mno-prod", "model", name="qoe-regressor")}["1.0.0"]
    assert prod["status"] == "production"
    assert staging["status"] == "staging"
    assert vendor["sha256"] == staging["sha256"] == prod["sha256"]
    # the bytes served by production hash to the vendor's digest
    r = requests.get(api("mno-prod", "model") + "/api/v1/model/by_id/%d" % prod["modelIdentifier"],
                     params={"version": "1.0.0"}, headers={"Authorization": "Bearer " + token("mno-prod", "mno-prod")},
                     timeout=60)
    import hashlib
    assert hashlib.sha256(r.content).hexdigest() == vendor["sha256"] == r.headers["X-Content-SHA256"]
    # energy travelled with the model
    assert prod["characteristics"]["energy"]["method"] in ("measured", "estimated")
    assert prod["characteristics"]["energy"]["joules"] > 0
    # the dataset the vendor trained on is the MNO's, byte for byte
    mno = catalog("mno-prod", "dataset", name="ran-kpis")[0]
    fetched = catalog("vendor", "dataset", name="ran-kpis")[0]
    assert mno["dataset"]["sha256"] == fetched["dataset"]["sha256"]

    again = recap(playbook("playbooks/flow.yml", "-i", "inventories/local").stdout)
    assert {h: c["changed"] for h, c in again.items()} == {"vendor": 0, "mno-staging": 0, "mno-prod": 0}


def test_wrong_scope_is_refused_with_403_named(flow, tmp_path):
    # staging's credential at the vendor may read models, not datasets
    proc = run_module(tmp_path, "hx.mlops.dataset_promote", {
        "name": "ran-kpis", "source_url": api("vendor", "dataset"), "source_name": "vendor",
        "target_url": api("mno-staging", "dataset"), "target_name": "mno-staging"},
        {"source_token": token_file("vendor", "mno-staging"), "target_token": token_file("mno-staging", "mno-staging")})
    assert proc.returncode != 0
    assert "HTTP 403" in proc.stdout and "vendor: the credential was refused" in proc.stdout
    assert catalog("mno-staging", "dataset", name="ran-kpis") == []


def test_unknown_token_is_refused_with_401(flow, tmp_path):
    bogus = tmp_path / "bogus.token"
    bogus.write_text("not-a-token-%s" % uuid.uuid4().hex)
    proc = run_module(tmp_path, "hx.mlops.model_promote", {
        "name": "qoe-regressor", "source_url": api("vendor", "model"), "source_name": "vendor",
        "target_url": api("mno-staging", "model"), "target_name": "mno-staging"},
        {"source_token": str(bogus), "target_token": token_file("mno-staging", "mno-staging")})
    assert proc.returncode != 0 and "HTTP 401" in proc.stdout


def _minio(domain):
    with open(os.path.join(CREDS, domain, "minio.password")) as f:
        secret = f.read().strip()
    return boto3.client("s3", endpoint_url="http://127.0.0.1:%d" % ports(domain)["minio"], aws_access_key_id="hx-admin",
                        aws_secret_access_key=secret, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}))


def _keys(s3, bucket):
    return {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket) for o in page.get("Contents", [])}


def test_tampered_artifact_stops_the_promotion(flow, tmp_path):
    s3 = _minio("vendor")
    before = _keys(s3, "modelsharing-registry")
    name = "tamper-probe-%s" % uuid.uuid4().hex[:6]
    r = requests.post(api("vendor", "model") + "/api/v1/model",
                      headers={"Authorization": "Bearer " + token("vendor", "vendor")},
                      data={"name": name, "version": "0.0.1", "status": "development", "library": "scikit-learn",
                            "libraryVersion": "1.9.1", "domain": "vendor", "tag": "probe", "parameters": "{}",
                            "characteristics": "{}"},
                      files={"file": ("m.bin", os.urandom(4096))}, timeout=60)
    assert r.status_code == 200, r.text
    new = _keys(s3, "modelsharing-registry") - before
    assert len(new) == 1
    s3.put_object(Bucket="modelsharing-registry", Key=new.pop(), Body=os.urandom(4096))  # an attacker swaps the bytes

    proc = run_module(tmp_path, "hx.mlops.model_promote", {
        "name": name, "version": "0.0.1", "source_url": api("vendor", "model"), "source_name": "vendor",
        "target_url": api("mno-staging", "model"), "target_name": "mno-staging", "workdir": str(tmp_path)},
        {"source_token": token_file("vendor", "mno-staging"), "target_token": token_file("mno-staging", "mno-staging")})
    assert proc.returncode != 0
    assert "arrived with SHA-256" in proc.stdout and "nothing was published" in proc.stdout
    assert catalog("mno-staging", "model", name=name) == []
    assert [p for p in os.listdir(tmp_path) if p.startswith("hx-promote-")] == []  # no half-written copy left


def test_failed_quality_gate_stops_the_promotion(flow):
    extra = json.dumps({"flow_model_version": "1.0.1", "flow_gate_min": {"r2": 0.9999}})
    proc = playbook("playbooks/flow.yml", "-i", "inventories/local", "-e", extra, check=False)
    assert proc.returncode != 0
    assert "r2" in proc.stdout and "0.9999" in proc.stdout
    staging = {m["version"]: m for m in catalog("mno-staging", "model", name="qoe-regressor")}
    assert staging["1.0.1"]["status"] == "development"  # pulled, tested, not validated
    assert "1.0.1" not in {m["version"] for m in catalog("mno-prod", "model", name="qoe-regressor")}


def test_production_refuses_a_model_that_did_not_pass_staging(flow, tmp_path):
    proc = run_module(tmp_path, "hx.mlops.model_promote", {
        "name": "qoe-regressor", "version": "1.0.1", "source_status": "staging", "status": "production",
        "source_url": api("mno-staging", "model"), "source_name": "mno-staging",
        "target_url": api("mno-prod", "model"), "target_name": "mno-prod"},
        {"source_token": token_file("mno-staging", "mno-prod"), "target_token": token_file("mno-prod", "mno-prod")})
    if "no model named" in proc.stdout:
        pytest.fail("run test_failed_quality_gate_stops_the_promotion first (it publishes 1.0.1)")
    assert proc.returncode != 0 and "promotion needs status 'staging'" in proc.stdout


def test_a_domain_down_gives_a_clear_error_and_leaves_the_others_alone(flow, tmp_path):
    services = os.path.join(ROOT, "inventories", "local", ".state", "mno-staging", "services")
    stop = run_module(tmp_path, "hx.mlops.local_service", {"name": "model-sharing", "state": "stopped",
                                                            "state_dir": services}, {})
    assert stop.returncode == 0
    try:
        proc = run_module(tmp_path, "hx.mlops.model_promote", {
            "name": "qoe-regressor", "version": "1.0.0", "source_status": "staging", "status": "production",
            "source_url": api("mno-staging", "model"), "source_name": "mno-staging",
            "target_url": api("mno-prod", "model"), "target_name": "mno-prod"},
            {"source_token": token_file("mno-staging", "mno-prod"), "target_token": token_file("mno-prod", "mno-prod")})
        assert proc.returncode != 0 and "mno-staging is unreachable" in proc.stdout
        for domain in ("vendor", "mno-prod"):
            assert requests.get(api(domain, "model") + "/api/v1/health", timeout=10).json()["status"] == "UP"
        assert catalog("mno-prod", "model", name="qoe-regressor")[0]["status"] == "production"
        # the link check names the broken link
        links = playbook("playbooks/links.yml", "-i", "inventories/local", "--limit", "mno-prod", check=False)
        assert links.returncode != 0
        assert "Link mno-staging -> mno-prod (models) is broken" in links.stdout and "unreachable" in links.stdout
    finally:
        up = playbook("playbooks/links.yml", "-i", "inventories/local")
        assert recap(up.stdout)["mno-staging"]["failed"] == 0


def test_every_stage_exported_its_energy_as_prometheus_metrics(flow):
    metrics = os.path.join(ROOT, "inventories", "local", ".state", "vendor", "flow", "metrics")
    text = "".join(open(os.path.join(metrics, f)).read() for f in os.listdir(metrics))
    assert 'hx_stage_energy_joules{' in text
    assert 'domain="vendor"' in text and 'stage="train"' in text
    assert 'method="estimated"' in text or 'method="measured"' in text
