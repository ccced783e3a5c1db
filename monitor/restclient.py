"""The one way the command-line clients reach the service: base URL, token, timeout."""

from __future__ import annotations

import httpx


def connect(url: str, token: str | None, *, timeout: float = 60.0) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url.rstrip("/"), timeout=timeout, headers=headers)
