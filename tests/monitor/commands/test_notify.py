"""`losswatch notify list|add|remove|test` against a real server and a real receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

from losswatch.monitor.cli import app
from tests.conftest import LiveServer
from tests.receiver import Receiver

runner = CliRunner()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def notify(live_server: LiveServer, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["notify", *args, "--url", live_server.url, "--project", "cli-notify"])
    return result.exit_code, result.output


def test_notify_add_list_test_remove(live_server: LiveServer, receiver: Receiver) -> None:
    secret_url = receiver.url("/hook/a-long-secret-path-0123456789")
    code, out = notify(live_server, "add", "dingtalk", secret_url, "--events", "stop,stale", "--lang", "zh")
    assert code == 0, out
    target_id = out.split()[1].rstrip(":")
    code, out = notify(live_server, "add", "webhook", receiver.url("/plain-receiver-path"), "--events", "finished")
    assert code == 0, out

    code, out = notify(live_server, "list")
    assert code == 0 and "a-long-secret-path" not in out
    assert f"{target_id}\tdingtalk\thttp://127.0.0.1:{receiver.port}/…6789\tstop,stale\tzh" in out

    code, out = notify(live_server, "test", target_id)
    assert code == 0 and f"target {target_id}: delivered" in out, out
    (got,) = receiver.wait(1)
    assert got["path"] == "/hook/a-long-secret-path-0123456789" and got["body"]["msgtype"] == "markdown"
    assert "测试" in got["body"]["markdown"]["title"]

    code, out = notify(live_server, "remove", target_id)
    assert code == 0 and f"target {target_id} removed" in out
    code, out = notify(live_server, "list")
    assert "dingtalk" not in out and "webhook" in out
    code, out = notify(live_server, "test")  # the remaining target kept its stored address
    assert code == 0 and "delivered" in out
    assert receiver.wait(2)[1]["path"] == "/plain-receiver-path"


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        pytest.param(["add", "teams", "https://x.example/h"], 2, "must be one of", id="unknown-kind"),
        pytest.param(
            ["add", "slack", "https://x.example/h", "--events", "boom"],
            1,
            "events.0: Input should be 'stop'",
            id="unknown-event",
        ),
        pytest.param(["add", "slack", "mailto:me@x.example"], 1, "http:// or https://", id="bad-url"),
        pytest.param(["remove", "424242"], 1, "has no target 424242", id="unknown-target"),
    ],
)
def test_notify_mistakes_are_said_plainly(live_server: LiveServer, args: list[str], code: int, says: str) -> None:
    got, out = notify(live_server, *args)
    assert got == code and says in out and "Traceback" not in out


def test_notify_links_name_the_port_the_service_serves_on(live_server: LiveServer, receiver: Receiver) -> None:
    # `serve --port` did not reach the app's settings: every link in every message pointed at port 8000.
    code, out = notify(live_server, "add", "webhook", receiver.url("/hook"), "--events", "finished")
    assert code == 0, out
    with httpx.Client(base_url=live_server.url + "/api/v1") as api:
        rid = api.post("/runs", json={"name": "linked", "project": "cli-notify"}).json()["id"]
        api.patch(f"/runs/{rid}", json={"status": "finished"}).raise_for_status()
    (got,) = receiver.wait(1)
    assert got["body"]["url"] == f"{live_server.url}/runs/{rid}"
