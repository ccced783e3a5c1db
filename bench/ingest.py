"""Ingest over HTTP on loopback vs raw sqlite3 executemany of the same rows into the same keyed table.

One keep-alive connection, batches of 2000 points, SQLite in WAL mode on both sides; best of 3 rounds.
    python bench/ingest.py [--points 200000]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine, start_server, write_section  # noqa: E402

BATCH = 2000


def batches(n: int, offset: int = 0) -> list[list[dict]]:
    pts = [{"key": "loss", "step": offset + i, "value": 1.0 / (1 + i)} for i in range(n)]
    return [pts[i : i + BATCH] for i in range(0, n, BATCH)]


def http_rate(url: str, n: int) -> float:
    with httpx.Client(base_url=url, timeout=60) as c:
        rid = c.post("/api/v1/runs", json={"name": "bench-ingest"}).json()["id"]
        # Encoded before the clock starts: what is measured is the server, as on the sqlite3 side.
        bodies = [json.dumps({"points": b}).encode() for b in batches(n)]
        headers = {"Content-Type": "application/json"}
        t0 = time.perf_counter()
        for body in bodies:
            r = c.post(f"/api/v1/runs/{rid}/metrics", content=body, headers=headers)
            r.raise_for_status()
        return n / (time.perf_counter() - t0)


def sqlite_rate(path: Path, n: int) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE metric_points (key_id INTEGER, step INTEGER, value REAL, flag INTEGER, "
        "wall_time REAL, PRIMARY KEY (key_id, step)) WITHOUT ROWID"
    )
    now = time.time()
    bs = [[(1, p["step"], p["value"], 0, now) for p in b] for b in batches(n)]
    t0 = time.perf_counter()
    for b in bs:
        db.execute("BEGIN")
        db.executemany("INSERT INTO metric_points VALUES (?, ?, ?, ?, ?)", b)
        db.execute("COMMIT")
    rate = n / (time.perf_counter() - t0)
    db.close()
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--points", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    ours, raw = [], []
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp) / "data")
        try:
            for i in range(a.rounds):
                ours.append(http_rate(url, a.points))
                raw.append(sqlite_rate(Path(tmp) / f"raw{i}.db", a.points))
        finally:
            proc.terminate()
            proc.wait()
    o, r = max(ours), max(raw)
    body = (
        f"## Ingest: HTTP vs raw sqlite3 (`bench/ingest.py`)\n\n{machine()}; {a.points} points in batches of "
        f"{BATCH}, best of {a.rounds}.\n\n| path | points/s |\n|---|---|\n| losswatch over HTTP (SQLite) | "
        f"{o:,.0f} |\n| raw sqlite3 executemany | {r:,.0f} |\n| **ratio** | **{o / r:.2f}** |\n"
    )
    write_section("ingest", body)
    print(body)


if __name__ == "__main__":
    main()
