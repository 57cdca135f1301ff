"""Deterministic synthetic telco KPI data (per-UE radio measurements and a QoE target)."""

import numpy as np
import pandas as pd

COLUMNS = ["timestamp", "imsi", "msisdn", "cell_id", "rat", "bandwidth_mhz", "rsrp", "rsrq", "sinr", "cqi",
           "load", "throughput_mbps", "mos"]
FEATURES = ["rsrp", "rsrq", "sinr", "cqi", "load", "bandwidth_mhz"]
TARGET = "throughput_mbps"


def generate(rows=2000, seed=0, drift=0.0, cells=40):
    """``drift`` > 0 degrades radio conditions and raises load (for drift-detection demos)."""
    if rows < 1:
        raise ValueError("rows must be >= 1")
    rng = np.random.default_rng(seed)
    n_subs = max(20, rows // 10)
    imsi_pool = np.array(["00101{:010d}".format(v) for v in rng.choice(10**10, n_subs, replace=False)])
    msisdn_pool = np.array(["4915{:08d}".format(v) for v in rng.choice(10**8, n_subs, replace=False)])
    # The network (cells and their properties) is fixed; the seed draws the measurements.
    net = np.random.default_rng(20260101)
    cell_ids = 262000 + np.sort(net.choice(100000, cells, replace=False))
    cell_offset = net.normal(0.0, 4.0, cells)
    cell_load = net.beta(2.0, 3.0, cells)
    cell_nr = net.random(cells) < 0.3

    sub = rng.integers(0, n_subs, rows)
    cell = rng.integers(0, cells, rows)
    ts = np.sort(rng.integers(0, 7 * 24 * 3600, rows))
    timestamp = pd.Timestamp("2026-01-01T00:00:00Z") + pd.to_timedelta(ts, unit="s")

    rsrp = np.clip(rng.normal(-95.0, 10.0, rows) + cell_offset[cell] - 6.0 * drift, -140.0, -44.0)
    load = np.clip(cell_load[cell] + rng.normal(0.0, 0.08, rows) + 0.25 * drift, 0.01, 0.99)
    sinr = np.clip(0.55 * (rsrp + 95.0) + rng.normal(8.0, 5.0, rows) - 6.0 * load, -10.0, 30.0)
    rsrq = np.clip(-10.5 + 0.25 * (sinr - 8.0) - 3.0 * load + rng.normal(0.0, 1.2, rows), -20.0, -3.0)
    cqi = np.clip(np.round((sinr + 6.0) / 2.3 + rng.normal(0.0, 0.7, rows)), 0, 15).astype(int)
    nr = cell_nr[cell]
    bandwidth = np.where(nr, 100, 20)
    eff = np.minimum(np.log2(1.0 + 10.0 ** (sinr / 10.0)), np.where(nr, 7.4, 5.55)) * 0.75
    throughput = bandwidth * eff * (1.0 - load) ** 0.8 * rng.lognormal(0.0, 0.15, rows)
    mos = np.clip(1.0 + 4.0 / (1.0 + np.exp(-(np.log10(throughput + 0.1) - 0.9) * 2.2))
                  + rng.normal(0.0, 0.1, rows), 1.0, 5.0)

    return pd.DataFrame({
        "timestamp": timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "imsi": imsi_pool[sub],
        "msisdn": msisdn_pool[sub],
        "cell_id": cell_ids[cell].astype(np.int64),
        "rat": np.where(nr, "NR", "LTE"),
        "bandwidth_mhz": bandwidth.astype(np.int64),
        "rsrp": np.round(rsrp, 2),
        "rsrq": np.round(rsrq, 2),
        "sinr": np.round(sinr, 2),
        "cqi": cqi.astype(np.int64),
        "load": np.round(load, 3),
        "throughput_mbps": np.round(throughput, 3),
        "mos": np.round(mos, 3),
    }, columns=COLUMNS)


# The schema the generated data satisfies; ``--schema builtin:telco-kpi`` in validate.
TELCO_KPI_SCHEMA = {
    "columns": {
        "timestamp": {"type": "string", "max_missing": 0.0},
        "imsi": {"type": ["string", "int"], "max_missing": 0.0, "drift": False},
        "msisdn": {"type": ["string", "int"], "max_missing": 0.0, "drift": False},
        "cell_id": {"type": ["int", "string"], "max_missing": 0.0, "drift": False},  # string once pseudonymised
        "rat": {"type": "string", "allowed": ["LTE", "NR"]},
        "bandwidth_mhz": {"type": "int", "drift": False, "allowed": [5, 10, 15, 20, 40, 50, 60, 80, 100]},
        "rsrp": {"type": "float", "min": -140.0, "max": -44.0, "max_missing": 0.01},
        "rsrq": {"type": "float", "min": -20.0, "max": -3.0, "max_missing": 0.01},
        "sinr": {"type": "float", "min": -20.0, "max": 40.0, "max_missing": 0.01},
        "cqi": {"type": "int", "min": 0, "max": 15, "max_missing": 0.01},
        "load": {"type": "float", "min": 0.0, "max": 1.0, "max_missing": 0.01},
        "throughput_mbps": {"type": "float", "min": 0.0, "max": 10000.0, "max_missing": 0.0},
        "mos": {"type": "float", "min": 1.0, "max": 5.0},
    },
    "allow_extra_columns": True,
}
