"""Readings at the ends of the float range are stored and answered like any other.

Each case once broke something: a constant 1e-10 or 1e99 left the forecast's quantile search no sign change
(every batch of the run refused with a 500, its points lost), readings near the largest float overflowed the
diagnosis' levels (a 500 on diagnostics), and deep subnormals crashed scipy's nnls, and with it the server.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

N = 30
TINY = 5e-324
CASES = {
    "constant-1e-10": [1e-10] * N,
    "constant-1e99": [1e99] * N,
    "steps-of-the-smallest-float": [TINY * (i % 4) for i in range(N)],
    "noisy-near-the-largest-float": [1.7e308 * (0.5 + 0.5 * ((i * 7919) % 13) / 13) for i in range(N)],
    "falling-from-the-largest-float": [1.7e308 / (N + 5) * (N + 5 - i) for i in range(N)],
    "u-turn-of-1e-300": [1e-300 * ((i - 12) ** 2 + 1) for i in range(N)],
}
POLICIES = {"default": None, "best-smoothed": {"rule": "best", "smoothing": 0.9}, "trend": {"rule": "trend"}}


@pytest.mark.parametrize("policy", list(POLICIES.values()), ids=list(POLICIES))
@pytest.mark.parametrize("values", list(CASES.values()), ids=list(CASES))
def test_extreme_magnitudes_are_stored_and_every_reading_answers(
    client: TestClient, values: list[float], policy: dict | None
) -> None:
    body: dict = {"name": "magnitudes", "config": {"max_steps": 100 * 3 * N}}
    if policy:
        body["early_stopping"] = policy
    rid = client.post("/api/v1/runs", json=body).json()["id"]
    points = [
        {"key": k, "step": 100 * (i + 1), "value": v} for i, v in enumerate(values) for k in ("loss", "eval_loss")
    ]
    r = client.post(f"/api/v1/runs/{rid}/metrics", json={"points": points})
    assert r.status_code == 200, r.text
    # One more evaluation on its own: the incremental path, as a live run sends it.
    one = [{"key": "eval_loss", "step": 100 * (N + 1), "value": values[0]}]
    assert client.post(f"/api/v1/runs/{rid}/metrics", json={"points": one}).status_code == 200
    assert client.get(f"/api/v1/runs/{rid}/metrics/eval_loss").json()["total"] == N + 1
    reads: list[tuple[str, dict[str, str | float]]] = [
        ("diagnostics", {}),
        ("diagnostics", {"lang": "zh"}),
        ("forecast", {}),
        ("forecast", {"key": "loss", "level": 0.5}),
        ("metrics/loss", {"smoothing": 0.99, "max_points": 5}),
    ]
    for path, params in reads:
        got = client.get(f"/api/v1/runs/{rid}/{path}", params=params)
        if path == "forecast" and got.status_code == 422:
            # Readings beyond 1e100 are no learning curve to fit: said, not failed.
            assert "no learning-curve family fits" in got.json()["detail"]
            continue
        assert got.status_code == 200, (path, params, got.text)
    assert client.post(f"/api/v1/runs/{rid}/replay", json={}).status_code == 200
    assert client.get(f"/runs/{rid}").status_code == 200
