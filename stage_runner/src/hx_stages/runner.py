"""Run a stage once per run key, in a run directory with a completion marker written last.

run key = sha256(canonical JSON of {"stage": name, "inputs": {role: sha256 of the input bytes},
"params": parameters incl. the hx_stages version}). A run directory ``<runs_dir>/<stage>-<key>``
exists only when complete: the stage writes into a hidden staging directory, the marker
``COMPLETE`` is written last, and the directory is renamed into place. A failed run leaves
nothing behind. A second run with the same key returns the stored report with ``changed: false``.
"""

import contextlib
import datetime
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile

from . import __version__
from .energy import EnergyMeter
from .errors import StageError
from .metrics import export as export_metrics
from .util import canonical_json, fsync_dir, sha256_file, write_json_atomic

LOG = logging.getLogger("hx_stages")
MARKER = "COMPLETE"
REPORT = "report.json"


def default_runs_dir():
    return os.environ.get("HX_STAGE_RUNS_DIR") or os.path.join(os.getcwd(), ".hx-stage-runs")


def run_key(stage, input_digests, params):
    doc = {"stage": stage, "inputs": dict(input_digests), "params": params}
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


class StageContext:
    def __init__(self, stage, inputs, params, secrets, workdir):
        self.stage = stage
        self.inputs = inputs  # role -> local path
        self.params = params
        self.secrets = secrets  # never serialised
        self.workdir = workdir
        self.artifacts = []

    def path(self, name):
        if os.sep in name or name.startswith("."):
            raise StageError("invalid artifact name {!r}".format(name))
        return os.path.join(self.workdir, name)

    def add_artifact(self, name, kind, characteristics=None, metadata=None, primary=False):
        self.artifacts.append({"name": name, "kind": kind, "characteristics": dict(characteristics or {}),
                               "metadata": dict(metadata or {}), "primary": primary})


@contextlib.contextmanager
def _lock(runs_dir, key):
    path = os.path.join(runs_dir, ".lock-" + key)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextlib.contextmanager
def _exclusive_output(runs_dir, path):
    """Serialise writers of one --output path (different run keys may target the same file).
    The lock file lives in the runs directory, so the output directory holds only outputs."""
    digest = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:24]
    with open(os.path.join(runs_dir, ".lock-output-" + digest), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def load_complete_report(run_dir):
    if not os.path.isfile(os.path.join(run_dir, MARKER)):
        return None
    try:
        with open(os.path.join(run_dir, REPORT)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def run_stage(stage, func, inputs, params, *, secrets=None, runs_dir=None, domain=None, energy_options=None,
              metrics_dir=None, pushgateway=None, force=False, output=None):
    """Run ``func(ctx) -> result dict`` unless a complete run with the same key exists."""
    runs_dir = os.path.abspath(runs_dir or default_runs_dir())
    os.makedirs(runs_dir, exist_ok=True)
    domain = domain or os.environ.get("HX_DOMAIN") or "local"
    params = dict(params, stage_version=__version__)
    digests = {}
    for role, path in sorted(inputs.items()):
        if not os.path.isfile(path):
            raise StageError("input {} not found: {}".format(role, path), kind="input")
        digests[role] = sha256_file(path)
    key = run_key(stage, digests, params)
    run_dir = os.path.join(runs_dir, "{}-{}".format(stage, key))

    with _lock(runs_dir, key):
        _remove_stale_partials(runs_dir, stage, key)
        report = None if force else load_complete_report(run_dir)
        if report is not None:
            LOG.info("run %s already complete in %s: not recomputed", key[:16], run_dir)
            report["changed"] = False
            report["cached"] = True
        else:
            report = _compute(stage, func, inputs, digests, params, secrets or {}, key, runs_dir, run_dir,
                              domain, energy_options or {})
            report["metrics_exported"] = export_metrics(domain, stage, report["run_id"], report["energy"],
                                                        textfile_dir=metrics_dir, pushgateway=pushgateway)
    if output:
        report["output"] = _place_output(report, output, runs_dir)
        if report["output"]["changed"]:
            report["changed"] = True
    return report


def _partial_prefix(stage, key):
    return ".{}-{}.partial-".format(stage, key)


def _remove_stale_partials(runs_dir, stage, key):
    """Staging directories of this key left by a killed process (we hold the key's lock, so no
    live run owns them)."""
    prefix = _partial_prefix(stage, key)
    for name in os.listdir(runs_dir):
        if name.startswith(prefix):
            LOG.warning("removing %s left by an interrupted run", name)
            shutil.rmtree(os.path.join(runs_dir, name), ignore_errors=True)


def _compute(stage, func, inputs, digests, params, secrets, key, runs_dir, run_dir, domain, energy_options):
    staging = tempfile.mkdtemp(prefix=_partial_prefix(stage, key), dir=runs_dir)
    try:
        ctx = StageContext(stage, dict(inputs), params, secrets, staging)
        started = _now()
        with EnergyMeter(**energy_options) as meter:
            result = func(ctx) or {}
        energy = meter.result
        run_id = key[:16]
        outputs = []
        for art in ctx.artifacts:
            apath = os.path.join(staging, art["name"])
            digest = sha256_file(apath)
            meta = dict(art["metadata"])
            meta.update({
                "name": art["name"], "kind": art["kind"], "sha256": digest, "size": os.path.getsize(apath),
                "stage": stage, "run_key": key, "domain": domain, "produced_by": "hx_stages " + __version__,
                "characteristics": dict(art["characteristics"], energy=energy),
            })
            write_json_atomic(apath + ".meta.json", meta)
            outputs.append({"name": art["name"], "kind": art["kind"], "sha256": digest, "size": meta["size"],
                            "path": os.path.join(run_dir, art["name"]),
                            "metadata": os.path.join(run_dir, art["name"] + ".meta.json"),
                            "primary": art["primary"]})
        passed = bool(result.pop("passed", True))
        report = {
            "stage": stage, "run_key": key, "run_id": run_id, "domain": domain, "version": __version__,
            "changed": True, "cached": False, "passed": passed,
            "inputs": {role: {"path": os.path.abspath(inputs[role]), "sha256": d} for role, d in digests.items()},
            "params": params, "result": result, "outputs": outputs, "energy": energy,
            "started_at": started, "finished_at": _now(), "run_dir": run_dir,
        }
        write_json_atomic(os.path.join(staging, REPORT), report)
        with open(os.path.join(staging, MARKER), "w") as f:  # written last
            f.write(key + "\n")
            f.flush()
            os.fsync(f.fileno())
        fsync_dir(staging)
        if os.path.exists(run_dir):  # an incomplete leftover, or --force
            trash = tempfile.mkdtemp(prefix=".trash-", dir=runs_dir)
            os.rename(run_dir, os.path.join(trash, "old"))
            shutil.rmtree(trash, ignore_errors=True)
        os.rename(staging, run_dir)
        fsync_dir(runs_dir)
        return report
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def plan_stage(stage, inputs, params, *, runs_dir=None, force=False, output=None):
    """Predict, without computing or writing anything, whether run_stage would run and change."""
    runs_dir = os.path.abspath(runs_dir or default_runs_dir())
    params = dict(params, stage_version=__version__)
    digests = {}
    for role, path in sorted(inputs.items()):
        if not os.path.isfile(path):
            raise StageError("input {} not found: {}".format(role, path), kind="input")
        digests[role] = sha256_file(path)
    key = run_key(stage, digests, params)
    run_dir = os.path.join(runs_dir, "{}-{}".format(stage, key))
    report = load_complete_report(run_dir)
    would_run = force or report is None
    plan = {"stage": stage, "plan": True, "run_key": key, "run_id": key[:16], "run_dir": run_dir,
            "would_run": would_run, "changed": would_run, "passed": True,
            "inputs": {role: {"path": os.path.abspath(inputs[role]), "sha256": d} for role, d in digests.items()},
            "params": params}
    if report is not None and not force:
        plan["passed"] = report.get("passed", True)
        plan["stored_report"] = report
        if output:
            art = primary_output(report)
            dest = output
            if art and (os.path.isdir(output) or output.endswith(os.sep)):
                dest = os.path.join(output, art["name"])
            same = art is not None and os.path.isfile(dest) and sha256_file(dest) == art["sha256"] and \
                os.path.isfile(dest + ".meta.json") and sha256_file(dest + ".meta.json") == sha256_file(art["metadata"])
            plan["output_would_change"] = not same
            plan["changed"] = not same
    return plan


def primary_output(report):
    for o in report["outputs"]:
        if o["primary"]:
            return o
    return None


def _place_output(report, output, runs_dir):
    """Copy the primary artifact (and its .meta.json) to ``output`` atomically, unless identical."""
    art = primary_output(report)
    if art is None:
        raise StageError("stage {} has no artifact to write to {}".format(report["stage"], output))
    if os.path.isdir(output) or output.endswith(os.sep):
        output = os.path.join(output, art["name"])
    output = os.path.abspath(output)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with _exclusive_output(runs_dir, output):
        if os.path.isfile(output) and sha256_file(output) == art["sha256"]:
            changed = False
        else:
            _copy_atomic(art["path"], output)
            changed = True
        meta_dst = output + ".meta.json"
        if not (os.path.isfile(meta_dst) and sha256_file(meta_dst) == sha256_file(art["metadata"])):
            _copy_atomic(art["metadata"], meta_dst)
            changed = True
    return {"path": output, "sha256": art["sha256"], "changed": changed}


def _copy_atomic(src, dst):
    from .util import atomic_output
    with open(src, "rb") as fin, atomic_output(dst) as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
