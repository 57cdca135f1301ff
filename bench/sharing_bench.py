#!/usr/bin/env python3
"""Benchmark the sharing services against the same MinIO, in one run.

1. Transfer: a model of HX_BENCH_SIZE_MB MiB (default 1024) uploaded and downloaded through the
   Model Sharing API (hx_sharing.client, streaming + SHA-256 verify on both ends) versus direct
   boto3 (upload_file / download_file, its default multi-threaded transfer) to the same MinIO,
   after an untimed warm-up, in HX_BENCH_ROUNDS (default 4) rounds that alternate which path goes first.
   Prints the median throughput of each and the median API/direct ratio (target >= 0.8).
2. Memory: the service runs as a subprocess; its peak RSS (VmHWM from /proc/<pid>/status) during
   the transfers is printed (target < 150 MB).
3. Catalog: HX_BENCH_ENTRIES (default 10,000) models in the catalog, HX_BENCH_CLIENTS (default 50)
   concurrent clients (connections of wrk, a C load generator: a Python client would be the
   bottleneck on 2 cores) issuing filtered catalog queries for HX_BENCH_SECONDS (default 10); the
   query mix is bench/catalog_load.lua. Two phases: with a cold catalog cache (seeding changed the
   catalog), then the same mix again (steady state). p50/p99 latency printed for each (target p99
   < 50 ms), and the service's CPU per request.

Nothing is asserted about time: the numbers are printed with their ratios to the targets.
Run small:  HX_BENCH_SIZE_MB=64 HX_BENCH_ENTRIES=1000 HX_BENCH_SECONDS=3 .venv/bin/python bench/sharing_bench.py
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.fixtures.services import MinioServer, PostgresServer, ToolMissing, free_port, wait_for  # noqa: E402

MiB = 1024 * 1024
SIZE_MB = int(os.environ.get("HX_BENCH_SIZE_MB", "1024"))
ENTRIES = int(os.environ.get("HX_BENCH_ENTRIES", "10000"))
CLIENTS = int(os.environ.get("HX_BENCH_CLIENTS", "50"))
SECONDS = int(os.environ.get("HX_BENCH_SECONDS", "10"))
WORKERS = int(os.environ.get("HX_BENCH_WORKERS", "1"))
ROUNDS = int(os.environ.get("HX_BENCH_ROUNDS", "4"))


def log(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


class RssSampler(threading.Thread):
    """Samples VmRSS of a process every 50 ms; VmHWM (the kernel's own peak) is read at the end."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_rss_kb = 0
        self._halt = threading.Event()

    def _status(self) -> dict[str, int]:
        out = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                k, v = line.split(":", 1)
                out[k] = int(v.split()[0])
        return out

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.peak_rss_kb = max(self.peak_rss_kb, self._status()["VmRSS"])
            except (OSError, KeyError):
                return
            time.sleep(0.05)

    def hwm_kb(self) -> int:
        return self._status()["VmHWM"]

    def stop(self) -> None:
        self._halt.set()


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process: a load-independent cost next to the wall-clock numbers."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_file(path: Path, size: int) -> None:
    block = os.urandom(4 * MiB)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


def timed(fn, *a, **kw) -> float:
    t = time.perf_counter()
    fn(*a, **kw)
    return time.perf_counter() - t


def seed_catalog(db_url: str, n: int) -> list[str]:
    import psycopg

    names = [f"bench-model-{i}" for i in range(max(1, n // 10))]
    rows = []
    statuses = ["production", "staging", "development", "training"]
    for i in range(n):
        name = names[i % len(names)]
        rows.append(
            (
                name,
                f"1.{i // len(names)}.0",
                statuses[i % 4],
                "torch",
                "2.4",
                f"domain-{i % 7}",
                f"tag-{i % 100}",
                json.dumps({"i": i}),
                json.dumps({"acc": 0.9}),
                f"models/fake-{i}",
                1,
                "0" * 64,
                "bench",
                "bench",
            )
        )
    with psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql")) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY model (name, version, status, library, library_version, domain, tag, parameters, characteristics,"
            " object_key, size_bytes, sha256, created_by, status_changed_by) FROM STDIN"
        ) as copy:
            for r in rows:
                copy.write_row(r)
        # a catalog of this size has long been vacuumed (hint bits set, statistics fresh) in a real
        # domain; without it the first scans after the bulk COPY pay for that housekeeping
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE model")
    return names


def catalog_load(url: str, token: str, names: list[str]) -> dict:
    """wrk with bench/catalog_load.lua: CLIENTS connections, each sending its next query when the
    previous answer arrived, for SECONDS; returns wrk's numbers (latencies in microseconds)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise ToolMissing("wrk not found: apt-get install wrk (make setup installs it)")
    env = {**os.environ, "HX_TOKEN": token, "HX_NAMES": str(len(names)), "HX_TAGS": "100"}
    proc = subprocess.run(
        [wrk, "-t1", f"-c{CLIENTS}", f"-d{SECONDS}s", "--timeout", "10s", "-s", str(ROOT / "bench" / "catalog_load.lua"), url],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(line[len("WRK_JSON ") :])


def _fmt(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main() -> int:
    from hx_sharing import clients
    from hx_sharing.client import SharingClient
    from hx_sharing.db import Database
    from hx_sharing.migrate import upgrade
    from hx_sharing.settings import Settings

    if shutil.which("wrk") is None:  # checked first: the catalog phase comes last
        print("ERROR: wrk not found: apt-get install wrk (make setup installs it)", file=sys.stderr)
        return 2
    try:
        pg = PostgresServer().start()
        minio = MinioServer().start()
    except ToolMissing as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="hx-bench-"))
    proc = None
    try:
        db_url = pg.create_database("sharing")
        upgrade(db_url)
        settings = Settings(database_url=db_url, _env_file=None)
        db = Database(settings)
        token = clients.create_client(db, "bench", ["read:model", "write:model"])
        db.dispose()

        port = free_port()
        env = {
            **os.environ,
            "HX_SHARING_DATABASE_URL": db_url,
            "HX_SHARING_S3_ENDPOINT_URL": minio.endpoint,
            "HX_SHARING_S3_ACCESS_KEY": minio.access_key,
            "HX_SHARING_S3_SECRET_KEY": minio.secret_key,
            "HX_SHARING_MAX_UPLOAD_BYTES": str(max(SIZE_MB, 1) * MiB * 2),
            "HX_SHARING_LOG_LEVEL": "WARNING",
        }
        bin_dir = Path(sys.executable).parent
        service_log = open(work / "service.log", "wb")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(
            [str(bin_dir / "hx-model-sharing"), "--port", str(port), "--workers", str(WORKERS)],
            env=env,
            stdout=service_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        wait_for(
            lambda: httpx.get(f"{url}/api/v1/health", timeout=5).status_code == 200,
            60,
            "model sharing",
            proc,
            work / "service.log",
        )
        sampler = RssSampler(proc.pid)
        base_rss_mb = sampler._status()["VmRSS"] / 1024
        sampler.start()

        size = SIZE_MB * MiB
        src = work / "model.bin"
        log(f"writing a {SIZE_MB} MiB test file")
        make_file(src, size)

        s3 = minio.s3_client()
        s3.create_bucket(Bucket="bench-direct")
        # Warm-up, untimed, through both paths: MinIO's first writes (bucket metadata, Go heap
        # growth) and the service's (thread pools, heap, connections) would otherwise be charged
        # to the first round.
        warm = work / "warm.bin"
        make_file(warm, min(size, 64 * MiB))
        s3.upload_file(str(warm), "bench-direct", "warm.bin")
        s3.download_file("bench-direct", "warm.bin", str(work / "warm.out"))

        rounds: list[dict[str, float]] = []
        with SharingClient(url, token, timeout=600) as c:
            warm_meta = c.upload_model(
                warm, name="bench-warm-up", version="1", status="production", library="torch",
                libraryVersion="2.4", domain="bench", tag="bench",
            )  # fmt: skip
            c.download_model(warm_meta["modelIdentifier"], work / "warm.out")
            c.delete_model(warm_meta["modelIdentifier"], "1")
            for i in range(ROUNDS):
                # Each round moves the file both ways, directly and through the API; which goes first
                # alternates, so drift in the machine's state (page cache, other load) lands on both.
                # The medians of the per-round ratios are reported.
                r: dict[str, float] = {}

                def direct(r=r) -> None:
                    r["direct_up"] = timed(s3.upload_file, str(src), "bench-direct", "model.bin")
                    r["direct_down"] = timed(s3.download_file, "bench-direct", "model.bin", str(work / "direct.out"))
                    (work / "direct.out").unlink()
                    s3.delete_object(Bucket="bench-direct", Key="model.bin")

                def api(r=r, i=i) -> None:
                    cpu0 = cpu_seconds(proc.pid)
                    t = time.perf_counter()
                    meta = c.upload_model(
                        src,
                        name="bench",
                        version=f"1.0.{i}",
                        status="production",
                        library="torch",
                        libraryVersion="2.4",
                        domain="bench",
                        tag="bench",
                    )
                    r["api_up"] = time.perf_counter() - t
                    cpu1 = cpu_seconds(proc.pid)
                    r["api_down"] = timed(c.download_model, meta["modelIdentifier"], work / "api.out")
                    r["cpu_up"], r["cpu_down"] = cpu1 - cpu0, cpu_seconds(proc.pid) - cpu1
                    (work / "api.out").unlink()
                    c.delete_model(meta["modelIdentifier"], meta["version"])

                for step in (direct, api) if i % 2 == 0 else (api, direct):
                    step()
                rounds.append(r)
                log(
                    f"round {i + 1}/{ROUNDS} ({'direct' if i % 2 == 0 else 'API'} first): upload ratio "
                    f"{r['direct_up'] / r['api_up']:.2f} ({SIZE_MB / r['direct_up']:.0f} / {SIZE_MB / r['api_up']:.0f} MiB/s), "
                    f"download ratio {r['direct_down'] / r['api_down']:.2f} "
                    f"({SIZE_MB / r['direct_down']:.0f} / {SIZE_MB / r['api_down']:.0f} MiB/s)"
                )
        sampler.stop()
        sampler.join()
        hwm_mb = sampler.hwm_kb() / 1024

        def med(key: str) -> float:
            return statistics.median(r[key] for r in rounds)

        def mbps(seconds: float) -> float:
            return size / MiB / seconds

        up_ratios = [r["direct_up"] / r["api_up"] for r in rounds]
        down_ratios = [r["direct_down"] / r["api_down"] for r in rounds]
        up_ratio, down_ratio = statistics.median(up_ratios), statistics.median(down_ratios)
        trip_ratio = statistics.median(
            (r["direct_up"] + r["direct_down"]) / (r["api_up"] + r["api_down"]) for r in rounds
        )
        print()
        print(f"== transfer of {SIZE_MB} MiB, median of {ROUNDS} alternating rounds (API: streaming + SHA-256 verified at both ends) ==")
        print(
            f"upload    direct boto3 {mbps(med('direct_up')):8.1f} MiB/s   API {mbps(med('api_up')):8.1f} MiB/s   "
            f"ratio {up_ratio:5.2f} (target >= 0.80; rounds {_fmt(up_ratios)})"
        )
        print(
            f"download  direct boto3 {mbps(med('direct_down')):8.1f} MiB/s   API {mbps(med('api_down')):8.1f} MiB/s   "
            f"ratio {down_ratio:5.2f} (target >= 0.80; rounds {_fmt(down_ratios)})"
        )
        gib = size / (1024 * MiB)
        print(
            f"service CPU per GiB: upload {med('cpu_up') / gib:5.2f} s, download {med('cpu_down') / gib:5.2f} s "
            f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: wall-clock numbers are shared-machine)"
        )
        print(f"round trip ratio {trip_ratio:5.2f} (target >= 0.80)")
        print(f"== service memory (workers={WORKERS}, pid {proc.pid}) ==")
        print(
            f"RSS at start {base_rss_mb:6.1f} MB; peak during transfers VmHWM {hwm_mb:6.1f} MB "
            f"(sampled peak {sampler.peak_rss_kb / 1024:6.1f} MB); target < 150 MB: ratio {hwm_mb / 150:4.2f}"
        )
        if WORKERS > 1:
            print("  (with several workers this is the supervisor process only)")

        log(f"seeding {ENTRIES} catalog entries")
        names = seed_catalog(db_url, ENTRIES)
        print(f"== catalog: {ENTRIES} entries, {CLIENTS} concurrent clients (wrk), {SECONDS} s per phase ==")
        failed = 0
        # cold: the cache holds nothing of the new catalog; then the same mix again, steady state
        for phase in ("cold cache", "steady state"):
            cpu3 = cpu_seconds(proc.pid)
            res = catalog_load(url, token, names)
            cpu_ms = (cpu_seconds(proc.pid) - cpu3) / max(1, res["requests"]) * 1000
            errors = sum(v for k, v in res.items() if k.startswith("errors_"))
            failed += errors
            p50, p99 = res["p50_us"] / 1000, res["p99_us"] / 1000
            print(
                f"{phase:12}  p50 {p50:6.1f} ms  p90 {res['p90_us'] / 1000:6.1f} ms  p99 {p99:6.1f} ms  "
                f"max {res['max_us'] / 1000:6.1f} ms  {res['requests'] / (res['duration_us'] / 1e6):6.0f} req/s  "
                f"errors {errors}  service CPU {cpu_ms:.2f} ms/request  p99 vs target 50 ms: ratio {p99 / 50:4.2f}"
            )
        if failed:
            print(f"ERROR: {failed} failed catalog requests", file=sys.stderr)
            return 1
        return 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        minio.cleanup()
        pg.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
