"""The stage functions. Each takes a StageContext, writes its artifacts into ctx.workdir and
returns its result dict (``passed`` is popped into the report's top level)."""

import hashlib
import hmac
import json
import math
import os

import numpy as np
import pandas as pd

from . import crypto, datagen, tables
from .errors import InputError, StageError
from .util import sha256_file

# ---------------------------------------------------------------- datagen


def datagen_stage(ctx):
    p = ctx.params
    df = datagen.generate(rows=p["rows"], seed=p["seed"], drift=p["drift"])
    name = "telco_kpi.{}".format(p["format"])
    tables.write_table(df, ctx.path(name), p["format"])
    ctx.add_artifact(name, "dataset", metadata={"dataModel": tables.data_model(df, p["format"])}, primary=True)
    return {"rows": int(len(df)), "columns": list(df.columns)}


# ---------------------------------------------------------------- anonymize


def _canon(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (np.integer,)):
        return str(int(value))
    return str(value)


def pseudonym(key, value, length=32):
    return hmac.new(key, _canon(value).encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:length]


def anonymize_stage(ctx):
    p = ctx.params
    src = ctx.inputs["data"]
    fmt_in = tables.detect_format(src)
    df = tables.read_table(src, fmt_in, string_columns=p["columns"])
    tables.require_columns(df, p["columns"], src)
    key = ctx.secrets["key"]
    report = {}
    for col in p["columns"]:
        s = df[col]
        mask = s.notna().to_numpy()
        values = s[mask]
        mapping = {v: pseudonym(key, v, p["digest_chars"]) for v in pd.unique(values)}
        out = s.astype(object).copy()
        out[mask] = [mapping[v] for v in values]
        df[col] = out
        report[col] = {"rows_changed": int(mask.sum()), "rows_missing": int((~mask).sum()),
                       "distinct_values": len(mapping)}
    fmt_out = p.get("format") or fmt_in
    stem = os.path.splitext(os.path.basename(src))[0]
    name = "{}.anon.{}".format(stem, fmt_out)
    tables.write_table(df, ctx.path(name), fmt_out)
    ctx.add_artifact(name, "dataset", characteristics={"anonymized_columns": p["columns"],
                                                       "pseudonymization": "HMAC-SHA256"},
                     metadata={"dataModel": tables.data_model(df, fmt_out)}, primary=True)
    return {"rows": int(len(df)), "columns_changed": report,
            "rows_changed": int(max((c["rows_changed"] for c in report.values()), default=0)),
            "method": "HMAC-SHA256 truncated to {} hex chars".format(p["digest_chars"]), "key_id": p["key_id"]}


# ---------------------------------------------------------------- encrypt / decrypt


def encrypt_stage(ctx):
    src = ctx.inputs["data"]
    name = os.path.basename(src) + ".hxenc"
    with open(src, "rb") as fin, open(ctx.path(name), "wb") as fout:
        info = crypto.encrypt_stream(ctx.secrets["key"], fin, fout, ctx.params["chunk_size"])
        fout.flush()
        os.fsync(fout.fileno())
    ctx.add_artifact(name, "encrypted", characteristics={"encryption": "AES-256-GCM framed v1",
                                                         "key_id": ctx.params["key_id"]}, primary=True)
    return dict(info, ciphertext_bytes=os.path.getsize(ctx.path(name)))


def decrypt_stage(ctx):
    src = ctx.inputs["data"]
    base = os.path.basename(src)
    name = base[: -len(".hxenc")] if base.endswith(".hxenc") and len(base) > 6 else base + ".dec"
    # The run's staging directory is removed if this raises: nothing partial survives.
    with open(src, "rb") as fin, open(ctx.path(name), "wb") as fout:
        info = crypto.decrypt_stream(ctx.secrets["key"], fin, fout)
        fout.flush()
        os.fsync(fout.fileno())
    ctx.add_artifact(name, "dataset", primary=True)
    return info


# ---------------------------------------------------------------- validate

_TYPES = {
    "int": lambda s: pd.api.types.is_integer_dtype(s),
    "float": lambda s: pd.api.types.is_float_dtype(s) or pd.api.types.is_integer_dtype(s),
    "number": lambda s: pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s),
    "string": lambda s: pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s),
    "bool": lambda s: pd.api.types.is_bool_dtype(s),
    "datetime": lambda s: pd.api.types.is_datetime64_any_dtype(s),
}


def psi(reference, current, bins=10):
    """Population Stability Index over quantile bins of the reference (0 = same distribution;
    > 0.1 moderate, > 0.25 significant shift, the usual rule of thumb)."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref = ref[~np.isnan(ref)]
    cur = cur[~np.isnan(cur)]
    if len(ref) == 0 or len(cur) == 0:
        return None
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        edges = np.array([ref[0] - 0.5, ref[0] + 0.5])
    edges[0], edges[-1] = -np.inf, np.inf
    r = np.histogram(ref, edges)[0] / len(ref)
    c = np.histogram(cur, edges)[0] / len(cur)
    eps = 1e-4
    r = np.clip(r, eps, None)
    c = np.clip(c, eps, None)
    return float(np.sum((c - r) * np.log(c / r)))


def ks(reference, current):
    from scipy.stats import ks_2samp

    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref = ref[~np.isnan(ref)]
    cur = cur[~np.isnan(cur)]
    if len(ref) == 0 or len(cur) == 0:
        return None, None
    res = ks_2samp(ref, cur)
    return float(res.statistic), float(res.pvalue)


def load_schema(spec_path=None, builtin=None):
    if builtin:
        if builtin != "telco-kpi":
            raise InputError("unknown builtin schema {!r}; valid: telco-kpi".format(builtin))
        return datagen.TELCO_KPI_SCHEMA
    if spec_path:
        try:
            with open(spec_path) as f:
                schema = json.load(f)
        except (OSError, ValueError) as e:
            raise InputError("cannot read schema {}: {}".format(spec_path, e)) from None
        if not isinstance(schema.get("columns"), dict):
            raise InputError("schema {} needs a \"columns\" object".format(spec_path))
        return schema
    return None


def validate_stage(ctx):
    p = ctx.params
    src = ctx.inputs["data"]
    df = tables.read_table(src)
    schema = load_schema(ctx.inputs.get("schema"), p.get("builtin_schema"))
    checks = []

    def check(name, column, passed, **detail):
        checks.append(dict({"check": name, "column": column, "passed": bool(passed)}, **detail))

    n = len(df)
    if schema:
        for col, rule in schema["columns"].items():
            if col not in df.columns:
                check("present", col, False, message="missing column")
                continue
            s = df[col]
            types = rule.get("type")
            if types:
                types = types if isinstance(types, list) else [types]
                bad = [t for t in types if t not in _TYPES]
                if bad:
                    raise InputError("schema: unknown type {} for {}; valid: {}".format(bad, col, ", ".join(_TYPES)))
                check("type", col, any(_TYPES[t](s) for t in types), expected=types, actual=str(s.dtype))
            missing = int(s.isna().sum())
            frac = missing / n if n else 0.0
            check("missing", col, frac <= float(rule.get("max_missing", 0.0)), missing=missing,
                  fraction=round(frac, 6), max_fraction=float(rule.get("max_missing", 0.0)))
            if ("min" in rule or "max" in rule) and pd.api.types.is_numeric_dtype(s):
                lo, hi = rule.get("min", -math.inf), rule.get("max", math.inf)
                out = int(((s < lo) | (s > hi)).sum())
                check("range", col, out == 0, min=rule.get("min"), max=rule.get("max"), out_of_range=out,
                      observed_min=_num(s.min()), observed_max=_num(s.max()))
            if "allowed" in rule:
                allowed = set(rule["allowed"])
                vals = s.dropna()
                out = int((~vals.isin(list(allowed))).sum())
                check("allowed", col, out == 0, not_allowed=out)
        if not schema.get("allow_extra_columns", True):
            extra = [c for c in df.columns if c not in schema["columns"]]
            check("no_extra_columns", None, not extra, extra=extra)
    else:
        for col in df.columns:
            missing = int(df[col].isna().sum())
            check("missing", col, missing <= p["max_missing"] * n, missing=missing)

    drift = {}
    if "reference" in ctx.inputs:
        ref = tables.read_table(ctx.inputs["reference"])
        numeric = [c for c in df.columns if c in ref.columns and pd.api.types.is_numeric_dtype(df[c])
                   and pd.api.types.is_numeric_dtype(ref[c]) and not pd.api.types.is_bool_dtype(df[c])]
        no_drift = {c for c, r in (schema or {}).get("columns", {}).items() if r.get("drift") is False}
        cols = p.get("drift_columns") or [c for c in numeric if c not in no_drift]
        tables.require_columns(ref, cols, ctx.inputs["reference"])
        tables.require_columns(df, cols, src)
        for col in cols:
            v = psi(ref[col], df[col], p["psi_bins"])
            stat, pvalue = ks(ref[col], df[col])
            ok = v is not None and v <= p["psi_max"] and (p.get("ks_max") is None or stat <= p["ks_max"])
            drift[col] = {"psi": _round(v), "ks_statistic": _round(stat), "ks_pvalue": _round(pvalue),
                          "passed": bool(ok)}
            check("drift", col, ok, psi=_round(v), psi_max=p["psi_max"], ks_statistic=_round(stat),
                  ks_max=p.get("ks_max"))
    failed = [c for c in checks if not c["passed"]]
    return {"passed": not failed, "rows": n, "columns": list(map(str, df.columns)), "checks": checks,
            "failed": failed, "drift": drift}


def _num(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _round(v):
    return None if v is None else round(float(v), 6)


# ---------------------------------------------------------------- train / test

MODELS = ("hgb", "random_forest", "ridge", "linear")


def _estimator(kind, seed, hyper):
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    try:
        if kind == "hgb":
            return HistGradientBoostingRegressor(random_state=seed, **hyper)
        if kind == "random_forest":
            return RandomForestRegressor(random_state=seed, n_jobs=1, **dict({"n_estimators": 100}, **hyper))
        if kind == "ridge":
            return make_pipeline(StandardScaler(), Ridge(**hyper))
        if kind == "linear":
            return make_pipeline(StandardScaler(), LinearRegression(**hyper))
    except TypeError as e:
        raise InputError("bad hyperparameter for {}: {}".format(kind, e)) from None
    raise InputError("unknown model {!r}; valid: {}".format(kind, ", ".join(MODELS)))


def regression_metrics(y_true, y_pred):
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    return {"r2": round(float(r2_score(y_true, y_pred)), 6),
            "mae": round(float(mean_absolute_error(y_true, y_pred)), 6),
            "rmse": round(float(math.sqrt(mean_squared_error(y_true, y_pred))), 6)}


def _xy(df, features, target, path):
    tables.require_columns(df, list(features) + [target], path)
    sub = df[list(features) + [target]]
    for c in sub.columns:
        if not pd.api.types.is_numeric_dtype(sub[c]):
            raise InputError("column {} in {} is {}, a number is required".format(c, path, sub[c].dtype))
    sub = sub.dropna()
    if len(sub) < 10:
        raise InputError("too few complete rows in {} ({}) for features {} and target {}".format(
            path, len(sub), ", ".join(features), target))
    return sub[list(features)].to_numpy(dtype=float), sub[target].to_numpy(dtype=float), len(df) - len(sub)


def train_stage(ctx):
    import sklearn
    from sklearn.model_selection import train_test_split

    from . import models

    p = ctx.params
    src = ctx.inputs["data"]
    df = tables.read_table(src)
    X, y, dropped = _xy(df, p["features"], p["target"], src)
    X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=p["test_size"], random_state=p["seed"])
    from threadpoolctl import threadpool_limits

    est = _estimator(p["model"], p["seed"], p["hyperparameters"])
    with threadpool_limits(limits=p.get("threads", 1)):  # deterministic, and fair on shared nodes
        est.fit(X_tr, y_tr)
    metrics = regression_metrics(y_va, est.predict(X_va))
    bundle = {"estimator": est, "features": list(p["features"]), "target": p["target"]}
    name = models.save(bundle, ctx.workdir, p["format"])
    meta = {"library": "scikit-learn", "libraryVersion": sklearn.__version__, "format": p["format"],
            "estimator": type(est).__name__, "features": list(p["features"]), "target": p["target"],
            "parameters": {"model": p["model"], "hyperparameters": p["hyperparameters"], "seed": p["seed"],
                           "test_size": p["test_size"]},
            "training_data_sha256": sha256_file(src), "rows_train": len(y_tr), "rows_validation": len(y_va)}
    ctx.add_artifact(name, "model", characteristics={"metrics": metrics}, metadata=meta, primary=True)
    return {"metrics": metrics, "rows_train": int(len(y_tr)), "rows_validation": int(len(y_va)),
            "rows_dropped_missing": int(dropped), "estimator": type(est).__name__}


def parse_gates(mins, maxs):
    gates = []
    for op, items in ((">=", mins or []), ("<=", maxs or [])):
        for item in items:
            name, sep, value = item.partition("=")
            if not sep or name not in ("r2", "mae", "rmse"):
                raise InputError("bad threshold {!r}: use METRIC=VALUE with METRIC one of r2, mae, rmse".format(item))
            try:
                gates.append({"metric": name, "op": op, "threshold": float(value)})
            except ValueError:
                raise InputError("bad threshold value in {!r}".format(item)) from None
    return gates


def evaluate_stage(ctx):
    from . import models

    p = ctx.params
    bundle = models.load(ctx.inputs["model"], allow_pickle=p["allow_pickle"])
    src = ctx.inputs["data"]
    df = tables.read_table(src)
    X, y, dropped = _xy(df, bundle["features"], bundle["target"], src)
    try:
        pred = bundle["estimator"].predict(X)
    except Exception as e:  # noqa: BLE001 - an estimator can raise anything on bad input
        raise StageError("model prediction failed: {}".format(e)) from None
    metrics = regression_metrics(y, pred)
    results = []
    for g in p["gates"]:
        v = metrics[g["metric"]]
        ok = v >= g["threshold"] if g["op"] == ">=" else v <= g["threshold"]
        results.append(dict(g, value=v, passed=bool(ok)))
    failed = [r for r in results if not r["passed"]]
    return {"passed": not failed, "metrics": metrics, "gates": results, "failed": failed,
            "message": "all thresholds met" if not failed else "; ".join(
                "{} = {} violates {} {}".format(f["metric"], f["value"], f["op"], f["threshold"]) for f in failed),
            "rows": int(len(y)), "rows_dropped_missing": int(dropped)}
