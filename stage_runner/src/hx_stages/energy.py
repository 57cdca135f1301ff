"""Energy per stage.

Measured: Intel/AMD RAPL counters under /sys/class/powercap (``intel-rapl:N/energy_uj``), whole
CPU package(s) during the stage's wall-clock window, counter wraparound handled with
``max_energy_range_uj`` and a sampler thread so that a long stage cannot wrap twice unseen.

Estimated: ``cpu_seconds x watts_per_core`` from a per-node-class power model (see
docs/stages.md for the numbers and their sources), when RAPL is absent or unreadable.
The method is always reported as ``measured`` or ``estimated``; never the one for the other.
"""

import json
import os
import platform
import re
import resource
import threading
import time

from .errors import StageError

DEFAULT_RAPL_ROOT = "/sys/class/powercap"
_TOP_ZONE = re.compile(r"^intel-rapl:\d+$")

# Watts drawn per busy logical CPU (one CPU-second = this many joules). Sources in docs/stages.md.
POWER_MODELS = {
    "amd64-server": {
        "watts_per_core": 3.5,
        "source": "Cloud Carbon Footprint coefficients (SPECpower_ssj2008-derived): "
                  "max 3.5 W per vCPU at 100% utilisation, AWS fleet average",
    },
    "arm64-rpi4": {
        "watts_per_core": 1.6,
        "source": "Raspberry Pi 4 Model B documentation: 6.4 W (1280 mA at 5 V) with stress --cpu 4, "
                  "divided over 4 cores (whole-board power attributed to busy cores)",
    },
    "arm64-rpi5": {
        "watts_per_core": 2.0,
        "source": "assumption: about 8 W at the USB-C input for a Raspberry Pi 5 under a 4-core "
                  "stress load (community USB-meter measurements, 6.5-9 W), divided over 4 cores",
    },
    "arm64-generic": {
        "watts_per_core": 2.0,
        "source": "assumption: same as arm64-rpi5 for an unidentified arm64 board",
    },
}


def detect_node_class(machine=None, model_file="/proc/device-tree/model"):
    env = os.environ.get("HX_STAGE_NODE_CLASS")
    if env:
        return env
    machine = (machine or platform.machine()).lower()
    if machine in ("x86_64", "amd64"):
        return "amd64-server"
    if machine in ("aarch64", "arm64"):
        try:
            with open(model_file, "rb") as f:
                model = f.read().decode("ascii", "replace")
        except OSError:
            model = ""
        if "Raspberry Pi 5" in model:
            return "arm64-rpi5"
        if "Raspberry Pi 4" in model:
            return "arm64-rpi4"
        return "arm64-generic"
    return "amd64-server"


def power_model(node_class=None, watts_per_core=None, model_file=None):
    """Resolve the power model: built-ins, overlaid by a JSON file
    (``{"<class>": {"watts_per_core": W, "source": "..."}}``, path also from HX_STAGE_POWER_MODEL),
    and a direct override of watts per core (option or HX_STAGE_WATTS_PER_CORE)."""
    models = {k: dict(v) for k, v in POWER_MODELS.items()}
    model_file = model_file or os.environ.get("HX_STAGE_POWER_MODEL")
    if model_file:
        try:
            with open(model_file) as f:
                extra = json.load(f)
        except (OSError, ValueError) as e:
            raise StageError("cannot read power model {}: {}".format(model_file, e)) from None
        for k, v in extra.items():
            models.setdefault(k, {}).update(v)
    node_class = node_class or detect_node_class()
    if node_class not in models:
        raise StageError("unknown node class {!r}; valid: {}".format(node_class, ", ".join(sorted(models))))
    model = dict(models[node_class], node_class=node_class)
    override = watts_per_core if watts_per_core is not None else os.environ.get("HX_STAGE_WATTS_PER_CORE")
    if override not in (None, ""):
        model["watts_per_core"] = float(override)
        model["source"] = "override"
    return model


def rapl_delta(start_uj, end_uj, max_range_uj):
    """Energy between two readings of one counter, in microjoules, allowing one wraparound."""
    if end_uj >= start_uj:
        return end_uj - start_uj
    if not max_range_uj:
        raise ValueError("RAPL counter went backwards and max_energy_range_uj is unknown")
    return (max_range_uj - start_uj) + end_uj


class RaplReader:
    """Reads the package-level RAPL zones of a powercap tree (a real /sys or a fake in tests)."""

    def __init__(self, root=DEFAULT_RAPL_ROOT):
        self.root = root
        self.zones = self._discover()

    def _discover(self):
        try:
            names = sorted(os.listdir(self.root))
        except OSError:
            return []
        zones = []
        for name in names:
            if not _TOP_ZONE.match(name):
                continue  # sub-zones (core, uncore, dram) are inside their package; mmio duplicates it
            d = os.path.join(self.root, name)
            label = _read_text(os.path.join(d, "name")) or name
            try:
                max_range = int(_read_text(os.path.join(d, "max_energy_range_uj")) or 0)
                int(_read_text(os.path.join(d, "energy_uj")))
            except (TypeError, ValueError):
                continue  # unreadable (often mode 0400 since CVE-2020-8694) or malformed
            zones.append({"zone": name, "name": label, "path": os.path.join(d, "energy_uj"), "max_range_uj": max_range})
        # psys covers the whole SoC including the packages: never add it to them.
        packages = [z for z in zones if z["name"] != "psys"]
        return packages or zones

    @property
    def available(self):
        return bool(self.zones)

    def read(self):
        return {z["zone"]: int(_read_text(z["path"])) for z in self.zones}


def _read_text(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


class _RaplAccumulator:
    def __init__(self, reader, interval):
        self.reader = reader
        self.interval = interval
        self.total_uj = {z["zone"]: 0 for z in reader.zones}
        self.max_range = {z["zone"]: z["max_range_uj"] for z in reader.zones}
        self.last = reader.read()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = None

    def sample(self):
        now = self.reader.read()
        with self._lock:
            for zone, value in now.items():
                self.total_uj[zone] += rapl_delta(self.last[zone], value, self.max_range[zone])
            self.last = now

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except (OSError, ValueError, TypeError):
                pass

    def start(self):
        if self.interval and self.interval > 0:
            self._thread = threading.Thread(target=self._run, name="hx-rapl-sampler", daemon=True)
            self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.sample()
        return sum(self.total_uj.values())


def _cpu_seconds():
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


class EnergyMeter:
    """Measure one piece of work: ``with EnergyMeter(...) as m: work()`` then ``m.result``."""

    def __init__(self, method="auto", rapl_root=None, node_class=None, watts_per_core=None,
                 power_model_file=None, sample_interval=5.0):
        if method not in ("auto", "rapl", "estimate"):
            raise StageError("energy method {!r} invalid; valid: auto, rapl, estimate".format(method))
        self.method = method
        self.model = power_model(node_class, watts_per_core, power_model_file)
        self.reader = None
        if method in ("auto", "rapl"):
            reader = RaplReader(rapl_root or os.environ.get("HX_STAGE_RAPL_ROOT") or DEFAULT_RAPL_ROOT)
            if reader.available:
                self.reader = reader
            elif method == "rapl":
                raise StageError("RAPL requested but no readable energy_uj under {}".format(reader.root))
        self.sample_interval = sample_interval
        self.result = None

    def __enter__(self):
        self._acc = _RaplAccumulator(self.reader, self.sample_interval) if self.reader else None
        self._cpu0 = _cpu_seconds()
        self._t0 = time.monotonic()
        if self._acc:
            self._acc.start()
        return self

    def __exit__(self, *exc):
        uj = self._acc.stop() if self._acc else None
        duration = time.monotonic() - self._t0
        cpu = max(0.0, _cpu_seconds() - self._cpu0)
        estimated = cpu * self.model["watts_per_core"]
        result = {
            "cpu_seconds": round(cpu, 6),
            "duration_seconds": round(duration, 6),
            "node_class": self.model["node_class"],
            "power_model": {"watts_per_core": self.model["watts_per_core"], "source": self.model["source"]},
            "estimated_joules": round(estimated, 6),
        }
        if uj is not None:
            result.update({
                "method": "measured",
                "joules": round(uj / 1e6, 6),
                "scope": "rapl:" + ",".join(z["zone"] for z in self.reader.zones)
                         + " (whole CPU package during the stage's wall-clock window)",
            })
        else:
            result.update({
                "method": "estimated",
                "joules": round(estimated, 6),
                "scope": "process CPU time (self + children) x watts_per_core",
            })
        self.result = result
        return False
