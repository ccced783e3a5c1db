"""schemathesis against the app's own OpenAPI schema: no 5xx, documented codes, conforming bodies,
and invalid data rejected. Driven through its Python API (its pytest plugin predates pytest 9)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from losswatch.api.app import create_app
from losswatch.monitor.settings import Settings

# 25 examples per operation and mode in CI; LW_FUZZ_EXAMPLES=300 for a deeper search by hand.
EXAMPLES = int(os.environ.get("LW_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, negative_data_rejection]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):  # type: ignore[no-untyped-def]
    from losswatch.monitor.db import upgrade

    tmp = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{tmp / 'fuzz.db'}"
    upgrade(url)
    # No notification worker: fuzzed targets' addresses must never be posted to.
    # schemathesis speaks as "testserver"; naming it is what a person does for a non-loopback name.
    app = create_app(
        Settings(database_url=url, data_dir=tmp / "data", allowed_hosts=["testserver"], notify_worker=False)
    )
    with TestClient(app, base_url="http://testserver") as client:
        # A run with points, so that the run routes are exercised past their 404s too.
        client.post("/api/v1/runs", json={"id": "fuzz", "name": "fuzz"})
        client.post(
            "/api/v1/runs/fuzz/metrics",
            json={
                "points": [{"key": "loss", "step": s, "value": 1.0 / s} for s in range(1, 30)]
                + [{"key": "eval_loss", "step": s, "value": 1.0 / s} for s in range(5, 30, 5)]
            },
        )
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def operations() -> list[tuple[str, GenerationMode]]:
    """Every operation with positive data, and with negative data where it takes any input at all."""
    spec = create_app(Settings(database_url="sqlite://")).openapi()
    out = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            label = f"{method.upper()} {path}"
            out.append((label, GenerationMode.POSITIVE))
            if op.get("parameters") or op.get("requestBody"):
                out.append((label, GenerationMode.NEGATIVE))
    return sorted(out, key=lambda o: (o[0], o[1].value))


@pytest.mark.parametrize("label,mode", operations(), ids=lambda v: v if isinstance(v, str) else v.value)
def test_fuzz_api_conforms_to_its_schema(api_schema, label: str, mode: GenerationMode) -> None:  # type: ignore[no-untyped-def]
    method, path = label.split(" ", 1)
    operation = next(
        op.ok() for op in api_schema.get_all_operations() if op.ok().method.upper() == method and op.ok().path == path
    )

    @given(case=operation.as_strategy(generation_mode=mode))
    @hsettings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case) -> None:  # type: ignore[no-untyped-def]
        case.call_and_validate(checks=CHECKS)

    check()
