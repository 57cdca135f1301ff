import http.server
import json
import os
import threading

import pytest
from hx_stages import energy
from hx_stages.energy import EnergyMeter, RaplReader, rapl_delta


def _zone(root, name, label, uj, max_range=262143328850):
    d = root / name
    d.mkdir(parents=True)
    (d / "name").write_text(label + "\n")
    (d / "energy_uj").write_text("{}\n".format(uj))
    (d / "max_energy_range_uj").write_text("{}\n".format(max_range))
    return d


@pytest.fixture
def fake_rapl(tmp_path):
    root = tmp_path / "powercap"
    _zone(root, "intel-rapl:0", "package-0", 1_000_000)
    _zone(root, "intel-rapl:0:0", "core", 500_000)  # sub-zone: inside package-0, must not be added
    _zone(root, "intel-rapl:1", "package-1", 262143328850 - 2_000_000)  # about to wrap
    _zone(root, "intel-rapl-mmio:0", "package-0", 7)  # duplicate interface, ignored
    return root


def test_rapl_delta_wraparound():
    assert rapl_delta(100, 350, 1000) == 250
    assert rapl_delta(900, 50, 1000) == 150
    with pytest.raises(ValueError):
        rapl_delta(900, 50, 0)


def test_rapl_reader_picks_package_zones(fake_rapl):
    r = RaplReader(str(fake_rapl))
    assert [z["zone"] for z in r.zones] == ["intel-rapl:0", "intel-rapl:1"]
    assert r.read() == {"intel-rapl:0": 1_000_000, "intel-rapl:1": 262143328850 - 2_000_000}


def test_rapl_reader_skips_psys_and_unreadable(tmp_path):
    root = tmp_path / "pc"
    _zone(root, "intel-rapl:0", "package-0", 10)
    _zone(root, "intel-rapl:1", "psys", 10)
    d = _zone(root, "intel-rapl:2", "package-1", 10)
    (d / "energy_uj").write_text("garbage")
    assert [z["zone"] for z in RaplReader(str(root)).zones] == ["intel-rapl:0"]
    assert RaplReader(str(tmp_path / "absent")).available is False


def test_meter_measures_with_wraparound(fake_rapl):
    with EnergyMeter(method="auto", rapl_root=str(fake_rapl), sample_interval=0) as m:
        # the work: package-0 uses 3 J, package-1 wraps after 2 J and uses 1.5 J more
        (fake_rapl / "intel-rapl:0" / "energy_uj").write_text("4000000\n")
        (fake_rapl / "intel-rapl:1" / "energy_uj").write_text("1500000\n")
    r = m.result
    assert r["method"] == "measured"
    assert r["joules"] == pytest.approx(3.0 + 2.0 + 1.5)
    assert "intel-rapl:0,intel-rapl:1" in r["scope"]
    assert r["estimated_joules"] == pytest.approx(r["cpu_seconds"] * r["power_model"]["watts_per_core"], abs=1e-5)


def test_meter_sampler_catches_repeated_wraps(fake_rapl):
    """Two wraps within one stage are only visible to the sampler, which reads in between."""
    zone = fake_rapl / "intel-rapl:0" / "energy_uj"
    (fake_rapl / "intel-rapl:0" / "max_energy_range_uj").write_text("10000000\n")
    zone.write_text("9000000\n")
    m = EnergyMeter(method="rapl", rapl_root=str(fake_rapl), sample_interval=0)
    with m:
        acc = m._acc
        zone.write_text("2000000\n")   # wrapped: +3 J
        acc.sample()
        zone.write_text("1000000\n")   # wrapped again: +9 J
        acc.sample()
        zone.write_text("1500000\n")   # +0.5 J
    assert m.result["joules"] == pytest.approx(3 + 9 + 0.5)  # intel-rapl:1 unchanged


def test_rapl_method_required_but_absent(tmp_path):
    from hx_stages.errors import StageError
    with pytest.raises(StageError, match="no readable energy_uj"):
        EnergyMeter(method="rapl", rapl_root=str(tmp_path / "none"))


def test_power_model_classes_and_overrides(tmp_path, monkeypatch):
    monkeypatch.delenv("HX_STAGE_NODE_CLASS", raising=False)
    monkeypatch.delenv("HX_STAGE_WATTS_PER_CORE", raising=False)
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\x00")
    assert energy.detect_node_class("aarch64", str(model)) == "arm64-rpi5"
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\x00")
    assert energy.detect_node_class("aarch64", str(model)) == "arm64-rpi4"
    assert energy.detect_node_class("aarch64", str(tmp_path / "none")) == "arm64-generic"
    assert energy.detect_node_class("x86_64") == "amd64-server"
    assert energy.power_model("arm64-rpi4")["watts_per_core"] == 1.6
    assert energy.power_model("amd64-server", watts_per_core=7.0)["watts_per_core"] == 7.0
    extra = tmp_path / "pm.json"
    extra.write_text(json.dumps({"amd64-edge": {"watts_per_core": 1.2, "source": "lab meter"}}))
    assert energy.power_model("amd64-edge", model_file=str(extra))["watts_per_core"] == 1.2
    with pytest.raises(Exception, match="valid: amd64-server"):
        energy.power_model("sparc")


def test_stage_energy_is_labelled_truthfully_on_this_node(run, datasets, tmp_path):
    code, rep = run("train", "-i", datasets["train"], "--metrics-dir", tmp_path / "prom", "--domain", "mno-staging")
    assert code == 0
    e = rep["energy"]
    rapl_here = RaplReader().available
    assert e["method"] == ("measured" if rapl_here else "estimated")
    assert e["cpu_seconds"] > 0 and e["duration_seconds"] > 0 and e["joules"] > 0
    if not rapl_here:
        assert e["joules"] == pytest.approx(e["cpu_seconds"] * e["power_model"]["watts_per_core"], abs=1e-5)
    meta = json.load(open(rep["outputs"][0]["metadata"]))
    assert meta["characteristics"]["energy"] == e
    prom = open(rep["metrics_exported"][0]).read()
    labels = 'domain="mno-staging",method="{}",run="{}",stage="train"'.format(e["method"], rep["run_id"])
    assert "hx_stage_energy_joules{%s} %s" % (labels, repr(float(e["joules"]))) in prom or \
        "hx_stage_energy_joules{%s}" % labels in prom
    assert 'hx_stage_cpu_seconds{domain="mno-staging",run="%s",stage="train"}' % rep["run_id"] in prom
    assert 'hx_stage_duration_seconds{domain="mno-staging",run="%s",stage="train"}' % rep["run_id"] in prom
    assert not [n for n in os.listdir(tmp_path / "prom") if not n.endswith(".prom")]


def test_forced_estimate_and_fake_rapl_via_cli(run, datasets, fake_rapl, tmp_path):
    code, rep = run("validate", "-i", datasets["holdout"], "--energy", "estimate", "--node-class", "arm64-rpi4")
    assert rep["energy"]["method"] == "estimated" and rep["energy"]["power_model"]["watts_per_core"] == 1.6
    code, rep = run("validate", "-i", datasets["train"], "--rapl-root", fake_rapl)
    assert rep["energy"]["method"] == "measured" and rep["energy"]["joules"] == 0.0  # counters did not move


class _Gateway(http.server.BaseHTTPRequestHandler):
    received = []

    def do_PUT(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((self.path, body.decode()))
        self.send_response(200)
        self.end_headers()

    do_POST = do_PUT

    def log_message(self, *a):
        pass


def test_pushgateway_receives_labelled_series(run, datasets):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        url = "http://127.0.0.1:{}".format(server.server_address[1])
        code, rep = run("datagen", "--rows", 100, "--pushgateway", url, "--domain", "vendor")
        assert code == 0 and rep["metrics_exported"] == [url]
    finally:
        server.shutdown()
    path, body = _Gateway.received[-1]
    parts = path.split("/")
    assert parts[:4] == ["", "metrics", "job", "hx_stage"]
    grouping = dict(zip(parts[4::2], parts[5::2], strict=True))
    assert grouping == {"domain": "vendor", "stage": "datagen", "run": rep["run_id"]}
    assert "hx_stage_energy_joules" in body and "hx_stage_cpu_seconds" in body


def test_dashboard_queries_the_exported_series():
    import re

    from hx_stages.metrics import build_registry
    from prometheus_client import generate_latest

    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    with open(os.path.join(root, "charts", "grafana", "dashboards", "hx-energy-stages.json")) as f:
        dash = json.load(f)
    exported = generate_latest(build_registry("d", "s", "r", {"method": "estimated", "joules": 1.0,
                                                              "cpu_seconds": 1.0, "duration_seconds": 1.0})).decode()
    names = set(re.findall(r"^(hx_stage_[a-z_]+)\{", exported, re.M))
    assert names == {"hx_stage_energy_joules", "hx_stage_cpu_seconds", "hx_stage_duration_seconds"}
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"hx_stage_[a-z_]+", e)}
    assert used == names
    assert any("by (domain)" in e for e in exprs) and any("by (stage)" in e for e in exprs)
    assert {v["name"] for v in dash["templating"]["list"]} == {"domain", "stage", "method"}
