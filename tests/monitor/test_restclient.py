"""What the command-line clients say a service answered: one line, whatever the page was."""

from __future__ import annotations

import httpx
import pytest

from losswatch.monitor.restclient import BadTarget, connect, detail

FIELD_ERRORS = {
    "detail": [
        {
            "type": "string_too_short",
            "loc": ["body", "project"],
            "msg": "String should have at least 1 character",
            "input": "",
        },  # fmt: skip
        {"type": "literal_error", "loc": ["query", "status"], "msg": "Input should be 'running'", "input": "bogus"},
    ]
}


@pytest.mark.parametrize(
    ("response", "says"),
    [
        pytest.param(httpx.Response(409, json={"detail": "the run is finished"}), "the run is finished", id="detail"),
        pytest.param(
            httpx.Response(422, json=FIELD_ERRORS),
            "project: String should have at least 1 character (got ''); "
            "status: Input should be 'running' (got 'bogus')",
            id="field-errors",
        ),
        pytest.param(
            httpx.Response(
                404,
                text="<!DOCTYPE HTML>\n<html>\n<body>Nope</body>\n</html>\n",
                headers={"content-type": "text/html;charset=utf-8"},
            ),  # fmt: skip
            "404 Not Found, answered with a web page, not losswatch's JSON",
            id="html-page",
        ),
        pytest.param(httpx.Response(502, text="bad gateway\nupstream gone\n"), "bad gateway", id="plain-text"),
        pytest.param(httpx.Response(503, text=""), "Service Unavailable", id="empty"),
    ],
)
def test_restclient_detail_is_one_line(response: httpx.Response, says: str) -> None:
    assert detail(response) == says


@pytest.mark.parametrize(
    ("url", "token", "says"),
    [
        pytest.param("http://[::1", None, "is not a service URL", id="unclosed-ipv6"),
        pytest.param("http://127.0.0.1:8000", "bädtöken", "ASCII", id="token-not-ascii"),
    ],
)
def test_restclient_connect_refuses_what_no_request_can_carry(url: str, token: str | None, says: str) -> None:
    with pytest.raises(BadTarget, match=says):
        connect(url, token)
