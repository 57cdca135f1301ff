"""``hx-stage <stage> [options]``: runs one stage and prints its JSON report as the last line
of stdout. Exit codes: 0 passed, 1 the stage's check failed (validate / test gate), 2 error."""

import argparse
import hashlib
import json
import logging
import os
import sys

from . import __version__, keys, models, sharing, stages
from .errors import EXIT_ERROR, EXIT_GATE_FAILED, EXIT_OK, InputError, StageError
from .runner import default_runs_dir, plan_stage, primary_output, run_stage
from .tables import data_model, read_table
from .util import write_json_atomic

LOG = logging.getLogger("hx_stages")
DEFAULT_ID_COLUMNS = "imsi,msisdn,cell_id"


def _csv_list(value):
    return [v.strip() for v in value.split(",") if v.strip()]


def _common(p):
    g = p.add_argument_group("run")
    g.add_argument("--runs-dir", default=None,
                   help="run directories (default $HX_STAGE_RUNS_DIR or ./.hx-stage-runs)")
    g.add_argument("--output", "-o", help="also place the primary artifact (and its .meta.json) at this path")
    g.add_argument("--report", help="also write the JSON report to this file")
    g.add_argument("--domain", default=None, help="domain label (default $HX_DOMAIN or 'local')")
    g.add_argument("--force", action="store_true", help="recompute even if a complete run exists")
    g.add_argument("--plan", action="store_true",
                   help="only predict: print the run key and whether the stage would run (check mode)")
    g.add_argument("--log-level", default=os.environ.get("HX_STAGE_LOG_LEVEL", "WARNING"))
    e = p.add_argument_group("energy and metrics")
    e.add_argument("--energy", choices=["auto", "rapl", "estimate"], default=os.environ.get("HX_STAGE_ENERGY", "auto"))
    e.add_argument("--node-class", default=None, help="power model class (default: detected; $HX_STAGE_NODE_CLASS)")
    e.add_argument("--watts-per-core", type=float, default=None, help="override ($HX_STAGE_WATTS_PER_CORE)")
    e.add_argument("--power-model", help="JSON file of extra/overridden classes ($HX_STAGE_POWER_MODEL)")
    e.add_argument("--rapl-root", default=None, help="powercap root (default /sys/class/powercap)")
    e.add_argument("--metrics-dir", default=os.environ.get("HX_STAGE_METRICS_DIR"),
                   help="write a Prometheus textfile here ($HX_STAGE_METRICS_DIR)")
    e.add_argument("--pushgateway", default=os.environ.get("HX_STAGE_PUSHGATEWAY"),
                   help="push metrics to this Pushgateway URL ($HX_STAGE_PUSHGATEWAY)")
    s = p.add_argument_group("sharing APIs")
    s.add_argument("--dataset-api", default=os.environ.get("HX_DATASET_API_URL"))
    s.add_argument("--model-api", default=os.environ.get("HX_MODEL_API_URL"))
    s.add_argument("--token-env", default=sharing.DEFAULT_TOKEN_ENV, help="env var holding the bearer token")
    s.add_argument("--publish", action="store_true", help="upload the primary artifact to the sharing API")
    s.add_argument("--publish-name")
    s.add_argument("--publish-version", default="1.0.0")
    s.add_argument("--publish-tag", default="hx-stage")
    s.add_argument("--data-type", default="synthetic", choices=["production", "synthetic", "mixed"])
    s.add_argument("--model-status", default="staging", choices=["training", "development", "staging", "production"])


def _keyed(p):
    p.add_argument("--key-file", help="key file (hex, base64, or raw bytes), e.g. a mounted Secret")
    p.add_argument("--key-env", default=keys.DEFAULT_KEY_ENV, help="env var holding the key if no --key-file")


def build_parser():
    parser = argparse.ArgumentParser(prog="hx-stage", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="stage", required=True)

    p = sub.add_parser("datagen", help="synthetic telco KPI dataset (seeded, deterministic)")
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--drift", type=float, default=0.0, help="> 0 degrades radio conditions (drift demos)")
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    _common(p)

    p = sub.add_parser("anonymize", help="HMAC-SHA256 pseudonymization of identifier columns")
    p.add_argument("--input", "-i", required=True)
    p.add_argument("--columns", type=_csv_list, default=_csv_list(DEFAULT_ID_COLUMNS))
    p.add_argument("--digest-chars", type=int, default=32, help="hex characters kept of each HMAC (16..64)")
    p.add_argument("--format", choices=["csv", "parquet"], default=None, help="output format (default: input's)")
    _keyed(p)
    _common(p)

    for name, helptext in (("encrypt", "AES-256-GCM framed streaming encryption"),
                           ("decrypt", "decrypt and authenticate an .hxenc file")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--input", "-i", required=True)
        if name == "encrypt":
            p.add_argument("--chunk-size", type=int, default=1 << 20)
        _keyed(p)
        _common(p)

    p = sub.add_parser("validate", help="schema, ranges, missing values, drift vs a reference")
    p.add_argument("--input", "-i", required=True)
    p.add_argument("--schema", help="schema JSON file, or builtin:telco-kpi")
    p.add_argument("--reference", help="reference dataset for drift (PSI and KS per numeric column)")
    p.add_argument("--drift-columns", type=_csv_list, default=None)
    p.add_argument("--psi-max", type=float, default=0.25)
    p.add_argument("--psi-bins", type=int, default=10)
    p.add_argument("--ks-max", type=float, default=None)
    p.add_argument("--max-missing", type=float, default=0.0, help="max missing fraction without a schema")
    _common(p)

    p = sub.add_parser("train", help="scikit-learn regression for a QoE-style target")
    p.add_argument("--input", "-i", required=True)
    p.add_argument("--target", default="throughput_mbps")
    p.add_argument("--features", type=_csv_list, default=["rsrp", "rsrq", "sinr", "cqi", "load", "bandwidth_mhz"])
    p.add_argument("--model", choices=list(stages.MODELS), default="hgb")
    p.add_argument("--param", action="append", default=[], metavar="NAME=JSON", help="estimator hyperparameter")
    p.add_argument("--test-size", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=["skops", "joblib"], default=None, help="default skops if installed")
    _common(p)

    p = sub.add_parser("test", help="evaluate a model on held-out data and gate on thresholds")
    p.add_argument("--model", required=True, help="model file (.skops / .joblib) or model:<id>[@version]")
    p.add_argument("--input", "-i", required=True, help="held-out dataset")
    p.add_argument("--min", action="append", default=[], metavar="METRIC=VALUE", help="e.g. r2=0.7")
    p.add_argument("--max", action="append", default=[], metavar="METRIC=VALUE", help="e.g. mae=5")
    p.add_argument("--allow-pickle", action="store_true", help="allow loading a joblib/pickle model")
    _common(p)
    return parser


def _hyper(items):
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise InputError("bad --param {!r}: use NAME=VALUE".format(item))
        try:
            out[name] = json.loads(value)
        except ValueError:
            out[name] = value
    return out


def prepare(args):
    """-> (stage name, function, inputs, params, secrets)"""
    downloads = os.path.join(os.path.abspath(args.runs_dir or default_runs_dir()), ".downloads")
    os.makedirs(downloads, exist_ok=True)

    def resolve(ref):
        return sharing.resolve_input(ref, downloads, args.dataset_api, args.model_api, args.token_env)[0]

    st = args.stage
    inputs, secrets = {}, {}
    if st == "datagen":
        if args.rows < 1 or args.rows > 5_000_000:
            raise InputError("--rows must be between 1 and 5000000")
        return st, stages.datagen_stage, inputs, {"rows": args.rows, "seed": args.seed, "drift": args.drift,
                                                  "format": args.format}, secrets
    inputs["data"] = resolve(args.input)
    if st == "anonymize":
        if not 16 <= args.digest_chars <= 64:
            raise InputError("--digest-chars must be between 16 and 64")
        if not args.columns:
            raise InputError("--columns is empty")
        key = keys.load_key(args.key_file, args.key_env, min_len=16)
        secrets["key"] = key
        params = {"columns": args.columns, "digest_chars": args.digest_chars, "format": args.format,
                  "key_id": keys.key_id(key, "anonymize")}
        return st, stages.anonymize_stage, inputs, params, secrets
    if st in ("encrypt", "decrypt"):
        key = keys.load_key(args.key_file, args.key_env, exact_len=32)
        secrets["key"] = key
        params = {"key_id": keys.key_id(key, "aes-gcm")}
        if st == "encrypt":
            if not 1 <= args.chunk_size <= (64 << 20):
                raise InputError("--chunk-size must be between 1 and 67108864")
            params["chunk_size"] = args.chunk_size
        return st, stages.encrypt_stage if st == "encrypt" else stages.decrypt_stage, inputs, params, secrets
    if st == "validate":
        params = {"psi_max": args.psi_max, "psi_bins": args.psi_bins, "ks_max": args.ks_max,
                  "drift_columns": args.drift_columns, "max_missing": args.max_missing, "builtin_schema": None}
        if args.schema and args.schema.startswith("builtin:"):
            params["builtin_schema"] = args.schema.split(":", 1)[1]
            stages.load_schema(builtin=params["builtin_schema"])  # fail early on an unknown name
        elif args.schema:
            inputs["schema"] = args.schema
        if args.reference:
            inputs["reference"] = resolve(args.reference)
        return st, stages.validate_stage, inputs, params, secrets
    if st == "train":
        if not 0.05 <= args.test_size <= 0.5:
            raise InputError("--test-size must be between 0.05 and 0.5")
        params = {"target": args.target, "features": args.features, "model": args.model,
                  "hyperparameters": _hyper(args.param), "test_size": args.test_size, "seed": args.seed,
                  "format": args.format or models.default_format()}
        return st, stages.train_stage, inputs, params, secrets
    if st == "test":
        inputs["model"] = resolve(args.model)
        gates = stages.parse_gates(args.min, args.max)
        if not gates:
            raise InputError("give at least one threshold: --min r2=0.7 and/or --max mae=VALUE")
        return st, stages.evaluate_stage, inputs, {"gates": gates, "allow_pickle": args.allow_pickle}, secrets
    raise InputError("unknown stage {}".format(st))


def _publish_record(args, report):
    art = primary_output(report)
    if art is None:
        raise StageError("stage {} has no artifact to publish".format(report["stage"]))
    name = args.publish_name or os.path.splitext(art["name"])[0]
    api = args.model_api if art["kind"] == "model" else args.dataset_api
    if not api:
        kind = "model" if art["kind"] == "model" else "dataset"
        raise StageError("--publish needs --{}-api (or $HX_{}_API_URL)".format(kind, kind.upper()))
    digest = hashlib.sha256("{}|{}|{}".format(api, name, args.publish_version).encode()).hexdigest()[:16]
    return art, name, api, os.path.join(report["run_dir"], "published-{}.json".format(digest))


def _published(args, report):
    return os.path.isfile(_publish_record(args, report)[3])


def publish(args, report):
    """Upload the primary artifact once per (run, destination); recorded in the run directory."""
    art, name, api, record = _publish_record(args, report)
    with open(art["metadata"]) as f:
        meta = json.load(f)
    if os.path.isfile(record):
        with open(record) as f:
            return dict(json.load(f), changed=False)
    client = sharing.SharingClient(api, args.token_env)
    if art["kind"] == "model":
        resp = client.publish_model(name, args.publish_version, args.model_status, meta.get("library", "scikit-learn"),
                                    meta.get("libraryVersion", ""), report["domain"], args.publish_tag,
                                    dict(meta.get("parameters", {}), features=meta.get("features"),
                                         target=meta.get("target"), run_key=report["run_key"]),
                                    meta["characteristics"], art["path"])
    else:
        dm_path = os.path.join(report["run_dir"], art["name"] + ".datamodel.json")
        if not os.path.isfile(dm_path):
            dm = meta.get("dataModel")
            if dm is None:
                try:
                    dm = data_model(read_table(art["path"]), os.path.splitext(art["name"])[1].lstrip("."))
                except StageError:
                    dm = {"format": os.path.splitext(art["name"])[1].lstrip("."), "opaque": True}
            write_json_atomic(dm_path, dm)
        resp = client.publish_dataset(name, args.publish_version, args.data_type, args.publish_tag,
                                      {"stage": report["stage"], "run_key": report["run_key"], "sha256": art["sha256"],
                                       "characteristics": meta["characteristics"]}, art["path"], dm_path)
    out = {"api": api, "name": name, "version": args.publish_version, "response": resp}
    write_json_atomic(record, out)
    return dict(out, changed=True)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        name, func, inputs, params, secrets = prepare(args)
        if args.plan:
            report = plan_stage(name, inputs, params, runs_dir=args.runs_dir, force=args.force, output=args.output)
            if args.publish and not report["would_run"]:
                report["changed"] = report["changed"] or not _published(args, report["stored_report"])
            elif args.publish:
                report["changed"] = True
            report["exit_code"] = EXIT_OK
            sys.stdout.write(json.dumps(report, sort_keys=True) + "\n")
            return EXIT_OK
        energy_options = {"method": args.energy, "rapl_root": args.rapl_root, "node_class": args.node_class,
                          "watts_per_core": args.watts_per_core, "power_model_file": args.power_model}
        report = run_stage(name, func, inputs, params, secrets=secrets, runs_dir=args.runs_dir, domain=args.domain,
                           energy_options=energy_options, metrics_dir=args.metrics_dir, pushgateway=args.pushgateway,
                           force=args.force, output=args.output)
        if args.publish:
            report["published"] = publish(args, report)
            report["changed"] = report["changed"] or report["published"]["changed"]
        code = EXIT_OK if report["passed"] else EXIT_GATE_FAILED
    except StageError as e:
        report = {"stage": args.stage, "failed": True, "error": str(e), "error_kind": e.kind, "changed": False}
        code = e.exit_code
        LOG.error("%s", e)
    except Exception as e:  # noqa: BLE001 - still end with a JSON line the callers can parse
        LOG.exception("internal error")
        report = {"stage": args.stage, "failed": True, "error": "internal error: {}: {}".format(type(e).__name__, e),
                  "error_kind": "internal", "changed": False}
        code = EXIT_ERROR
    report["exit_code"] = code
    if args.report:
        write_json_atomic(args.report, report)
    sys.stdout.write(json.dumps(report, sort_keys=True) + "\n")
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
