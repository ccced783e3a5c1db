"""The one way the command-line clients reach the service: base URL, token, timeout."""

from __future__ import annotations

import httpx


def connect(url: str, token: str | None, *, timeout: float = 60.0) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url.rstrip("/"), timeout=timeout, headers=headers)


def fetch_run(client: httpx.Client, run: str, *, wanted: list[str] | None = None) -> tuple[dict, list[str], str | None]:
    """The run, its metric names, and a sentence naming any of `wanted` it does not have (else None).

    Raises httpx.HTTPStatusError for an unknown run, as every other call of the commands does."""
    r = client.get(f"/api/v1/runs/{run}")
    r.raise_for_status()
    info = r.json()
    names = [k["key"] for k in info["keys"]]
    unknown = [k for k in wanted or [] if k not in names]
    problem = None
    if unknown:
        problem = f"run {run} has no metric {', '.join(map(repr, unknown))}; it has: {', '.join(names) or 'none'}"
    return info, names, problem
