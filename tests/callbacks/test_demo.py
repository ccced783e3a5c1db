"""`losswatch demo` trains against a live service and leaves a run with curves and a decision."""

from __future__ import annotations

from tests.callbacks.conftest import counts, losswatch_cli


def test_demo_trains_against_the_service_and_leaves_a_run(live_server, api) -> None:
    r = losswatch_cli("demo", "--url", live_server.url, "--max-steps", "30", "--step-delay", "0")
    assert r.returncode == 0, r.stderr[-2000:]
    runs = api.get("/runs", params={"project": "demo"}).json()["runs"]
    assert len(runs) == 1 and runs[0]["status"] in ("finished", "stopped")
    keys = counts(api, runs[0]["id"])
    assert keys["loss"] == 15 and keys["eval_loss"] == 3


def test_demo_without_a_service_says_how_to_start_one(tmp_path) -> None:
    r = losswatch_cli("demo", "--url", "http://127.0.0.1:9")
    assert r.returncode == 2 and "losswatch serve" in r.stderr
