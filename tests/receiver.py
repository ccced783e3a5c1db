"""A real HTTP receiver on loopback for notification tests: records every request, answers as scripted."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _peer_gone(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class Receiver:
    """`script` is consumed one entry per request: an HTTP status, or ("sleep", seconds, status) to answer
    late (a timeout for a client that gives up sooner), or ("hold", status) to answer only once `release()`
    is called, or ("json", status, body) to answer with that body. When it runs out, the receiver answers `default`."""

    def __init__(self, script: list[Any] | None = None, default: int = 200, port: int = 0) -> None:
        self.script = list(script or [])
        self.default = default
        self.requests: list[dict[str, Any]] = []
        self.answered: list[dict[str, Any]] = []  # requests whose 2xx answer was written out
        self.released = threading.Event()
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                entry = {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": json.loads(raw or b"null"),
                    "at": time.time(),
                }
                with receiver.arrived:
                    receiver.requests.append(entry)
                    step = receiver.script.pop(0) if receiver.script else receiver.default
                    receiver.arrived.notify_all()
                status, answer = step, {"ok": True}
                if isinstance(step, tuple) and step[0] == "json":
                    status, answer = step[1], step[2]
                elif isinstance(step, tuple) and step[0] == "sleep":
                    time.sleep(step[1])
                    status = step[2]
                elif isinstance(step, tuple) and step[0] == "hold":
                    receiver.released.wait(60)
                    status = step[1]
                    if _peer_gone(self.connection):
                        return  # the sender died while we held its request: it never got an answer
                try:
                    self.send_response(int(status))
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(json.dumps(answer).encode())
                except OSError:
                    return  # the sender went away (killed, or gave up waiting)
                if 200 <= int(status) < 300:
                    with receiver.arrived:
                        receiver.answered.append(entry)
                        receiver.arrived.notify_all()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def release(self) -> None:
        self.released.set()

    def wait(self, n: int, *, answered: bool = True, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait until `n` requests arrived (or were answered 2xx); returns them (fewer on timeout)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                got = self.answered if answered else self.requests
                left = deadline - time.monotonic()
                if len(got) >= n or left <= 0:
                    return list(got)
                self.arrived.wait(min(left, 0.1))

    def bodies(self, *, answered: bool = True) -> list[Any]:
        return [r["body"] for r in (self.answered if answered else self.requests)]


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` answering on a loopback port from a thread; yields the server's URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
