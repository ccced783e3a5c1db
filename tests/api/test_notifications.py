"""GET/PUT /projects/{project}/notifications, the test message, and the stale status over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.receiver import Receiver

URL = "/api/v1/projects/sft/notifications"
SECRET = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXsecret42"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def test_notifications_put_then_get_masks_the_secret(client: TestClient) -> None:
    r = client.put(URL, json={"targets": [{"kind": "slack", "url": SECRET, "events": ["stop", "stale"], "lang": "zh"}]})
    assert r.status_code == 200
    (t,) = client.get(URL).json()["targets"]
    assert t["kind"] == "slack" and t["events"] == ["stop", "stale"] and t["lang"] == "zh"
    assert t["url"] == "https://hooks.slack.com/…et42"
    assert "XXXX" not in str(client.get(URL).json()) and "T000" not in str(r.json())


def test_notifications_put_keeps_a_stored_url_when_sent_back_by_id(client: TestClient) -> None:
    t = client.put(URL, json={"targets": [{"kind": "slack", "url": SECRET, "events": ["stop"]}]}).json()["targets"][0]
    r = client.put(
        URL,
        json={
            "targets": [
                {"id": t["id"], "kind": "slack", "events": ["stop", "finished"]},
                {"kind": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "events": ["stale"]},
            ]
        },
    )
    assert r.status_code == 200
    got = client.get(URL).json()["targets"]
    assert [(x["id"] == t["id"], x["kind"], x["events"]) for x in got] == [
        (True, "slack", ["stop", "finished"]),
        (False, "wecom", ["stale"]),
    ]
    assert got[0]["url"] == t["url"]
    assert client.put(URL, json={"targets": []}).json() == {"targets": []}
    assert client.get(URL).json() == {"targets": []}


def test_notifications_unknown_project_has_no_targets(client: TestClient) -> None:
    assert client.get("/api/v1/projects/nobody/notifications").json() == {"targets": []}


@pytest.mark.parametrize(
    ("target", "says"),
    [
        pytest.param({"kind": "teams", "url": "https://x.example", "events": ["stop"]}, "kind", id="unknown-kind"),
        pytest.param(
            {"kind": "slack", "url": "https://x.example", "events": ["exploded"]}, "events", id="unknown-event"
        ),
        pytest.param({"kind": "slack", "url": "https://x.example", "events": []}, "events", id="no-events"),
        pytest.param(
            {"kind": "slack", "url": "https://x.example", "events": ["stop"], "lang": "fr"}, "lang", id="lang"
        ),
        pytest.param(
            {"kind": "slack", "url": "ftp://x.example/a", "events": ["stop"]}, "http:// or https://", id="scheme"
        ),
        pytest.param({"kind": "slack", "url": "https:///nohost", "events": ["stop"]}, "host", id="no-host"),
        pytest.param({"kind": "slack", "url": "http://[::1", "events": ["stop"]}, "not a valid address", id="bracket"),
        pytest.param({"kind": "slack", "url": "http://h:99999/x", "events": ["stop"]}, "not a valid", id="port"),
        pytest.param({"kind": "slack", "url": "http://h/a b", "events": ["stop"]}, "spaces", id="space"),
        pytest.param({"kind": "slack", "events": ["stop"]}, "url is required", id="new-without-url"),
        pytest.param({"id": 999, "kind": "slack", "events": ["stop"]}, "no target 999", id="unknown-id"),
        pytest.param(
            {"kind": "slack", "url": "https://x.example", "events": ["stop"], "secret": 1}, "secret", id="extra"
        ),
    ],
)
def test_notifications_invalid_target_is_a_422_saying_what(
    client: TestClient, target: dict[str, Any], says: str
) -> None:
    r = client.put(URL, json={"targets": [target]})
    assert r.status_code == 422
    assert says in str(r.json()["detail"])


def test_notifications_changing_kind_needs_the_new_url(client: TestClient) -> None:
    t = client.put(URL, json={"targets": [{"kind": "slack", "url": SECRET, "events": ["stop"]}]}).json()["targets"][0]
    r = client.put(URL, json={"targets": [{"id": t["id"], "kind": "discord", "events": ["stop"]}]})
    assert r.status_code == 422 and "needs its url" in r.json()["detail"]


def test_notifications_too_many_targets_is_a_413(client: TestClient) -> None:
    many = [{"kind": "webhook", "url": f"https://x.example/{i}", "events": ["stop"]} for i in range(21)]
    r = client.put(URL, json={"targets": many})
    assert r.status_code == 413 and "notify_max_targets" in r.json()["detail"]


def test_notifications_test_message_reaches_the_receiver(client: TestClient, receiver: Receiver) -> None:
    assert client.post(URL + "/test", json={}).status_code == 422  # nothing to test yet
    client.put(URL, json={"targets": [{"kind": "discord", "url": receiver.url(), "events": ["stop"]}]})
    assert client.post(URL + "/test", json={"target": 12345}).status_code == 404
    r = client.post(URL + "/test", json={})
    assert r.status_code == 202
    (mid,) = r.json()["ids"]
    (got,) = receiver.wait(1)
    assert got["headers"]["X-Losswatch-Id"] == mid and got["body"]["embeds"][0]["footer"]["text"].endswith(mid)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        (d,) = client.get(URL + "/deliveries").json()["deliveries"]
        if d["status"] == "done":
            break
        time.sleep(0.05)
    assert d["id"] == mid and d["status"] == "done" and d["event"] == "test"


def app_state(client: TestClient) -> Any:
    return client.app.state  # type: ignore[attr-defined]


def backdate(client: TestClient, run_id: str, seconds: float) -> None:
    """Make the run's last sign of life `seconds` old (rather than waiting that long)."""
    from sqlalchemy import update

    from losswatch.monitor.db import writer
    from losswatch.monitor.models import Run

    with writer(app_state(client).engine).begin() as conn:
        conn.execute(update(Run).where(Run.id == run_id).values(last_seen_at=time.time() - seconds))


def test_runs_silent_running_run_reads_stale_until_a_heartbeat_or_a_point(client: TestClient) -> None:
    stale_after = app_state(client).settings.stale_after
    rid = client.post("/api/v1/runs", json={"name": "a"}).json()["id"]
    done = client.post("/api/v1/runs", json={"name": "b"}).json()["id"]
    client.patch(f"/api/v1/runs/{done}", json={"status": "finished"})
    assert client.get(f"/api/v1/runs/{rid}").json()["status"] == "running"
    backdate(client, rid, stale_after + 1)
    backdate(client, done, stale_after + 1)
    assert client.get(f"/api/v1/runs/{rid}").json()["status"] == "stale"
    assert [r["id"] for r in client.get("/api/v1/runs", params={"status": "stale"}).json()["runs"]] == [rid]
    assert client.get("/api/v1/runs", params={"status": "running"}).json()["runs"] == []
    assert client.get(f"/api/v1/runs/{done}").json()["status"] == "finished"  # only running runs go stale

    hb = client.post(f"/api/v1/runs/{rid}/heartbeat", json={}).json()
    assert hb["status"] == "running" and hb["stale_after"] == stale_after == 600
    assert client.get(f"/api/v1/runs/{rid}").json()["status"] == "running"
    backdate(client, rid, stale_after + 1)
    assert client.get(f"/api/v1/runs/{rid}").json()["status"] == "stale"
    client.post(f"/api/v1/runs/{rid}/metrics", json={"points": [{"key": "loss", "step": 1, "value": 1.0}]})
    assert [r["id"] for r in client.get("/api/v1/runs", params={"status": "running"}).json()["runs"]] == [rid]
    backdate(client, rid, stale_after + 1)
    assert client.post("/api/v1/runs", json={"id": rid, "name": "a"}).json()["status"] == "running"  # a resume


def test_runs_status_filter_rejects_an_unknown_status(client: TestClient) -> None:
    r = client.get("/api/v1/runs", params={"status": "crashed"})
    assert r.status_code == 422 and "stale" in str(r.json()["detail"])


def test_runs_heartbeat_of_an_unknown_run_is_a_404(client: TestClient) -> None:
    assert client.post("/api/v1/runs/nope/heartbeat", json={}).status_code == 404
