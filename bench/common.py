"""Shared pieces of the benchmarks: a server on loopback, a results table in bench/README.md."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "bench" / "README.md"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    data_dir: Path, env: dict[str, str] | None = None, args: list[str] | None = None, log: Path | None = None
) -> tuple[subprocess.Popen, str]:
    """Extra `args` go to `losswatch serve`; its output goes to `log` (kept for post-mortems) or nowhere."""
    port = free_port()
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it open
    proc = subprocess.Popen(
        [sys.executable, "-m", "losswatch", "serve", "--port", str(port), "--data-dir", str(data_dir), *(args or [])],
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section between the markers for `name` in bench/README.md."""
    text = README.read_text() if README.exists() else "# Benchmarks\n\nWritten by the scripts in this folder.\n"
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    README.write_text(text)


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}"
