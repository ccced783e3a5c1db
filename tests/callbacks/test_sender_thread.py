"""The training thread only queues: the sender's HTTP client (whose creation loads the system's certificates)
is built on the sender's own thread, and a malformed URL or token still fails where the client is made."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from losswatch.callbacks import sender
from losswatch.callbacks.client import LossWatchClient


def test_sender_builds_its_http_client_off_the_training_thread(
    live_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built_on: list[str] = []

    class Recording(httpx.Client):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            built_on.append(threading.current_thread().name)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(sender.httpx, "Client", Recording)
    client = LossWatchClient(live_server.url, run_name="threads", spool_dir=tmp_path / "spool")
    try:
        client.log(1, {"loss": 1.0})
        assert client.flush(30)
    finally:
        client.close()
    assert built_on == ["losswatch-sender"]


@pytest.mark.parametrize(
    ("url", "token"),
    [
        pytest.param("http://127.0.0.1:9", "tok\u00e9n", id="token-not-ascii"),
        pytest.param("http://127.0.0.1:notaport", None, id="port-not-a-number"),
    ],
)
def test_sender_refuses_a_malformed_url_or_token_where_it_is_made(url: str, token: str | None, tmp_path: Path) -> None:
    with pytest.raises((UnicodeEncodeError, httpx.InvalidURL)):
        LossWatchClient(url, token=token, run_name="bad", spool_dir=tmp_path / "spool")
