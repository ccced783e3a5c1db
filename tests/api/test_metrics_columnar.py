"""POST /runs/{id}/metrics with the columnar `series` form, alone and beside `points`, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def rid(client: TestClient) -> str:
    return client.post("/api/v1/runs", json={"name": "columnar"}).json()["id"]


def post(client: TestClient, rid: str, **body):
    return client.post(f"/api/v1/runs/{rid}/metrics", json=body)


def series(key: str, steps, f=lambda s: 1.0 / s, **extra) -> dict:
    steps = list(steps)
    return {"key": key, "steps": steps, "values": [f(s) for s in steps], **extra}


def counts(r) -> tuple[int, int, int]:
    assert r.status_code == 200, r.text
    b = r.json()
    return b["accepted"], b["duplicates"], b["overwritten"]


def stored(client: TestClient, rid: str, key: str) -> dict[int, Any]:
    body = client.get(f"/api/v1/runs/{rid}/metrics/{key}", params={"smoothing_mode": "none", "max_points": 10**5})
    return {p["step"]: p["value"] for p in body.json()["points"]}


# Each case: the batches sent one after the other, and the counts each one must return.
COUNT_CASES = [
    ("new-points", [[series("loss", range(1, 11))]], [(10, 0, 0)]),
    ("resend-overlap", [[series("loss", range(1, 11))], [series("loss", range(5, 16))]], [(10, 0, 0), (5, 6, 0)]),
    (
        "overwrite-inside",
        [[series("loss", range(1, 11))], [series("loss", [3, 4], lambda s: 9.0)]],
        [(10, 0, 0), (0, 0, 2)],
    ),
    (
        "dup-and-overwrite-mixed",
        [[series("loss", range(1, 6))], [series("loss", [4, 5, 6], lambda s: 1.0 / s if s == 4 else 7.0)]],
        [(5, 0, 0), (1, 1, 1)],
    ),
    # Inside one batch the last write of a step wins, and the earlier one counts as across batches: overwritten
    # by another value, a duplicate of the same one.
    ("repeat-inside-batch", [[{"key": "loss", "steps": [1, 2, 2, 3], "values": [1.0, 2.0, 5.0, 3.0]}]], [(3, 0, 1)]),
    ("same-repeat-inside-batch", [[{"key": "loss", "steps": [1, 2, 2], "values": [1.0, 5.0, 5.0]}]], [(2, 1, 0)]),
    ("signed-zero-repeat-inside-batch", [[{"key": "loss", "steps": [1, 1], "values": [0.0, -0.0]}]], [(1, 1, 0)]),
    ("unsorted-steps", [[{"key": "loss", "steps": [30, 10, 20], "values": [3.0, 1.0, 2.0]}]], [(3, 0, 0)]),
    (
        "two-keys-one-batch",
        [[series("loss", range(1, 4)), series("eval_loss", [2])], [series("eval_loss", [2]), series("lr", [1, 2])]],
        [(4, 0, 0), (2, 1, 0)],
    ),
    # A non-finite value stored once is a duplicate when sent again, and a number at its step overwrites it.
    (
        "non-finite-dup-then-overwrite",
        [
            [{"key": "loss", "steps": [1, 2], "values": ["NaN", "Infinity"]}],
            [{"key": "loss", "steps": [1, 2], "values": ["NaN", "-Infinity"]}],
            [{"key": "loss", "steps": [1], "values": [0.5]}],
        ],
        [(2, 0, 0), (0, 1, 1), (0, 0, 1)],
    ),
    ("empty-series", [[{"key": "loss", "steps": [], "values": []}]], [(0, 0, 0)]),
]


@pytest.mark.parametrize("batches,expected", [c[1:] for c in COUNT_CASES], ids=[c[0] for c in COUNT_CASES])
def test_columnar_counts_duplicates_and_overwrites_exactly(
    client: TestClient, rid: str, batches: list[list[dict[str, Any]]], expected: list[tuple[int, int, int]]
) -> None:
    assert [counts(post(client, rid, series=b)) for b in batches] == expected
    # And what is stored is the last value sent for each (key, step), in batch order.
    model: dict[str, dict[int, Any]] = {}
    for b in batches:
        for s in b:
            for step, value in zip(s["steps"], s["values"], strict=True):
                model.setdefault(s["key"], {})[step] = float(value) if isinstance(value, int) else value
    for key, want in model.items():
        assert stored(client, rid, key) == dict(sorted(want.items()))


def test_columnar_stores_what_rows_store(client: TestClient) -> None:
    """The same batches as rows and as series leave the same points, summaries and decision."""
    points: list[dict[str, Any]] = [{"key": "loss", "step": s, "value": 2.0 / s} for s in range(1, 301)]
    points += [{"key": "eval_loss", "step": s, "value": 1.0 + 0.5 / s} for s in range(50, 301, 50)]
    points += [{"key": "grad_norm", "step": 7, "value": "NaN"}, {"key": "grad_norm", "step": 8, "value": 3.0}]
    by_key: dict[str, dict] = {}
    for p in points:
        s = by_key.setdefault(p["key"], {"key": p["key"], "steps": [], "values": []})
        s["steps"].append(p["step"])
        s["values"].append(p["value"])
    policy = {"monitor": "eval_loss", "rule": "best", "patience": 2}
    a = client.post("/api/v1/runs", json={"name": "rows", "early_stopping": policy}).json()["id"]
    b = client.post("/api/v1/runs", json={"name": "cols", "early_stopping": policy}).json()["id"]
    ra = post(client, a, points=points).json()
    rb = post(client, b, series=list(by_key.values())).json()
    assert {k: v for k, v in ra.items()} == {k: v for k, v in rb.items()}
    assert client.get(f"/api/v1/runs/{a}/metrics").json() == client.get(f"/api/v1/runs/{b}/metrics").json()
    for key in by_key:
        assert stored(client, a, key) == stored(client, b, key)


def test_columnar_retried_batch_id_changes_nothing(client: TestClient, rid: str) -> None:
    first = post(client, rid, series=[series("loss", range(1, 51))], batch_id="c-1")
    again = post(client, rid, series=[series("loss", range(1, 51))], batch_id="c-1")
    assert counts(first) == (50, 0, 0)
    assert counts(again) == (0, 50, 0)  # the whole retried batch is reported as already there
    assert again.json()["decision"] == first.json()["decision"]
    # The same id over other values is no retry: refused, and nothing it held is stored.
    other = post(client, rid, series=[series("loss", range(1, 51), lambda s: 7.0)], batch_id="c-1")
    assert other.status_code == 422 and "batch_id 'c-1' was already used" in other.json()["detail"]
    assert set(stored(client, rid, "loss").values()) == {1.0 / s for s in range(1, 51)}


def test_columnar_non_finite_strings_round_trip(client: TestClient, rid: str) -> None:
    r = post(
        client, rid, series=[{"key": "grad_norm", "steps": [1, 2, 3, 4], "values": [1, "NaN", "Infinity", "-Infinity"]}]
    )
    assert counts(r) == (4, 0, 0)
    assert list(stored(client, rid, "grad_norm").values()) == [1.0, "NaN", "Infinity", "-Infinity"]
    summary = client.get(f"/api/v1/runs/{rid}/metrics").json()["keys"][0]
    assert (summary["last"], summary["min"], summary["max"], summary["nonfinite"]) == ("-Infinity", 1.0, 1.0, 3)


def test_columnar_times_are_kept_and_missing_ones_take_the_clock(client: TestClient, rid: str) -> None:
    post(client, rid, series=[series("loss", [1, 2, 3], times=[1000.0, None, 1002])])
    got = client.get(f"/api/v1/runs/{rid}/metrics/loss", params={"smoothing_mode": "none"}).json()["points"]
    assert got[0]["time"] == 1000.0 and got[2]["time"] == 1002.0
    assert got[1]["time"] > 1_700_000_000  # the service's clock


def test_columnar_beside_points_in_one_batch(client: TestClient, rid: str) -> None:
    """Both forms in one batch: counted together, one transaction; on the same (key, step) the series wins."""
    batch = {
        "points": [{"key": "loss", "step": 1, "value": 1.0}, {"key": "loss", "step": 2, "value": 2.0}],
        "series": [series("loss", [2, 3], lambda s: 10.0 * s), series("eval_loss", [3])],
        "batch_id": "mixed-1",
    }
    r = post(client, rid, **batch)
    assert counts(r) == (4, 0, 1)  # the point at step 2 (2.0) is overwritten by the series' 20.0
    assert stored(client, rid, "loss") == {1: 1.0, 2: 20.0, 3: 30.0}
    assert counts(post(client, rid, **batch)) == (0, 5, 0)  # the same batch again: a retry
    other = post(client, rid, points=[{"key": "loss", "step": 1, "value": 5.0}], batch_id="mixed-1")
    assert other.status_code == 422 and stored(client, rid, "loss") == {1: 1.0, 2: 20.0, 3: 30.0}


def test_columnar_decision_is_in_the_response(client: TestClient) -> None:
    policy = {"monitor": "eval_loss", "rule": "best", "patience": 2}
    rid = client.post("/api/v1/runs", json={"name": "d", "early_stopping": policy}).json()["id"]
    r = post(client, rid, series=[{"key": "eval_loss", "steps": [1, 2, 3, 4], "values": [1.0, 0.5, 0.6, 0.7]}])
    d = r.json()["decision"]
    assert d["should_stop"] and d["reason"] == "patience_exhausted" and d["step"] == 4 and d["best_step"] == 2


BAD = [
    (
        "length-mismatch",
        {"series": [{"key": "loss", "steps": [1, 2, 3], "values": [1.0, 2.0]}]},
        "3 steps but 2 values",
    ),
    (
        "times-mismatch",
        {"series": [{"key": "loss", "steps": [1, 2], "values": [1.0, 2.0], "times": [1.0]}]},
        "2 steps but 1 times",
    ),
    ("float-step", {"series": [{"key": "loss", "steps": [1.5], "values": [1.0]}]}, "steps"),
    ("negative-step", {"series": [{"key": "loss", "steps": [-1], "values": [1.0]}]}, ">= 0"),
    ("huge-step", {"series": [{"key": "loss", "steps": [10**13], "values": [1.0]}]}, "max_step"),
    ("bool-value", {"series": [{"key": "loss", "steps": [1], "values": [True]}]}, "values"),
    ("bad-string-value", {"series": [{"key": "loss", "steps": [1], "values": ["nan"]}]}, "NaN"),
    ("string-time", {"series": [{"key": "loss", "steps": [1], "values": [1.0], "times": ["now"]}]}, "times"),
    ("missing-values", {"series": [{"key": "loss", "steps": [1]}]}, "values"),
    ("blank-key", {"series": [{"key": " ", "steps": [1], "values": [1.0]}]}, "key"),
    ("unknown-field", {"series": [{"key": "loss", "steps": [1], "values": [1.0], "unit": "nats"}]}, "unit"),
    ("series-not-a-list", {"series": {"key": "loss", "steps": [1], "values": [1.0]}}, "series"),
    ("steps-not-a-list", {"series": [{"key": "loss", "steps": 1, "values": [1.0]}]}, "steps"),
    ("neither-form", {"batch_id": "x"}, '"points", "series" or both'),
    ("null-series", {"series": None}, "series"),
]


@pytest.mark.parametrize("body,needle", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_columnar_bad_shape_is_422_saying_what_is_wrong_and_stores_nothing(
    client: TestClient, rid: str, body: dict, needle: str
) -> None:
    # A good series in the same batch: nothing of a refused batch is stored.
    good = {"key": "ok", "steps": [1], "values": [1.0]}
    if isinstance(body.get("series"), list):
        body = {**body, "series": [good, *body["series"]]}
    r = post(client, rid, **body)
    assert r.status_code == 422, r.text
    assert needle in r.json()["detail"]
    assert client.get(f"/api/v1/runs/{rid}/metrics").json()["keys"] == []


def test_columnar_batch_limit_counts_both_forms(client: TestClient, rid: str, settings) -> None:
    half = settings.max_batch_points // 2
    r = post(
        client,
        rid,
        points=[{"key": "loss", "step": s, "value": 1.0} for s in range(half)],
        series=[series("lr", range(1, half + 2), lambda s: 0.1)],
    )
    assert r.status_code == 413 and "max_batch_points" in r.json()["detail"]
    assert client.get(f"/api/v1/runs/{rid}/metrics").json()["keys"] == []


def test_columnar_non_finite_monitor_value_stops_the_run(client: TestClient) -> None:
    rid = client.post("/api/v1/runs", json={"name": "nan", "early_stopping": {"monitor": "eval_loss"}}).json()["id"]
    r = post(client, rid, series=[{"key": "eval_loss", "steps": [10, 20], "values": [1.0, "NaN"]}])
    d = r.json()["decision"]
    assert d["should_stop"] and d["reason"] == "non_finite" and d["step"] == 20
    assert stored(client, rid, "eval_loss")[20] == "NaN"
