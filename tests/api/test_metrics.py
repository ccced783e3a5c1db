from __future__ import annotations

import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from losswatch.monitor.smoothing import tensorboard_ema
from tests.conftest import LOCAL


@pytest.fixture
def rid(client: TestClient) -> str:
    return client.post("/api/v1/runs", json={"name": "m"}).json()["id"]


def post(client: TestClient, rid: str, points: list[dict], **extra):
    return client.post(f"/api/v1/runs/{rid}/metrics", json={"points": points, **extra})


def pts(key: str, steps, f=lambda s: 1.0 / s) -> list[dict]:
    return [{"key": key, "step": s, "value": f(s)} for s in steps]


def test_metrics_ingest_counts_duplicates_and_overwrites(client: TestClient, rid: str) -> None:
    r = post(client, rid, pts("loss", range(1, 11)))
    assert r.json()["accepted"] == 10 and r.json()["duplicates"] == 0
    r = post(client, rid, pts("loss", range(5, 16)))
    assert (r.json()["accepted"], r.json()["duplicates"], r.json()["overwritten"]) == (5, 6, 0)
    r = post(client, rid, pts("loss", [3, 4], lambda s: 9.0))
    assert (r.json()["accepted"], r.json()["duplicates"], r.json()["overwritten"]) == (0, 0, 2)
    keys = client.get(f"/api/v1/runs/{rid}/metrics").json()["keys"]
    assert keys[0]["count"] == 15 and keys[0]["max"] == 9.0 and keys[0]["max_step"] == 3
    series = client.get(f"/api/v1/runs/{rid}/metrics/loss", params={"smoothing_mode": "none"}).json()
    assert [p["value"] for p in series["points"]][:5] == [1.0, 0.5, 9.0, 9.0, 0.2]


def test_metrics_retried_batch_changes_nothing(client: TestClient, rid: str) -> None:
    first = post(client, rid, pts("loss", range(1, 51)), batch_id="b-1").json()
    again = post(client, rid, pts("loss", range(1, 51)), batch_id="b-1").json()
    assert first["accepted"] == 50 and (again["accepted"], again["duplicates"], again["overwritten"]) == (0, 50, 0)
    assert len(client.get(f"/api/v1/runs/{rid}/metrics/loss").json()["points"]) == 50


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(lambda: pts("loss", range(1, 51), lambda s: 7.0), id="other-values"),
        pytest.param(lambda: pts("eval_loss", range(1, 51)), id="other-key"),
        pytest.param(lambda: pts("loss", range(1, 52)), id="one-point-more"),
    ],
)
def test_metrics_batch_id_reused_for_other_points_is_refused(client: TestClient, rid: str, other) -> None:
    # The same id over other points is a client's mistake: answered 422, not taken for a retry and dropped.
    post(client, rid, pts("loss", range(1, 51)), batch_id="b-1")
    r = post(client, rid, other(), batch_id="b-1")
    assert r.status_code == 422 and "already used for a different batch (50 points)" in r.json()["detail"], r.text
    keys = {k["key"]: k["count"] for k in client.get(f"/api/v1/runs/{rid}/metrics").json()["keys"]}
    assert keys == {"loss": 50}
    values = [p["value"] for p in client.get(f"/api/v1/runs/{rid}/metrics/loss").json()["points"]]
    assert 7.0 not in values


def test_metrics_retry_listing_the_same_points_in_another_order_is_a_retry(client: TestClient, rid: str) -> None:
    body = [{"key": "loss", "step": 1, "value": 0.5}, {"key": "lr", "step": 1, "value": 0.1}]
    post(client, rid, body, batch_id="b")
    again = post(client, rid, body[::-1], batch_id="b")
    assert again.status_code == 200 and (again.json()["accepted"], again.json()["duplicates"]) == (0, 2), again.text


def test_metrics_repeats_inside_one_batch_count_as_duplicates_or_overwrites(client: TestClient, rid: str) -> None:
    # Last write wins inside a batch as across batches, and is counted the same way.
    body = [
        {"key": "a", "step": 1, "value": 1.0},
        {"key": "a", "step": 1, "value": 2.0},
        {"key": "a", "step": 2, "value": 5.0},
        {"key": "a", "step": 2, "value": 5.0},
        {"key": "a", "step": 3, "value": "NaN"},
        {"key": "a", "step": 3, "value": "NaN"},
    ]
    out = post(client, rid, body).json()
    assert (out["accepted"], out["duplicates"], out["overwritten"]) == (3, 2, 1)
    values = [p["value"] for p in client.get(f"/api/v1/runs/{rid}/metrics/a").json()["points"]]
    assert values == [2.0, 5.0, "NaN"]


def test_metrics_non_finite_round_trip(client: TestClient, rid: str) -> None:
    r = post(
        client,
        rid,
        [
            {"key": "loss", "step": 1, "value": 1.0},
            {"key": "loss", "step": 2, "value": "NaN"},
            {"key": "loss", "step": 3, "value": "Infinity"},
            {"key": "loss", "step": 4, "value": "-Infinity"},
        ],
    )
    assert r.status_code == 200
    got = client.get(f"/api/v1/runs/{rid}/metrics/loss").json()["points"]
    assert [p["value"] for p in got] == [1.0, "NaN", "Infinity", "-Infinity"]
    summary = client.get(f"/api/v1/runs/{rid}/metrics").json()["keys"][0]
    assert summary["last"] == "-Infinity" and summary["min"] == 1.0 and summary["nonfinite"] == 3


@pytest.mark.parametrize(
    "bad,needle",
    [
        ({"key": "loss", "step": -1, "value": 1.0}, ">= 0"),
        ({"key": "loss", "step": 1.5, "value": 1.0}, "step"),
        ({"key": "loss", "step": "3", "value": 1.0}, "step"),
        ({"key": "", "step": 1, "value": 1.0}, "key"),
        ({"key": "   ", "step": 1, "value": 1.0}, "key"),
        ({"key": "loss", "step": 1, "value": "abc"}, "NaN"),
        ({"key": "loss", "step": 1, "value": True}, "bool"),
        ({"key": "loss", "step": 1}, "value"),
        ({"key": "loss", "step": 10**13, "value": 1.0}, "max_step"),
        ({"key": "k" * 201, "step": 1, "value": 1.0}, "key"),
    ],
    ids=[
        "negative-step",
        "float-step",
        "string-step",
        "empty-key",
        "blank-key",
        "bad-string-value",
        "bool-value",
        "missing-value",
        "huge-step",
        "long-key",
    ],
)
def test_metrics_bad_point_is_4xx_and_nothing_is_stored(client: TestClient, rid: str, bad: dict, needle: str) -> None:
    r = post(client, rid, [{"key": "loss", "step": 1, "value": 1.0}, bad])
    assert 400 <= r.status_code < 500
    assert needle in r.text
    assert client.get(f"/api/v1/runs/{rid}/metrics").json()["keys"] == []


def test_metrics_malformed_json_is_400_as_documented(client: TestClient, rid: str) -> None:
    r = client.post(f"/api/v1/runs/{rid}/metrics", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["detail"].startswith("the body is not valid JSON")


def test_metrics_oversize_batch_is_413_naming_the_limit(client: TestClient, rid: str, settings) -> None:
    n = settings.max_batch_points + 1
    r = post(client, rid, pts("loss", range(1, n + 1)))
    assert r.status_code == 413 and "max_batch_points" in r.json()["detail"]
    assert client.get(f"/api/v1/runs/{rid}/metrics").json()["keys"] == []


def test_metrics_body_limit_is_413(tmp_path, sqlite_url) -> None:
    from losswatch.api.app import create_app
    from losswatch.monitor.settings import Settings

    with TestClient(create_app(Settings(database_url=sqlite_url, max_body_bytes=1000)), base_url=LOCAL) as c:
        rid = c.post("/api/v1/runs", json={"name": "x"}).json()["id"]
        r = post(c, rid, pts("loss", range(1, 200)))
        assert r.status_code == 413 and "max_body_bytes" in r.json()["detail"]


def test_metrics_smoothing_is_over_the_whole_series_then_downsampled(client: TestClient, rid: str) -> None:
    values = [2.0 + math.sin(s / 7.0) + (5.0 if s == 777 else 0.0) for s in range(1, 3001)]
    post(client, rid, [{"key": "loss", "step": s, "value": v} for s, v in zip(range(1, 3001), values, strict=True)])
    body = client.get(f"/api/v1/runs/{rid}/metrics/loss", params={"max_points": 100, "smoothing": 0.9}).json()
    assert body["total"] == 3000 and body["downsampled"] and len(body["points"]) <= 100
    steps = [p["step"] for p in body["points"]]
    assert steps[0] == 1 and steps[-1] == 3000 and 777 in steps
    ref = tensorboard_ema(np.asarray(values), 0.9)
    for p in body["points"]:
        assert p["smoothed"] == pytest.approx(ref[p["step"] - 1], rel=1e-12)


def test_metrics_since_step_returns_only_newer_points(client: TestClient, rid: str) -> None:
    post(client, rid, pts("loss", range(1, 21)))
    body = client.get(f"/api/v1/runs/{rid}/metrics/loss", params={"since_step": 15}).json()
    assert [p["step"] for p in body["points"]] == [16, 17, 18, 19, 20]


def test_metrics_llamafactory_mode(client: TestClient, rid: str) -> None:
    post(client, rid, pts("loss", range(1, 11)))
    body = client.get(f"/api/v1/runs/{rid}/metrics/loss", params={"smoothing_mode": "llamafactory"}).json()
    assert body["points"][0]["smoothed"] == pytest.approx(1.0)


def test_metrics_unknown_key_is_404(client: TestClient, rid: str) -> None:
    r = client.get(f"/api/v1/runs/{rid}/metrics/nope")
    assert r.status_code == 404 and "nope" in r.json()["detail"]


def test_metrics_rewind_deletes_later_points_and_fixes_summaries(client: TestClient, rid: str) -> None:
    post(client, rid, pts("loss", range(1, 101)) + pts("eval_loss", range(10, 101, 10), lambda s: s / 100))
    r = client.post(f"/api/v1/runs/{rid}/rewind", json={"step": 40})
    assert r.status_code == 200 and r.json()["deleted"] == 60 + 6
    keys = {k["key"]: k for k in client.get(f"/api/v1/runs/{rid}/metrics").json()["keys"]}
    assert keys["loss"]["count"] == 40 and keys["loss"]["last_step"] == 40
    assert keys["eval_loss"]["count"] == 4 and keys["eval_loss"]["max_step"] == 40
    again = post(client, rid, pts("loss", range(41, 51), lambda s: 5.0)).json()
    assert again["accepted"] == 10


def test_metrics_rewind_id_reused_for_another_step_is_refused(client: TestClient, rid: str) -> None:
    post(client, rid, pts("loss", range(1, 101)), batch_id="a")
    assert client.post(f"/api/v1/runs/{rid}/rewind", json={"step": 50, "rewind_id": "r1"}).json()["deleted"] == 50
    r = client.post(f"/api/v1/runs/{rid}/rewind", json={"step": 20, "rewind_id": "r1"})
    assert r.status_code == 422 and "already used to rewind to step 50" in r.json()["detail"], r.text
    assert client.get(f"/api/v1/runs/{rid}/metrics").json()["keys"][0]["count"] == 50


def test_metrics_replayed_rewind_is_a_no_op(client: TestClient, rid: str) -> None:
    post(client, rid, pts("loss", range(1, 101)), batch_id="a")
    assert client.post(f"/api/v1/runs/{rid}/rewind", json={"step": 50, "rewind_id": "r1"}).json()["deleted"] == 50
    post(client, rid, pts("loss", range(51, 81), lambda s: 3.0), batch_id="b")
    # The whole spool again: batch a, rewind r1, batch b. Nothing may change.
    post(client, rid, pts("loss", range(1, 101)), batch_id="a")
    again = client.post(f"/api/v1/runs/{rid}/rewind", json={"step": 50, "rewind_id": "r1"}).json()
    post(client, rid, pts("loss", range(51, 81), lambda s: 3.0), batch_id="b")
    assert again["replayed"] is True and again["deleted"] == 0
    keys = client.get(f"/api/v1/runs/{rid}/metrics").json()["keys"]
    assert keys[0]["count"] == 80 and keys[0]["last_step"] == 80 and keys[0]["last"] == 3.0


@pytest.mark.parametrize(
    "key", ["eval\nloss", "eval\tloss", "loss\x7f", "lo\x00ss"], ids=["newline", "tab", "del", "nul"]
)
@pytest.mark.parametrize("form", ["points", "series"])
def test_metrics_key_with_a_control_character_is_refused_saying_so(client: TestClient, key: str, form: str) -> None:
    # Stored, such a key could not be read back: GET /metrics/eval%0Aloss answered 404.
    rid = client.post("/api/v1/runs", json={"name": "ctl"}).json()["id"]
    good = {"key": "loss", "step": 1, "value": 1.0}
    if form == "points":
        body: dict = {"points": [good, {"key": key, "step": 1, "value": 0.5}]}
    else:
        body = {"series": [{"key": "loss", "steps": [1], "values": [1.0]}, {"key": key, "steps": [1], "values": [0.5]}]}
    r = client.post(f"/api/v1/runs/{rid}/metrics", json=body)
    assert r.status_code == 422 and "character" in r.json()["detail"] and repr(key) in r.json()["detail"], r.text
    assert client.get(f"/api/v1/runs/{rid}/metrics").json()["keys"] == []
