"""A batch the service finds too much to judge at once (413) reaches it whole anyway: `import` and `sync`
(and so the trainer's sender, which delivers through the spool) send it again in halves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from losswatch.monitor.importers import read_log, upload
from losswatch.monitor.spool import Spool, replay
from tests.conftest import LiveServer

# With the default policy's checks priced at 16 ms, 100 ms lets a request judge 6 evaluations.
TIGHT = {"LOSSWATCH_MAX_CHECK_MS": "100"}
EVALS = 40


@pytest.fixture(scope="module")
def tight_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("tight") / "data", env=TIGHT).start()
    yield server
    server.stop()


def _history() -> list[dict]:
    out: list[dict] = []
    for s in range(1, 5 * EVALS + 1):
        out.append({"step": s, "loss": 3.0 / (1 + s / 50)})
        if s % 5 == 0:
            out.append({"step": s, "eval_loss": 3.2 / (1 + s / 60)})
    return out


def _counts(api: httpx.Client, run_id: str) -> dict[str, int]:
    return {k["key"]: k["count"] for k in api.get(f"/api/v1/runs/{run_id}").json()["keys"]}


def test_import_of_a_log_too_costly_for_one_request_arrives_whole(tight_server: LiveServer, tmp_path: Path) -> None:
    state = tmp_path / "out" / "trainer_state.json"
    state.parent.mkdir()
    state.write_text(json.dumps({"log_history": _history(), "max_steps": 5 * EVALS, "global_step": 5 * EVALS}))
    with httpx.Client(base_url=tight_server.url, timeout=60) as api:
        # The whole log in one request is refused, saying why.
        rid = api.post("/api/v1/runs", json={"name": "whole"}).json()["id"]
        one = [{"key": "eval_loss", "step": 5 * i, "value": 1.0 / i} for i in range(1, EVALS + 1)]
        refused = api.post(f"/api/v1/runs/{rid}/metrics", json={"points": one})
        assert refused.status_code == 413 and "checks" in refused.json()["detail"]
        totals = upload(read_log(state), client=api, progress=False)
        assert totals["accepted"] == 5 * EVALS + EVALS and totals["duplicates"] == 0
        assert _counts(api, totals["run_id"]) == {"loss": 5 * EVALS, "eval_loss": EVALS}
        again = upload(read_log(state), client=api, progress=False)
        assert again["accepted"] == 0 and _counts(api, totals["run_id"]) == {"loss": 5 * EVALS, "eval_loss": EVALS}


def test_sync_of_a_spooled_batch_too_costly_for_one_request_arrives_whole(
    tight_server: LiveServer, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    run = {"id": "spooled-run", "name": "spooled"}
    spool.append({"kind": "run", "run": run})
    steps = [5 * i for i in range(1, EVALS + 1)]
    series = [
        {"key": "loss", "steps": steps, "values": [2.0 / i for i in range(1, EVALS + 1)]},
        {"key": "eval_loss", "steps": steps, "values": [2.5 / i for i in range(1, EVALS + 1)]},
    ]
    spool.append({"kind": "metrics", "run_id": run["id"], "batch_id": "spooled-run-1", "series": series})
    with httpx.Client(base_url=tight_server.url, timeout=60) as api:
        result = replay(spool, api)
        assert result.error is None and result.rejected == [] and result.left == 0
        assert result.counts.get("accepted") == 2 * EVALS
        assert _counts(api, run["id"]) == {"loss": EVALS, "eval_loss": EVALS}
        # Sent again (a retry after a partial delivery): every half's id is the same, nothing doubles.
        spool.append({"kind": "metrics", "run_id": run["id"], "batch_id": "spooled-run-1", "series": series})
        again = replay(spool, api)
        assert again.counts.get("accepted", 0) == 0 and _counts(api, run["id"]) == {"loss": EVALS, "eval_loss": EVALS}


def test_sync_of_a_mixed_record_sends_each_point_once(tight_server: LiveServer, tmp_path: Path) -> None:
    # An older spool's record may hold rows (`points`) beside `series`: each half carries only its own.
    spool = Spool(tmp_path / "spool")
    run = {"id": "mixed-run", "name": "mixed"}
    spool.append({"kind": "run", "run": run})
    # The rows come first, so the earlier half holds only rows and the later one only the series.
    rows = [{"key": "loss", "step": s, "value": 1.0 / s} for s in range(1, EVALS + 1)]
    steps = [1000 + 5 * i for i in range(EVALS)]
    series = [{"key": "eval_loss", "steps": steps, "values": [2.0 / s for s in steps]}]
    spool.append({"kind": "metrics", "run_id": run["id"], "batch_id": "mixed-1", "points": rows, "series": series})
    with httpx.Client(base_url=tight_server.url, timeout=60) as api:
        result = replay(spool, api)
        assert result.rejected == [] and result.counts.get("accepted") == 2 * EVALS
        assert result.counts.get("duplicates", 0) == 0
        assert _counts(api, run["id"]) == {"loss": EVALS, "eval_loss": EVALS}
