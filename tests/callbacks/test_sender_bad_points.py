"""A point the service would refuse costs the run only that point: the service refuses a whole batch (422) for one
bad key or step, and the losses beside it, the early stop's input, went with it."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import numpy as np
import pytest

from losswatch.callbacks.client import LossWatchClient
from tests.callbacks.conftest import stored
from tests.conftest import LiveServer

BAD = [
    pytest.param({"eval_" + "x" * 200 + "_loss": 0.5}, "longer than 200", id="key-too-long"),
    pytest.param({" ": 0.5}, "a blank key", id="blank-key"),
    pytest.param({"a\x00b": 0.5}, "NUL", id="nul-in-key"),
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
        client.log(-1, {"loss": 9.0})
        for step in range(1, 6):
            client.log(step, {"loss": 1.0 / step})
        assert client.flush(30)
        assert sorted(stored(api, client.run_id, "loss")) == [1, 2, 3, 4, 5]
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
