"""How a training script may name the service and its policy: the URL with the API's prefix (as the command-line
clients accept it), and a policy in LOSSWATCH_EARLY_STOPPING in a training environment that has only httpx."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from losswatch.callbacks.client import LossWatchClient
from tests.callbacks.conftest import stored
from tests.conftest import ROOT


@pytest.mark.parametrize("suffix", ["/api/v1", "/api/v1/", "/"], ids=["api-prefix", "api-prefix-slash", "slash"])
def test_client_url_may_carry_the_api_prefix(live_server, api, tmp_path: Path, suffix: str) -> None:
    client = LossWatchClient(live_server.url + suffix, run_name="prefixed", spool_dir=str(tmp_path / "spool"))
    try:
        for step in range(1, 6):
            client.log(step, {"loss": 1.0 / step})
        assert client.flush(30)
        assert sorted(stored(api, client.run_id, "loss")) == [1, 2, 3, 4, 5]
    finally:
        client.close()


WITHOUT_PYDANTIC = """
import sys
sys.modules["pydantic"] = None  # an import of it now fails, as in an environment without it
from losswatch.callbacks.client import LossWatchClient
client = LossWatchClient(sys.argv[1], run_name="no-pydantic", spool_dir=sys.argv[2])
client.log(1, {"loss": 1.0})
assert client.flush(30)
client.close()
print(client.run_id)
"""


def test_client_policy_from_the_environment_without_pydantic_is_sent(live_server, api, tmp_path: Path) -> None:
    env = {**os.environ, "LOSSWATCH_EARLY_STOPPING": json.dumps({"patience": 2, "monitor": "val_loss"})}
    r = subprocess.run(
        [sys.executable, "-c", WITHOUT_PYDANTIC, live_server.url, str(tmp_path / "spool")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "disabled" not in r.stderr and "ignored" not in r.stderr, r.stderr
    run = api.get(f"/runs/{r.stdout.strip()}").json()
    assert run["early_stopping"]["patience"] == 2 and run["early_stopping"]["monitor"] == "val_loss"
