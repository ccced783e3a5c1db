"""losswatch vs MLflow's tracking server on the same machine, the same points, in the same run, as ratios.

(a) Ingest: losswatch `POST /runs/{id}/metrics` vs MLflow `POST /api/2.0/mlflow/runs/log-batch`, both in batches of
    1000 points (MLflow's maximum per call; losswatch's columnar by default, as its own clients send them, each
    side in its own best form), one keep-alive connection each, rounds interleaved; warm median. Twice: with
    httpx as the client, and with the standard library's http.client, whose own cost per request is a
    fraction of httpx's (a comparison of the servers charges the client to neither). losswatch's rounds carry
    10x the points of MLflow's, so that both last about as long and a passing stall weighs the same on both.
(b) Drawing a 1M-point key: losswatch `GET /runs/{id}/metrics/loss?max_points=1000` (TensorBoard smoothing over the
    whole series, then min/max downsampling) vs MLflow's sampled chart endpoint `get-history-bulk-interval` with
    `max_results=1000`; warm median latency.

MLflow lives in its own venv (bench/.venv-mlflow, created once from bench/requirements-mlflow.txt) so its pins never
touch ours; `mlflow server` runs with a SQLite backend on loopback, one worker like losswatch.
Filling MLflow with 1M points over REST takes minutes, so by default they are written straight into MLflow's own
SQLite schema (`metrics` rows exactly as log-batch writes them, plus `latest_metrics`), into a run created over
REST; `--mlflow-load rest` loads them through log-batch instead.
    python bench/mlflow_compare.py [--points 15000] [--rounds 5] [--draw-points 1000000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ROOT, free_port, machine, start_server, write_section  # noqa: E402

VENV = ROOT / "bench" / ".venv-mlflow"
REQUIREMENTS = ROOT / "bench" / "requirements-mlflow.txt"
BATCH = 1000  # MLflow's log-batch limit; losswatch gets the same batches
KEY = "loss"


def ensure_mlflow() -> Path:
    exe = VENV / "bin" / "mlflow"
    if not exe.exists():
        print(f"creating {VENV} (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "-r", str(REQUIREMENTS)], check=True)
    return exe


def mlflow_version() -> str:
    out = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def start_mlflow(tmp: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    # Its own session, so stopping it also stops the uvicorn worker it forks.
    proc = subprocess.Popen(
        [
            str(ensure_mlflow()),
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp / 'mlflow.db'}",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=tmp,
        start_new_session=True,
        stdout=open(tmp / "mlflow.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {(tmp / 'mlflow.log').read_text()[-2000:]}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(proc)
    raise RuntimeError("mlflow server did not start")


def stop(proc: subprocess.Popen, group: bool = False) -> None:
    if proc.poll() is None:
        if group:
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL) if group else proc.kill()
            proc.wait()


def curve(step: int) -> float:
    # A falling, noisy training loss; deterministic so both services get identical values.
    return 2.0 * math.exp(-step / 250_000) + 0.3 + 0.05 * math.sin(step * 0.7)


def points(start: int, n: int, t0: float) -> list[tuple[int, float, float]]:
    return [(s, curve(s), t0 + s * 0.01) for s in range(start, start + n)]


JSON = {"Content-Type": "application/json"}
CLIENTS = ("httpx", "http.client")


class Poster:
    """POSTs encoded bodies on one keep-alive connection, with httpx or with the standard library."""

    def __init__(self, url: str, client: str) -> None:
        self.client = client
        if client == "httpx":
            self.c = httpx.Client(base_url=url, timeout=300)
        else:
            host, port = url.removeprefix("http://").rsplit(":", 1)
            self.conn = http.client.HTTPConnection(host, int(port), timeout=300)

    def reopen(self) -> None:
        """Before a round: the server has closed a connection idle longer than its keep-alive (httpx notices
        on its own; http.client would fail on it)."""
        if self.client != "httpx":
            self.conn.close()

    def __call__(self, path: str, body: bytes) -> None:
        if self.client == "httpx":
            self.c.post(path, content=body, headers=JSON).raise_for_status()
            return
        self.conn.request("POST", path, body=body, headers=JSON)
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"POST {path}: {r.status} {data[:300]!r}")


class Losswatch:
    def __init__(self, url: str, columnar: bool = True) -> None:
        self.c = httpx.Client(base_url=url, timeout=120)
        self.columnar = columnar

    def create_run(self, name: str) -> str:
        r = self.c.post("/api/v1/runs", json={"name": name})
        r.raise_for_status()
        return r.json()["id"]

    def encode(self, run: str, pts: list[tuple[int, float, float]]) -> tuple[str, bytes]:
        if self.columnar:  # what losswatch's own clients send: one object per key
            series = {"key": KEY, "steps": [s for s, _, _ in pts], "values": [v for _, v, _ in pts]}
            series["times"] = [t for _, _, t in pts]
            body: dict = {"series": [series]}
        else:
            body = {"points": [{"key": KEY, "step": s, "value": v, "time": t} for s, v, t in pts]}
        return f"/api/v1/runs/{run}/metrics", json.dumps(body).encode()

    def post(self, path: str, body: bytes) -> None:
        self.c.post(path, content=body, headers=JSON).raise_for_status()

    def send(self, run: str, pts: list[tuple[int, float, float]]) -> None:
        self.post(*self.encode(run, pts))

    def draw(self, run: str) -> int:
        r = self.c.get(f"/api/v1/runs/{run}/metrics/{KEY}", params={"max_points": 1000})
        r.raise_for_status()
        return len(r.json()["points"])


class MLflow:
    def __init__(self, url: str) -> None:
        self.c = httpx.Client(base_url=url, timeout=300)
        r = self.c.post("/api/2.0/mlflow/experiments/create", json={"name": "bench"})
        r.raise_for_status()
        self.experiment = r.json()["experiment_id"]

    def create_run(self, name: str) -> str:
        r = self.c.post(
            "/api/2.0/mlflow/runs/create",
            json={"experiment_id": self.experiment, "run_name": name, "start_time": int(time.time() * 1000)},
        )
        r.raise_for_status()
        return r.json()["run"]["info"]["run_id"]

    def encode(self, run: str, pts: list[tuple[int, float, float]]) -> tuple[str, bytes]:
        body = {
            "run_id": run,
            "metrics": [{"key": KEY, "value": v, "timestamp": int(t * 1000), "step": s} for s, v, t in pts],
        }
        return "/api/2.0/mlflow/runs/log-batch", json.dumps(body).encode()

    def post(self, path: str, body: bytes) -> None:
        self.c.post(path, content=body, headers=JSON).raise_for_status()

    def send(self, run: str, pts: list[tuple[int, float, float]]) -> None:
        self.post(*self.encode(run, pts))

    def draw(self, run: str) -> int:
        r = self.c.get(
            "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval",
            params={"run_ids": run, "metric_key": KEY, "max_results": 1000},
        )
        r.raise_for_status()
        return len(r.json()["metrics"])


def load_mlflow_sqlite(db_path: Path, run: str, n: int, t0: float) -> None:
    """Write n points into MLflow's own tables, as its SqlAlchemyStore._log_metrics would (steps ascending)."""
    db = sqlite3.connect(db_path, timeout=60)
    chunk = 100_000
    for start in range(0, n, chunk):
        rows = [(KEY, v, int(t * 1000), run, s, 0) for s, v, t in points(start, min(chunk, n - start), t0)]
        with db:
            db.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)", rows
            )
    s, v, t = points(n - 1, 1, t0)[0]
    with db:
        db.execute(
            "INSERT OR REPLACE INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
            "VALUES (?, ?, ?, ?, 0, ?)",
            (KEY, v, int(t * 1000), s, run),
        )
    db.close()


def fill(side: Losswatch | MLflow, run: str, n: int, t0: float, batch: int) -> None:
    for start in range(0, n, batch):
        side.send(run, points(start, min(batch, n - start), t0))


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def ingest_round(side: Losswatch | MLflow, post: Poster, run: str, start: int, n: int, t0: float) -> float:
    # Bodies are encoded before the clock starts: the comparison is of the servers, not of the client.
    bodies = [side.encode(run, points(s, min(BATCH, start + n - s), t0)) for s in range(start, start + n, BATCH)]
    post.reopen()
    t = time.perf_counter()
    for path, body in bodies:
        post(path, body)
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=15_000, help="points per MLflow ingest round (losswatch: 10x)")
    ap.add_argument("--rounds", type=int, default=5, help="measured ingest rounds (after a warm-up round)")
    ap.add_argument("--draw-points", type=int, default=1_000_000)
    ap.add_argument("--draws", type=int, default=5, help="measured draws per side (after 2 warm-up draws)")
    ap.add_argument("--mlflow-load", choices=["sqlite", "rest"], default="sqlite")
    ap.add_argument(
        "--losswatch-form", choices=["columnar", "rows"], default="columnar", help="how losswatch gets its batches"
    )
    a = ap.parse_args()
    loadavg = os.getloadavg()[0]  # others' work on the machine moves absolute numbers
    ensure_mlflow()
    version = mlflow_version()
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        lw_proc, lw_url = start_server(tmp / "lw", log=tmp / "losswatch.log")
        ml_proc, ml_url = start_mlflow(tmp)
        try:
            lw, ml = Losswatch(lw_url, a.losswatch_form == "columnar"), MLflow(ml_url)
            # (a) ingest: a warm-up round, then interleaved rounds on the same run, continuing the steps.
            lw_run, ml_run = lw.create_run("bench-ingest"), ml.create_run("bench-ingest")
            warm, lw_points = 10 * BATCH, 10 * a.points
            posters = {c: (Poster(lw_url, c), Poster(ml_url, c)) for c in CLIENTS}
            lw_next = ml_next = 0  # the next step of each run: rounds continue the same run
            for lw_post, ml_post in posters.values():
                ingest_round(lw, lw_post, lw_run, lw_next, warm, t0)
                ingest_round(ml, ml_post, ml_run, ml_next, warm, t0)
                lw_next, ml_next = lw_next + warm, ml_next + warm
            lw_rates: dict[str, list[float]] = {c: [] for c in CLIENTS}
            ml_rates: dict[str, list[float]] = {c: [] for c in CLIENTS}
            for i in range(a.rounds):
                for client, (lw_post, ml_post) in posters.items():
                    lw_rates[client].append(ingest_round(lw, lw_post, lw_run, lw_next, lw_points, t0))
                    ml_rates[client].append(ingest_round(ml, ml_post, ml_run, ml_next, a.points, t0))
                    lw_next, ml_next = lw_next + lw_points, ml_next + a.points
                    print(
                        f"ingest round {i} ({client}): losswatch {lw_rates[client][-1]:,.0f}/s, "
                        f"mlflow {ml_rates[client][-1]:,.0f}/s",
                        flush=True,
                    )
            # (b) drawing a big key.
            lw_draw, ml_draw = lw.create_run("bench-draw"), ml.create_run("bench-draw")
            load = time.perf_counter()
            fill(lw, lw_draw, a.draw_points, t0, 20_000)
            lw_load = time.perf_counter() - load
            load = time.perf_counter()
            if a.mlflow_load == "rest":
                fill(ml, ml_draw, a.draw_points, t0, BATCH)
            else:
                load_mlflow_sqlite(tmp / "mlflow.db", ml_draw, a.draw_points, t0)
            ml_load = time.perf_counter() - load
            print(
                f"loaded {a.draw_points:,} points: losswatch over HTTP {lw_load:.1f}s, mlflow via {a.mlflow_load} "
                f"{ml_load:.1f}s",
                flush=True,
            )
            got_lw, got_ml = lw.draw(lw_draw), ml.draw(ml_draw)  # warm-up, and a check of what comes back
            lw.draw(lw_draw)
            ml.draw(ml_draw)
            lw_times, ml_times = [], []
            for _ in range(a.draws):
                lw_times.append(timed(lambda: lw.draw(lw_draw)))
                ml_times.append(timed(lambda: ml.draw(ml_draw)))
        finally:
            stop(lw_proc)
            stop(ml_proc, group=True)
    ingest_rows = []
    for client in CLIENTS:
        lw_rate, ml_rate = statistics.median(lw_rates[client]), statistics.median(ml_rates[client])
        ingest_rows.append(
            f"| {client} | losswatch `POST /runs/{{id}}/metrics` | {lw_rate:,.0f} | "
            f"{', '.join(f'{r:,.0f}' for r in lw_rates[client])} |\n"
            f"| {client} | MLflow `runs/log-batch` | {ml_rate:,.0f} | "
            f"{', '.join(f'{r:,.0f}' for r in ml_rates[client])} |\n"
            f"| {client} | **ratio** (goal ≥ 40×) | **{lw_rate / ml_rate:.1f}×** | |\n"
        )
    lw_ms, ml_ms = 1000 * statistics.median(lw_times), 1000 * statistics.median(ml_times)
    load_note = (
        "written straight into MLflow's own SQLite tables (`metrics` rows as log-batch writes them, plus "
        "`latest_metrics`) in a run created over REST"
        if a.mlflow_load == "sqlite"
        else "loaded through `runs/log-batch`"
    )
    form = "columnar `series` (what its sender, sync and import send)" if lw.columnar else "row `points`"
    body = (
        f"## losswatch vs MLflow tracking server (`bench/mlflow_compare.py`)\n\n"
        f"{machine()}, load average {loadavg:.1f} at start;\n"
        f"MLflow {version} (`mlflow server`, SQLite backend, 1 worker, loopback) vs `losswatch serve` "
        f"(SQLite, 1 worker); one keep-alive connection each, same points, interleaved.\n\n"
        f"**Ingest**: batches of {BATCH} points (MLflow's log-batch maximum) for both, losswatch's as {form}, "
        f"MLflow's as its log-batch `metrics`; a warm-up of {warm} points, "
        f"then {a.rounds} rounds on the same run ({lw_points:,} points each for losswatch, {a.points:,} for MLflow, "
        "so that both last about as long), per client; median of the rounds. The client is httpx, then the "
        "standard library's http.client, whose own cost per request is a fraction of httpx's (about 0.4 ms less "
        "here): a comparison of the servers should charge neither the client's time.\n\n"
        f"| client | server | points/s (median) | rounds |\n|---|---|---|---|\n{''.join(ingest_rows)}\n"
        f"**Drawing a {a.draw_points:,}-point key** at 1000 points: losswatch smoothed (TensorBoard, 0.6) and min/max "
        f"downsampled, {got_lw} points back; MLflow `get-history-bulk-interval`, {got_ml} points back. "
        f"losswatch loaded over HTTP; MLflow {load_note}. Median of {a.draws} warm requests each.\n\n"
        f"| server | ms per draw (median) |\n|---|---|\n| losswatch | {lw_ms:,.1f} |\n| MLflow | {ml_ms:,.1f} |\n"
        f"| **ratio** (goal ≥ 10×) | **{ml_ms / lw_ms:.1f}×** |\n"
    )
    write_section("mlflow", body)
    print(body)


if __name__ == "__main__":
    main()
