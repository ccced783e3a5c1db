"""The one way the command-line clients reach the service: base URL, token, timeout, and what to say when it fails."""

from __future__ import annotations

from typing import Any

import httpx

from losswatch.monitor.errors import field_errors
from losswatch.monitor.vocabulary import API, is_run_id, service_root

TOKEN_HINT = (
    "set LOSSWATCH_TOKEN or pass --token with a token from `losswatch token create`, made against the database "
    "the server uses (its start-up line names it)"
)


class RunNotFound(LookupError):
    """No run, or more than one, answers to what was typed; the message says which and what to do."""


class BadTarget(ValueError):
    """The URL or token given cannot be used to make a request at all; the message says which and why."""


def connect(url: str, token: str | None, *, timeout: float = 60.0) -> httpx.Client:
    """A client for the service at `url`. Raises BadTarget for a URL or token no request can carry."""
    if token and not token.isascii():
        raise BadTarget("the token holds characters other than ASCII; tokens from `losswatch token create` never do")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        return httpx.Client(base_url=service_root(url), timeout=timeout, headers=headers)
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise BadTarget(f"{url!r} is not a service URL ({exc}); give one like http://127.0.0.1:8000") from exc


def detail(response: httpx.Response) -> str:
    """What the service said was wrong, in one line: its `detail`, its field errors joined, or what kind of
    page answered when it was not losswatch."""
    try:
        d = response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        if "html" in response.headers.get("content-type", ""):
            return f"{response.status_code} {response.reason_phrase}, answered with a web page, not losswatch's JSON"
        lines = response.text.strip().splitlines()
        return lines[0][:200] if lines else response.reason_phrase
    if isinstance(d, list) and all(isinstance(e, dict) and "msg" in e for e in d):
        # FastAPI's field errors: where (past "body" or "query"), what, and what was sent.
        return field_errors(d, skip=1)
    return d if isinstance(d, str) else str(d)


def explain(exc: httpx.HTTPError, url: str) -> str:
    """A sentence for a person: what went wrong talking to the service, and what to do about it."""
    root = service_root(url)
    if isinstance(exc, httpx.HTTPStatusError):
        r = exc.response
        if r.status_code == 401:
            return f"the service at {root} refused the request ({detail(r)}): {TOKEN_HINT}"
        if r.status_code == 403:
            return f"the service at {root} refused the token ({detail(r)}); use a token with that scope and project"
        if r.status_code == 404 and detail(r) == "Not Found":
            return f"{root} answered 404 for {r.request.url.path}: is it a losswatch service? give its root URL"
        return f"{r.status_code}: {detail(r)}"
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return (
            f"cannot reach {root} ({exc}): start the service with `losswatch serve`, "
            "or point at a running one with --url or LOSSWATCH_URL"
        )
    if isinstance(exc, httpx.TimeoutException):
        return f"{root} did not answer in time ({type(exc).__name__}); it may be busy, try again"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"{url!r} is not a service URL ({exc}); give one like http://127.0.0.1:8000"
    return f"talking to {root} failed: {exc}"


def find_run(client: httpx.Client, run: str) -> dict[str, Any]:
    """The run `run` names (`GET /runs/{id}`): its id or, as git takes a commit, a prefix of exactly one run's id.

    Raises RunNotFound for an unknown or ambiguous run, httpx.HTTPError when the service fails."""
    if not run.strip():
        raise RunNotFound("give a run id (or the start of one); `losswatch runs` lists them")
    if not is_run_id(run):
        # "../x" or "a/b?c" would be followed as a path, not looked up; no run id (nor its start) holds them.
        raise RunNotFound(f"no run has an id starting with {run!r}; `losswatch runs` lists them")
    r = client.get(f"{API}/runs/{run}")
    # A bare "Not Found" is the web server's (a wrong URL), not the service saying there is no such run.
    if r.status_code != 404 or detail(r) == "Not Found":
        r.raise_for_status()
        return dict(r.json())
    listed = client.get(f"{API}/runs")
    listed.raise_for_status()
    matches = [x for x in listed.json()["runs"] if x["id"].startswith(run)]
    if not matches:
        raise RunNotFound(f"no run has an id starting with {run!r}; `losswatch runs` lists them")
    if len(matches) > 1:
        shown = ", ".join(f"{m['id']} ({m['name']})" for m in matches[:8])
        more = f" and {len(matches) - 8} more" if len(matches) > 8 else ""
        raise RunNotFound(f"{run!r} is the start of {len(matches)} run ids: {shown}{more}; type more of it")
    r = client.get(f"{API}/runs/{matches[0]['id']}")
    r.raise_for_status()
    return dict(r.json())


def fetch_run(
    client: httpx.Client, run: str, *, wanted: list[str] | None = None
) -> tuple[dict[str, Any], list[str], str | None]:
    """The run (named by id or unique prefix), its metric names, and a sentence naming any of `wanted` it
    does not have (else None).

    Raises RunNotFound for an unknown or ambiguous run, httpx.HTTPError when the service fails."""
    info = find_run(client, run)
    run_id = info["id"]
    names = [k["key"] for k in info["keys"]]
    unknown = [k for k in wanted or [] if k not in names]
    problem = None
    if unknown:
        problem = f"run {run_id} has no metric {', '.join(map(repr, unknown))}; it has: {', '.join(names) or 'none'}"
    return info, names, problem
