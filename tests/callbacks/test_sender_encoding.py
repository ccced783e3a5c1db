"""A config the trainer side cannot encode as it is (a non-UTF-8 path, NaN, deep nesting) costs the run
nothing: what can be encoded is, the rest is replaced, the sender lives on, and `losswatch sync` delivers
such a record from an older spool."""

from __future__ import annotations

import json
import math
from pathlib import Path

from losswatch.callbacks.client import LossWatchClient
from tests.callbacks.conftest import losswatch_cli

# What `os.fsdecode` makes of the bytes b"/data/caf\xe9" (latin-1) on a UTF-8 system.
NON_UTF8_PATH = "/data/caf\udce9/run-1"


def nested(n: int) -> dict:
    out: dict = {"leaf": 1}
    for _ in range(n):
        out = {"a": out}
    return out


def test_sender_encodes_what_it_can_and_lives_on(live_server, api, tmp_path: Path) -> None:
    config = {"output_dir": NON_UTF8_PATH, "max_grad_norm": math.nan, "note": "a\x00b", "deep": nested(100)}
    client = LossWatchClient(live_server.url, run_name="odd", config=config, spool_dir=tmp_path / "spool")
    try:
        for step in range(1, 11):
            client.log(step, {"loss": 1.0 / step, "odd\udcffkey": 2.0})
        assert client.flush(30, even_if_down=True)
        assert client._sender._thread.is_alive()
        run = api.get(f"/runs/{client.run_id}").json()
        assert run["config"]["output_dir"] == "/data/caf\ufffd/run-1"
        assert run["config"]["max_grad_norm"] == "NaN" and run["config"]["note"] == "a\ufffdb"
        assert {k["key"]: k["count"] for k in run["keys"]} == {"loss": 10, "odd\ufffdkey": 10}
    finally:
        client.close()


def test_sync_delivers_an_old_spool_holding_unencodable_text(live_server, api, tmp_path: Path) -> None:
    spool = tmp_path / ".losswatch"
    spool.mkdir()
    # Written by a version that let json.dumps escape the surrogates: valid JSON, not valid text.
    records = [
        {"kind": "run", "run": {"id": "old-spool", "project": "default", "name": "n", "config": {"p": NON_UTF8_PATH}}},
        {
            "kind": "metrics",
            "run_id": "old-spool",
            "batch_id": "b1",
            "points": [{"key": "loss", "step": s, "value": 1.0 / s} for s in range(1, 6)],
        },
    ]
    (spool / "seg-00000001.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    r = losswatch_cli("sync", str(spool), "--url", live_server.url)
    assert r.returncode == 0, r.stderr
    assert "refused" not in r.stderr
    run = api.get("/runs/old-spool").json()
    assert run["config"]["p"] == "/data/caf\ufffd/run-1" and run["keys"][0]["count"] == 5
