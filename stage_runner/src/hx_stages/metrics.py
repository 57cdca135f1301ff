"""Prometheus export of a stage run: node-exporter textfile and/or a Pushgateway."""

import os
import re

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile

from .errors import StageError

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def build_registry(domain, stage, run, energy):
    registry = CollectorRegistry()
    labels = ["domain", "stage", "run"]
    values = [domain, stage, run]
    g = Gauge("hx_stage_energy_joules", "Energy used by one stage run, in joules",
              labels + ["method"], registry=registry)
    g.labels(*values, energy["method"]).set(energy["joules"])
    Gauge("hx_stage_cpu_seconds", "CPU time (user+system, incl. children) of one stage run",
          labels, registry=registry).labels(*values).set(energy["cpu_seconds"])
    Gauge("hx_stage_duration_seconds", "Wall-clock duration of one stage run",
          labels, registry=registry).labels(*values).set(energy["duration_seconds"])
    return registry


def export(domain, stage, run, energy, textfile_dir=None, pushgateway=None, job="hx_stage"):
    """Returns a list of where the metrics went."""
    targets = []
    if not textfile_dir and not pushgateway:
        return targets
    registry = build_registry(domain, stage, run, energy)
    if textfile_dir:
        os.makedirs(textfile_dir, exist_ok=True)
        name = "hx_stage_{}_{}_{}.prom".format(_SAFE.sub("_", domain), _SAFE.sub("_", stage), run)
        path = os.path.join(textfile_dir, name)
        write_to_textfile(path, registry)  # writes a temp file and renames it
        targets.append(path)
    if pushgateway:
        try:
            push_to_gateway(pushgateway, job=job, registry=registry,
                            grouping_key={"domain": domain, "stage": stage, "run": run}, timeout=10)
        except OSError as e:
            raise StageError("cannot push metrics to {}: {}".format(pushgateway, e)) from None
        targets.append(pushgateway)
    return targets
