"""`losswatch serve` refuses what cannot work with one sentence, before any server banner."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from losswatch.monitor.cli import app
from tests.conftest import LiveServer, free_port

runner = CliRunner()
# serve writes these into its environment for the worker processes; the runner restores them after.
CLEAN = {"LOSSWATCH_AUTH": None, "LOSSWATCH_DATABASE_URL": None, "LOSSWATCH_INSECURE": None}


def serve(tmp_path: Path, *args: str, env: dict[str, str | None] | None = None) -> Result:
    environ = {**CLEAN, "COLUMNS": "300", "LOSSWATCH_DATA_DIR": str(tmp_path / "data"), **(env or {})}
    return runner.invoke(app, ["serve", *args], env=environ)


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["--auth", "maybe"], {}, "Invalid value for '--auth': Value error, 'maybe' is not one of 'off', 'required'"),
        ([], {"LOSSWATCH_AUTH": "maybe"}, "LOSSWATCH_AUTH='maybe': Input should be 'off' or 'required'"),
        (["--port", "99999"], {}, "Invalid value for '--port': Input should be less than or equal to 65535"),
        (["--port", "0"], {}, "Invalid value for '--port': Input should be greater than or equal to 1"),
        (["--workers", "2"], {}, "--workers 2 needs PostgreSQL"),
        (["--host", "no such host.invalid"], {}, "cannot bind 'no such host.invalid'"),
    ],
    ids=["auth-option", "auth-env", "port-too-high", "port-zero", "workers-on-sqlite", "bad-host"],
)
def test_serve_refuses_bad_settings_in_a_sentence(tmp_path: Path, args: list[str], env: dict, said: str) -> None:
    result = serve(tmp_path, *args, env=env)
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.output.split())
    assert "Traceback" not in result.output and "startup complete" not in result.output


def test_serve_port_in_use_says_so_before_starting(tmp_path: Path) -> None:
    with socket.socket() as taken, socket.socket() as next_one:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # The next port busy too: the suggestion must be one that is free, not merely port + 1.
        with contextlib.suppress(OSError):  # already taken by something else: busy all the same
            next_one.bind(("127.0.0.1", port + 1))
            next_one.listen()
        result = serve(tmp_path, "--port", str(port))
        said = " ".join(result.output.split())
        suggested = int(said.rsplit("--port ", 1)[1].split()[0])
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", suggested))  # free indeed
    assert result.exit_code == 2
    assert f"port {port} on 127.0.0.1 is already in use" in said and suggested > port + 1
    assert "startup complete" not in result.output and "Errno" not in result.output
    assert not (tmp_path / "data").exists()  # refused before touching the database


def test_serve_start_up_line_names_the_database_and_the_addresses(tmp_path: Path) -> None:
    data = tmp_path / "server-data"
    server = LiveServer(data, port=free_port()).start()
    try:
        log = (tmp_path / f"server-{server.port}.log").read_text()
    finally:
        server.stop()
    assert f"database sqlite:///{(data / 'losswatch.db').resolve()}" in log
    assert f"dashboard http://127.0.0.1:{server.port}/" in log and "/docs" in log
