"""Fixtures for the stage tests: real data files made by the datagen stage, real keys."""

import json
import os
import sys

import pytest

# Use the working tree's hx_stages even where it is not installed (the editable install is still
# what provides the hx-stage entry point), here and in the stage processes the tests start.
SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "stage_runner", "src"))
if SRC not in sys.path:
    sys.path.insert(0, SRC)

from hx_stages import cli  # noqa: E402


@pytest.fixture(autouse=True)
def _stage_pythonpath(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p))


class Runner:
    def __init__(self, runs_dir, capsys):
        self.runs_dir = str(runs_dir)
        self.capsys = capsys

    def __call__(self, *argv):
        argv = [str(a) for a in argv]
        if "--runs-dir" not in argv:
            argv = argv[:1] + ["--runs-dir", self.runs_dir] + argv[1:]
        self.capsys.readouterr()
        code = cli.main(argv)
        out = self.capsys.readouterr().out.strip().splitlines()
        report = json.loads(out[-1])
        assert report["exit_code"] == code
        return code, report

    def run_dirs(self):
        """Complete run directories and any leftovers (partials, trash)."""
        if not os.path.isdir(self.runs_dir):
            return [], []
        names = os.listdir(self.runs_dir)
        complete = [n for n in names if not n.startswith(".")]
        leftovers = [n for n in names if n.startswith(".") and not n.startswith(".lock-") and n != ".downloads"]
        return complete, leftovers


@pytest.fixture
def run(tmp_path, capsys):
    return Runner(tmp_path / "runs", capsys)


@pytest.fixture(scope="session")
def datasets(tmp_path_factory):
    """train (2000 rows), holdout (600), drifted (600), as CSV and Parquet, made by the datagen stage."""
    d = tmp_path_factory.mktemp("data")
    runs = str(d / "runs")
    out = {}
    for name, rows, seed, drift, fmt in (("train", 2000, 1, 0.0, "csv"), ("holdout", 600, 2, 0.0, "csv"),
                                         ("drift", 600, 3, 1.0, "csv"), ("train_pq", 2000, 1, 0.0, "parquet")):
        path = d / "{}.{}".format(name, fmt)
        code = cli.main(["datagen", "--runs-dir", runs, "--rows", str(rows), "--seed", str(seed), "--drift",
                         str(drift), "--format", fmt, "--output", str(path)])
        assert code == 0
        out[name] = str(path)
    return out


@pytest.fixture
def aes_key(monkeypatch):
    key = os.urandom(32)
    monkeypatch.setenv("HX_STAGE_KEY", key.hex())
    return key
