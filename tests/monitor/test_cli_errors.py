"""The console entry's last line of defence: what no command caught on purpose is one sentence, exit 1, never
a traceback. Run as a person runs it: `python -m losswatch` in a subprocess, its stderr read whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic_settings import SettingsError

from losswatch.monitor.cli_errors import DEBUG_ENV, describe


def losswatch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOSSWATCH_DATA_DIR": str(cwd / "default-data")}
    env.pop(DEBUG_ENV, None)
    return subprocess.run(
        [sys.executable, "-m", "losswatch", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def _random_db(tmp: Path) -> str:
    folder = tmp / "random"
    folder.mkdir()
    (folder / "losswatch.db").write_bytes(os.urandom(4096))
    return str(folder)


def _plain_file(tmp: Path) -> str:
    (tmp / "plain.txt").write_text("not a folder")
    return str(tmp / "plain.txt")


def case(args, says: str, name: str):  # type: ignore[no-untyped-def]
    return pytest.param(args, says, id=name)


NOT_A_DB = "file is not a database"
CASES = [
    case(lambda t: ["token", "list", "--data-dir", _random_db(t)], NOT_A_DB, "db-random-bytes"),
    case(lambda t: ["db", "upgrade", "--database-url", f"sqlite:///{_random_db(t)}/losswatch.db"], NOT_A_DB, "upgrade"),
    case(lambda t: ["token", "list", "--data-dir", _plain_file(t)], "a file stands where a folder", "data-dir-file"),
    case(lambda t: ["token", "list", "--database-url", "nonsense"], "not a database URL", "url-nonsense"),
    case(lambda t: ["token", "list", "--database-url", "foo://bar"], "no database driver", "url-no-driver"),
    case(lambda t: ["token", "list", "--database-url", "sqlite://"], "losswatch db upgrade", "url-empty-db"),
    case(lambda t: ["runs", "--url", "http://[::1"], "is not a service URL", "url-unclosed-ipv6"),
    case(lambda t: ["runs", "--url", "http://127.0.0.1:9", "--token", "bädtöken"], "ASCII", "token-not-ascii"),
    case(lambda t: ["export", "r1", "--url", "http://[::1"], "is not a service URL", "export-bad-url"),
]


@pytest.mark.parametrize(("args", "says"), CASES)
def test_cli_errors_are_one_sentence(tmp_path: Path, args, says: str) -> None:  # type: ignore[no-untyped-def]
    done = losswatch(*args(tmp_path), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and says in done.stderr, done.stderr
    # A command may have said what it was about to do (`token list` names the database) before it failed.
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("losswatch: ") and says in last, done.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param(
            ["token", "revoke", "99999999999999999999999"],
            "less than or equal to 9223372036854775807",
            id="token-id-too-large",
        ),  # fmt: skip
        pytest.param(["demo", "--step-delay", "-1"], "greater than or equal to 0", id="negative-step-delay"),
    ],
)
def test_cli_errors_out_of_range_options_are_usage_errors(tmp_path: Path, args: list[str], says: str) -> None:
    done = losswatch(*args, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert says in " ".join(done.stderr.replace("│", " ").split()), done.stderr


def test_cli_errors_debug_lets_the_traceback_through(tmp_path: Path) -> None:
    env = {**os.environ, DEBUG_ENV: "1", "LOSSWATCH_DATA_DIR": str(tmp_path / "d")}
    done = subprocess.run(
        [sys.executable, "-m", "losswatch", "token", "list", "--database-url", "nonsense"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1 and "Traceback" in done.stderr and "ArgumentError" in done.stderr


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        pytest.param(
            FileNotFoundError(2, "No such file or directory", "/nowhere"),
            "No such file or directory: /nowhere",
            id="os-error-with-path",
        ),  # fmt: skip
        pytest.param(
            UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
            "surrogates not allowed",
            id="unicode",
        ),  # fmt: skip
        pytest.param(RuntimeError("boom\nsecond line"), "unexpected error (RuntimeError: boom)", id="anything-else"),
        pytest.param(
            ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib"),
            "not installed: matplotlib",
            id="missing-module-is-no-database-driver",
        ),  # fmt: skip
        pytest.param(NotADirectoryError(20, "Not a directory"), "Not a directory", id="no-file-name"),
        pytest.param(
            SettingsError('error parsing value for field "allowed_hosts" from source "EnvSettingsSource"'),
            "a list takes JSON, e.g. LOSSWATCH_ALLOWED_HOSTS=",
            id="a-setting-that-is-not-json",
        ),  # fmt: skip
    ],
)
def test_cli_errors_describe(exc: BaseException, says: str) -> None:
    text = describe(exc)
    assert says in text and "\n" not in text
