"""Throughput of `losswatch serve --workers 2` on PostgreSQL under 8 concurrent writers, each on its own run.

Starts a throwaway PostgreSQL 15 (initdb/pg_ctl as the `postgres` user when run as root, since PostgreSQL refuses
root) on 127.0.0.1, serves losswatch on it with 2 uvicorn workers, and lets 8 writer processes (one keep-alive
connection each) send their points in batches. Points per second = all points / (last writer done - first start).
Afterwards every run's stored count is checked against what its writer sent. For reference the same load runs
against one worker on SQLite. Any 5xx or connection error is counted and the first ones are quoted in the report.
    python bench/pg_writers.py [--writers 8] [--points 25000] [--batch 1000] [--pg-bin /usr/lib/postgresql/15/bin]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import free_port, machine, start_server, write_section  # noqa: E402


def as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class Postgres:
    """A scratch cluster in a temp dir, on loopback, trusting local connections; gone after stop()."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="losswatch-bench-pg-"))
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")

    def run(self, *cmd: str) -> None:
        r = subprocess.run(as_postgres([str(self.bin / cmd[0]), *cmd[1:]]), capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(f"{cmd[0]} failed ({r.returncode}): {r.stderr.strip() or r.stdout.strip()}")

    def start(self, db: str) -> str:
        self.run("initdb", "-D", str(self.dir), "-A", "trust", "-U", "postgres")
        self.run(
            "pg_ctl",
            "-D",
            str(self.dir),
            "-l",
            str(self.dir / "server.log"),
            "-w",
            "-o",
            f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200",
            "start",
        )
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", db)
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        if (self.dir / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.dir), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Result:
    run_id: str
    sent: int = 0
    acked: int = 0
    start: float = 0.0
    end: float = 0.0
    errors: list[str] = field(default_factory=list)


def writer(url: str, index: int, n: int, batch: int, barrier: mp.synchronize.Barrier, out: mp.Queue) -> None:
    with httpx.Client(base_url=url + "/api/v1", timeout=120) as c:
        res = Result(c.post("/runs", json={"name": f"bench-writer-{index}"}).json()["id"])
        pts = [{"key": "loss", "step": s, "value": 1.0 / (1 + s) + 0.001 * index} for s in range(n)]
        barrier.wait()
        res.start = time.monotonic()  # CLOCK_MONOTONIC: comparable across processes of one machine
        for i in range(0, n, batch):
            res.sent += len(pts[i : i + batch])
            try:
                r = c.post(f"/runs/{res.run_id}/metrics", json={"points": pts[i : i + batch]})
                if r.status_code >= 400:
                    res.errors.append(f"HTTP {r.status_code}: {r.text[:500]}")
                else:
                    body = r.json()
                    res.acked += body["accepted"] + body["duplicates"]
            except httpx.HTTPError as exc:
                res.errors.append(f"{type(exc).__name__}: {exc}")
        res.end = time.monotonic()
    out.put(res)


def load(url: str, writers: int, n: int, batch: int) -> tuple[float, list[Result], dict[str, int]]:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(writers + 1), ctx.Queue()
    procs = [ctx.Process(target=writer, args=(url, i, n, batch, barrier, out)) for i in range(writers)]
    for p in procs:
        p.start()
    barrier.wait(timeout=120)
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    rate = sum(r.acked for r in results) / (max(r.end for r in results) - min(r.start for r in results))
    with httpx.Client(base_url=url + "/api/v1", timeout=60) as c:
        stored = {r.run_id: sum(k["count"] for k in c.get(f"/runs/{r.run_id}/metrics").json()["keys"]) for r in results}
    return rate, results, stored


def row(label: str, rate: float, results: list[Result], stored: dict[str, int], n: int) -> str:
    errors = sum(len(r.errors) for r in results)
    exact = sum(stored[r.run_id] == n for r in results)
    return f"| {label} | {rate:,.0f} | {exact}/{len(results)} | {errors} |\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--points", type=int, default=25_000, help="points per writer")
    ap.add_argument("--batch", type=int, default=1_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pg-bin", type=Path, default=Path("/usr/lib/postgresql/15/bin"))
    a = ap.parse_args()
    loadavg = os.getloadavg()[0]  # others' work on the machine moves absolute numbers
    lines, failures = [], []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        pg, log = Postgres(a.pg_bin), tmp / "pg-serve.log"
        try:
            dsn = pg.start("losswatch")
            proc, url = start_server(
                tmp / "pg-data", log=log, args=["--workers", str(a.workers), "--database-url", dsn]
            )
            try:
                rate, results, stored = load(url, a.writers, a.points, a.batch)
            finally:
                proc.terminate()
                proc.wait()
            lines.append(row(f"PostgreSQL 15, {a.workers} workers", rate, results, stored, a.points))
            failures += [f"PostgreSQL writer {i}: {e}" for i, r in enumerate(results) for e in r.errors[:2]]
            if any(r.errors for r in results):
                failures.append("server log tail:\n" + log.read_text()[-3000:])
        except Exception as exc:  # a broken multi-worker path is a result to report, not a reason to stop
            lines.append(f"| PostgreSQL 15, {a.workers} workers | failed | - | - |\n")
            failures.append(f"PostgreSQL run failed: {type(exc).__name__}: {exc}")
            if log.exists():
                failures.append("server log tail:\n" + log.read_text()[-3000:])
        finally:
            pg.stop()
        proc, url = start_server(tmp / "sqlite-data", log=tmp / "sqlite-serve.log")
        try:
            rate, results, stored = load(url, a.writers, a.points, a.batch)
        finally:
            proc.terminate()
            proc.wait()
        lines.append(row("SQLite, 1 worker (reference)", rate, results, stored, a.points))
        failures += [f"SQLite writer {i}: {e}" for i, r in enumerate(results) for e in r.errors[:2]]
    body = (
        f"## PostgreSQL, {a.workers} workers, {a.writers} concurrent writers (`bench/pg_writers.py`)\n\n"
        f"{machine()}, load average {loadavg:.1f} at start;\n"
        f"{a.writers} writer processes, each on its own run, {a.points:,} points each in batches of "
        f"{a.batch}; server, database and writers share the machine; PostgreSQL with its default durability "
        f"(fsync and synchronous_commit on), SQLite in WAL mode, synchronous=NORMAL (as losswatch sets it).\n\n"
        f"| backend | points/s (all writers) | runs with exactly their points | failed requests |\n"
        f"|---|---|---|---|\n{''.join(lines)}"
    )
    if failures:
        body += "\nFailures:\n\n```\n" + "\n".join(failures)[:6000] + "\n```\n"
    write_section("pg_writers", body)
    print(body)


if __name__ == "__main__":
    main()
