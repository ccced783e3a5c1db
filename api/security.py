"""Request hygiene at the edge, before any route runs: which Host names are served, which writes a browser
may make from another site, what a URL may hold, and the headers that keep pages out of frames.

With auth off anyone who reaches the port may do anything, so the only defence against a web page in the
person's own browser is to refuse what a browser sends on another site's behalf:
- DNS rebinding: a page whose name now resolves to 127.0.0.1 still sends its own name as `Host`, so only
  loopback names (and `allowed_hosts`) are served.
- CSRF: a form or a `no-cors` fetch can POST `text/plain` or form bodies without a preflight, and Chromium
  labels it with `Origin` and `Sec-Fetch-Site`; writes take `application/json` only (always: it is the
  API's contract) and, with auth off, from the same origin only.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from urllib.parse import unquote_to_bytes, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
# Pages and JSON alike: nothing loads from elsewhere and nothing may frame us (the Stop button).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The OpenAPI page is FastAPI's own (inline script): only framing is forbidden there.
DOCS_CSP = "frame-ancestors 'none'"
DOCS = ("/docs", "/redoc")
HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def loopback_host(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(value: str) -> str | None:
    """The name part of a Host header (`[::1]:8000` -> `[::1]`), lower-cased; None when malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1 :] if end > 0 else None
        if rest is None or (rest and not rest.startswith(":")):
            return None
        name, port = value[: end + 1], value[end + 2 :]
    else:
        name, _, port = value.partition(":")
    if port and not port.isdigit():
        return None
    return name or None


class EdgeGuard:
    """ASGI middleware; `auth_off` turns on the Host allow-list (tokens protect everything else)."""

    def __init__(self, app: ASGIApp, *, auth_off: bool, allowed_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.auth_off = auth_off
        self.allowed = {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
        refusal = self._refusal(scope, headers)
        csp = DOCS_CSP if scope["path"].startswith(DOCS) else CSP

        async def secured(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers") or []}
                extra = [(b"content-security-policy", csp.encode()), *HEADERS]
                message = {
                    **message,
                    "headers": [*message.get("headers", []), *(h for h in extra if h[0] not in present)],
                }
            await send(message)

        if refusal is not None:
            code, detail = refusal
            body = json.dumps({"detail": detail}).encode()
            await secured(
                {
                    "type": "http.response.start",
                    "status": code,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await secured({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, secured)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        host = headers.get("host")
        if self.auth_off and host is not None:
            name = host_name(host)
            if name is None or not (loopback_host(name) or name in self.allowed):
                return (
                    421,
                    "this server has auth off and answers only to loopback names (127.0.0.1, localhost, [::1]); "
                    "add the name to LOSSWATCH_ALLOWED_HOSTS, or serve with --auth required",
                )
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        if b"\x00" in unquote_to_bytes(raw_path) or b"\x00" in unquote_to_bytes(scope.get("query_string") or b""):
            return 400, "the URL holds a NUL character"
        if scope["method"] not in UNSAFE:
            return None
        if self.auth_off:
            # With auth on a write needs an Authorization header, which no other site can make a browser
            # send (no CORS here); a reverse proxy that rewrites Host is then no reason to refuse.
            refusal = cross_site(headers)
            if refusal:
                return 403, refusal
        if scope["method"] in WITH_BODY:
            ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if ctype != "application/json":
                return 415, "a write takes a JSON body: send 'Content-Type: application/json'"
        return None


def cross_site(headers: dict[str, str]) -> str | None:
    """Why a browser's write comes from another origin, or None."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"cross-site request refused (Sec-Fetch-Site: {site})"
    origin, host = headers.get("origin"), headers.get("host")
    if origin is None:
        return None
    try:
        netloc = urlsplit(origin).netloc.lower()
    except ValueError:
        # "http://[::1" and the like: no browser sends it, and no origin it names can be this server.
        netloc = None
    if host is None or netloc != host.lower():
        return "cross-origin request refused (its Origin is not this server)"
    return None
