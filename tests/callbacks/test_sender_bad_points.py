"""A point the service would refuse costs the run only that point: the service refuses a whole batch (422) for one
bad key or step, and the losses beside it, the early stop's input, went with it."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import numpy as np
import pytest

from losswatch.callbacks.client import LossWatchClient
from losswatch.monitor.spool import deliver
from tests.callbacks.conftest import stored
from tests.conftest import LiveServer

BAD = [
    pytest.param({"eval_" + "x" * 200 + "_loss": 0.5}, "longer than 200", id="key-too-long"),
    pytest.param({" ": 0.5}, "a blank key", id="blank-key"),
    pytest.param({"a\x00b": 0.5}, "NUL", id="nul-in-key"),
    pytest.param({"eval\nloss": 0.5}, "control character", id="newline-in-key"),
]


def _log_run(client: LossWatchClient, extra: dict) -> None:
    for step in range(1, 31):
        metrics = {"loss": 1.0 / step}
        if step % 10 == 0:
            metrics |= {"eval_loss": 2.0 / step, **extra}
        client.log(step, metrics)


@pytest.mark.parametrize(("extra", "said"), BAD)
def test_sender_drops_a_bad_key_and_keeps_the_losses_beside_it(
    live_server, api: httpx.Client, tmp_path: Path, caplog: pytest.LogCaptureFixture, extra: dict, said: str
) -> None:
    client = LossWatchClient(live_server.url, run_name="bad-key", spool_dir=tmp_path / "spool")
    try:
        with caplog.at_level(logging.WARNING, logger="losswatch"):
            _log_run(client, extra)
            assert client.flush(30)
        assert len(stored(api, client.run_id, "loss")) == 30
        assert sorted(stored(api, client.run_id, "eval_loss")) == [10, 20, 30]
        warned = [r.getMessage() for r in caplog.records if said in r.getMessage()]
        assert len(warned) == 1, caplog.text  # said once, not at every evaluation
    finally:
        client.close()


def test_sender_drops_a_step_out_of_range_and_keeps_the_other_steps(live_server, api, tmp_path: Path) -> None:
    client = LossWatchClient(live_server.url, run_name="bad-step", spool_dir=tmp_path / "spool")
    try:
        for step in (-1, 1, 2, 2**53 + 1, 3):
            client.log(step, {"loss": 1.0})
        assert client.flush(30)
        assert sorted(stored(api, client.run_id, "loss")) == [1, 2, 3]
    finally:
        client.close()


def test_sender_sends_numpy_numbers(live_server, api, tmp_path: Path) -> None:
    client = LossWatchClient(live_server.url, run_name="numpy", spool_dir=tmp_path / "spool")
    try:
        client.log(1, {"f32": np.float32(0.5), "i64": np.int64(3), "f64": np.float64(0.25), "flag": np.bool_(True)})
        assert client.flush(30)
        assert stored(api, client.run_id, "f32") == {1: 0.5}
        assert stored(api, client.run_id, "i64") == {1: 3.0}
        assert stored(api, client.run_id, "f64") == {1: 0.25}
        assert api.get(f"/runs/{client.run_id}/metrics/flag").status_code == 404
    finally:
        client.close()


def test_sender_a_batch_refused_for_one_key_goes_again_key_by_key(tmp_path: Path) -> None:
    # A service whose limit is below the default one: the sender cannot know it, and learns it from the 422.
    server = LiveServer(tmp_path / "server-data", env={"LOSSWATCH_MAX_KEY_LENGTH": "20"}).start()
    try:
        client = LossWatchClient(server.url, run_name="strict", spool_dir=tmp_path / "spool")
        try:
            _log_run(client, {"eval_a_rather_long_dataset_name_loss": 0.5})
            assert client.flush(30)
            with httpx.Client(base_url=server.url + "/api/v1", timeout=30) as api:
                assert len(stored(api, client.run_id, "loss")) == 30
                assert sorted(stored(api, client.run_id, "eval_loss")) == [10, 20, 30]
                keys = {k["key"] for k in api.get(f"/runs/{client.run_id}").json()["keys"]}
            assert keys == {"loss", "eval_loss"}
        finally:
            client.close()
    finally:
        server.stop()


def _metrics_posts(url: str) -> int:
    text = httpx.get(url + "/metrics").text
    lines = [line for line in text.splitlines() if line.startswith("losswatch_http_requests_total{")]
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in lines if '{run_id}/metrics"' in line and "POST" in line)


def test_sender_a_key_limit_goes_key_by_key_not_step_by_step(tmp_path: Path) -> None:
    # Halves would meet the limit on keys again at every step: 1280 requests for this record before.
    server = LiveServer(tmp_path / "server-data", env={"LOSSWATCH_MAX_KEYS_PER_RUN": "2"}).start()
    try:
        run = {"id": "keys", "project": "default", "name": "keys"}
        steps = list(range(1, 257))
        series = [{"key": k, "steps": steps, "values": [1.0] * len(steps)} for k in ("loss", "learning_rate", "extra")]
        record = {"kind": "metrics", "run_id": "keys", "batch_id": "b1", "series": series}
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.post("/api/v1/runs", json=run).status_code == 201
            before = _metrics_posts(server.url)
            d = deliver(http, record, {"keys": run})
            assert _metrics_posts(server.url) - before == 4  # the record, then each of its 3 keys
            assert d.rejected is not None and "max_keys_per_run" in d.rejected
            keys = {k["key"]: k["count"] for k in http.get("/api/v1/runs/keys").json()["keys"]}
        assert keys == {"loss": 256, "learning_rate": 256}
    finally:
        server.stop()
