"""upload() against a stand-in for the REST contract of DESIGN.md (httpx.MockTransport, no network).

The real service's integration test comes with the service; this checks what the client sends.
"""

from __future__ import annotations

import json
import math

import httpx
import pytest

from losswatch.monitor.importers import ImportedLog, Point, UploadError, read_log, upload


class FakeService:
    """Just enough of POST /runs and POST /runs/{id}/metrics: (key, step) storage and the three counts."""

    def __init__(self) -> None:
        self.runs: dict[str, dict] = {}
        self.points: dict[str, dict[tuple[str, int], object]] = {}
        self.requests: list[tuple[str, dict]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":  # the run lookup before creating it
            run_id = request.url.path.split("/")[4]
            found = run_id in self.runs
            return httpx.Response(200 if found else 404, json=self.runs.get(run_id, {"detail": "no run"}))
        body = json.loads(request.content)
        self.requests.append((request.url.path, body))
        if request.method == "PATCH":
            self.runs[request.url.path.split("/")[4]].update(body)
            return httpx.Response(200, json=self.runs[request.url.path.split("/")[4]])
        if request.url.path == "/api/v1/runs":
            if body["id"] in self.runs:
                return httpx.Response(200, json=self.runs[body["id"]])
            self.runs[body["id"]] = body
            self.points[body["id"]] = {}
            return httpx.Response(201, json=body)
        run_id = request.url.path.split("/")[4]
        if run_id not in self.runs:
            return httpx.Response(404, json={"detail": f"run {run_id} not found"})
        counts = {"accepted": 0, "duplicates": 0, "overwritten": 0}
        stored = self.points[run_id]
        for p in rows(body):
            old = stored.get((p["key"], p["step"]))
            counts["accepted" if old is None else "duplicates" if old == p["value"] else "overwritten"] += 1
            stored[(p["key"], p["step"])] = p["value"]
        return httpx.Response(200, json={**counts, "decision": {"should_stop": False, "reason": "none"}})


def rows(body: dict) -> list[dict]:
    """A batch's points one by one, whichever form (rows or columnar series) it came in."""
    out = list(body.get("points", []))
    for s in body.get("series", []):
        times = s.get("times") or [None] * len(s["steps"])
        for step, value, t in zip(s["steps"], s["values"], times, strict=True):
            out.append({"key": s["key"], "step": step, "value": value, **({"time": t} if t is not None else {})})
    return out


@pytest.fixture
def service():
    return FakeService()


@pytest.fixture
def client(service):
    with httpx.Client(base_url="http://losswatch.test", transport=httpx.MockTransport(service)) as c:
        yield c


def small_log(**kw) -> ImportedLog:
    points = [
        Point("loss", 20, 1.5),
        Point("loss", 10, 2.0, time=1700000000.5),
        Point("eval_loss", 10, math.nan),
        Point("grad_norm", 10, math.inf),
        Point("grad_norm", 20, -math.inf),
    ]
    return ImportedLog("run-a", {"logging_steps": 10}, points, "hf_trainer_state", [], **kw)


def test_creates_run_and_sends_sorted_batches(service, client):
    result = upload(small_log(fingerprint="abc"), client=client, project="p1", batch_size=2, progress=False)

    (path, run), *batches = service.requests
    assert path == "/api/v1/runs"
    assert run == {"id": result["run_id"], "project": "p1", "name": "run-a", "config": {"logging_steps": 10}}
    assert [path for path, _ in batches] == [f"/api/v1/runs/{result['run_id']}/metrics"] * 3
    # Columnar: one object per key of each batch, times only where the log has them.
    assert [body["series"] for _, body in batches] == [
        [
            {"key": "eval_loss", "steps": [10], "values": ["NaN"]},
            {"key": "grad_norm", "steps": [10], "values": ["Infinity"]},
        ],
        [
            {"key": "loss", "steps": [10], "values": [2.0], "times": [1700000000.5]},
            {"key": "grad_norm", "steps": [20], "values": ["-Infinity"]},
        ],
        [{"key": "loss", "steps": [20], "values": [1.5]}],
    ]
    assert "points" not in batches[0][1]
    assert len({body["batch_id"] for _, body in batches}) == 3
    assert result == {
        "run_id": result["run_id"],
        "points": 5,
        "accepted": 5,
        "duplicates": 0,
        "overwritten": 0,
        "decision": {"should_stop": False, "reason": "none"},
        "status": None,
    }


def test_reimport_changes_nothing(service, client, curves_dir):
    log = read_log(curves_dir / "10_qwen25_medical_eval_epoch_overfit.jsonl")
    first = upload(log, client=client, batch_size=500, progress=False)
    again = upload(
        read_log(curves_dir / "10_qwen25_medical_eval_epoch_overfit.jsonl"),
        client=client,
        batch_size=500,
        progress=False,
    )
    assert first["run_id"] == again["run_id"]
    assert first["accepted"] == again["duplicates"] == 2038
    assert again["accepted"] == again["overwritten"] == 0
    assert len(service.runs) == 1
    ids = [body["batch_id"] for path, body in service.requests if path.endswith("/metrics")]
    assert ids[:5] == ids[5:]  # 2038 points in batches of 500: the same five batch ids both times
    # steps never go backwards across batches
    first_import = [body for path, body in service.requests[:6] if path.endswith("/metrics")]
    steps = [p["step"] for body in first_import for p in sorted(rows(body), key=lambda p: p["step"])]
    assert steps == sorted(steps)


def test_run_id_depends_on_content_and_project(client):
    def run_id(fingerprint="", **kw):
        return upload(small_log(fingerprint=fingerprint), client=client, progress=False, **kw)["run_id"]

    a = run_id("abc")
    assert run_id("abc", name="another name") == a
    assert run_id("abc", project="p2") != a
    assert run_id("abd") != a
    assert run_id() == run_id() != a  # a log built in memory has no fingerprint: its points decide


def test_server_detail_in_error():
    def refuse(request):
        return httpx.Response(422, json={"detail": "name: String should have at most 200 characters"})

    with httpx.Client(base_url="http://x", transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(UploadError) as caught:
            upload(small_log(), client=client, progress=False)
    assert caught.value.status == 422
    assert "HTTP 422" in str(caught.value) and "at most 200 characters" in str(caught.value)
    assert str(caught.value).startswith("creating run imp-")


def test_unreachable_service():
    def down(request):
        raise httpx.ConnectError("connection refused", request=request)

    with httpx.Client(base_url="http://x", transport=httpx.MockTransport(down)) as client:
        with pytest.raises(UploadError, match="no response.*cannot reach the losswatch service"):
            upload(small_log(), client=client, progress=False)


def test_batch_size_must_be_positive(client):
    with pytest.raises(ValueError, match="batch_size"):
        upload(small_log(), client=client, batch_size=0)
