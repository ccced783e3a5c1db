"""The sender's HTTP client: a plain-http service gets a TLS context with no certificates loaded (loading the
system's costs the training run 20 ms of CPU), which verifies and so refuses any https server; an https
service keeps httpx's default verification against the system's certificates."""

from __future__ import annotations

import ssl

import httpx
import pytest

from losswatch.callbacks.sender import client_args


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000", "http://[::1]:8000/", "http://localhost"], ids=["ipv4", "ipv6", "name"]
)
def test_sender_client_args_plain_http_loads_no_certificates_and_fails_closed(url: str) -> None:
    args = client_args(url, timeout=5.0, token="t0k")
    ctx = args["verify"]
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] == 0
    assert args["headers"]["Authorization"] == "Bearer t0k"
    with httpx.Client(**args) as client:
        assert not client.follow_redirects


@pytest.mark.parametrize("url", ["https://losswatch.example.org", "https://127.0.0.1:8443"], ids=["name", "ip"])
def test_sender_client_args_https_keeps_the_default_verification(url: str) -> None:
    args = client_args(url, timeout=5.0, token=None)
    assert "verify" not in args and "Authorization" not in args["headers"]
