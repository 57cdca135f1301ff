"""Strict reading and atomic writing of tabular data (CSV, Parquet)."""

import csv
import os
import re

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .errors import InputError
from .util import atomic_path

FORMATS = ("csv", "parquet")


def detect_format(path):
    ext = os.path.splitext(path)[1].lower()
    if ext == ".csv":
        return "csv"
    if ext in (".parquet", ".pq"):
        return "parquet"
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise InputError("cannot read {}: {}".format(path, e.strerror)) from None
    if head == b"PAR1":
        return "parquet"
    return "csv"


def read_table(path, fmt=None, string_columns=()):
    """Read a table into pandas. CSV rows with the wrong number of fields, or a Parquet file
    without a valid footer, raise InputError naming the file and the problem."""
    if not os.path.isfile(path):
        raise InputError("input file not found: {}".format(path))
    fmt = fmt or detect_format(path)
    try:
        if fmt == "csv":
            if os.path.getsize(path) == 0:
                raise InputError("corrupt CSV {}: file is empty".format(path))
            # Everything is read as text first (pyarrow still rejects ragged rows), then numbers are
            # converted here so that identifiers such as IMSIs keep their leading zeros.
            names = _csv_header(path)
            convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in names}, strings_can_be_null=True)
            table = pacsv.read_csv(path, convert_options=convert)
        elif fmt == "parquet":
            table = pq.read_table(path)
        else:
            raise InputError("unknown format {!r}; valid: {}".format(fmt, ", ".join(FORMATS)))
    except InputError:
        raise
    except (pa.ArrowInvalid, pa.ArrowException, OSError, ValueError) as e:
        raise InputError("corrupt {} file {}: {}".format(fmt.upper() if fmt == "csv" else "Parquet", path,
                                                         str(e).splitlines()[0])) from None
    df = table.to_pandas()
    if fmt == "csv":
        for c in df.columns:
            if c not in string_columns:
                df[c] = _infer(df[c])
    for c in string_columns:
        if c in df.columns:
            df[c] = df[c].astype(object)
    return df


def _csv_header(path):
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        try:
            header = next(csv.reader(f))
        except StopIteration:
            raise InputError("corrupt CSV {}: no header line".format(path)) from None
        except csv.Error as e:
            raise InputError("corrupt CSV {}: {}".format(path, e)) from None
    if len(set(header)) != len(header) or any(not h for h in header):
        raise InputError("corrupt CSV {}: empty or duplicate column names in header".format(path))
    return header


_LEADING_ZERO = re.compile(r"^[+-]?0\d")


def _infer(s):
    """Text column -> int64 / float64 when every non-empty value is a number, unless some value
    has a leading zero (an identifier, not a quantity)."""
    vals = s.dropna()
    if len(vals) == 0:
        return s
    text = vals.astype(str)
    if text.str.match(_LEADING_ZERO).any():
        return s.astype(object)
    num = pd.to_numeric(vals, errors="coerce")
    if num.isna().any():
        return s.astype(object)
    full = pd.to_numeric(s, errors="coerce")
    if s.isna().sum() == 0 and (num == num.round()).all() and not text.str.contains(r"[.eE]", regex=True).any():
        return full.astype("int64")
    return full.astype("float64")


def require_columns(df, columns, path):
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError("missing column(s) {} in {}; available: {}".format(
            ", ".join(missing), path, ", ".join(map(str, df.columns))))


def write_table(df, path, fmt):
    """Write atomically (temp file + rename)."""
    with atomic_path(path) as tmp:
        if fmt == "csv":
            df.to_csv(tmp, index=False, lineterminator="\n")
        elif fmt == "parquet":
            table = pa.Table.from_pandas(df, preserve_index=False)
            pq.write_table(table, tmp)
        else:
            raise InputError("unknown format {!r}; valid: {}".format(fmt, ", ".join(FORMATS)))
    return path


def data_model(df, fmt):
    """A description of the table, uploaded as the Dataset Sharing API's dataModelFile."""
    return {
        "format": fmt,
        "rows": int(len(df)),
        "columns": [{"name": str(c), "type": str(t)} for c, t in df.dtypes.items()],
    }


def ensure_df(obj):
    if not isinstance(obj, pd.DataFrame):
        raise TypeError("expected a DataFrame")
    return obj
