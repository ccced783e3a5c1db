"""Where the data lives: one folder per user, whatever the current directory; the environment overrides it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from losswatch.monitor.settings import Settings


def test_settings_data_dir_is_per_user_not_per_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOSSWATCH_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    first = Settings()
    monkeypatch.chdir(tmp_path / "b")
    second = Settings()
    assert first.data_dir == second.data_dir == tmp_path / "share" / "losswatch"
    assert first.url == second.url == f"sqlite:///{tmp_path / 'share' / 'losswatch' / 'losswatch.db'}"


def test_settings_data_dir_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOSSWATCH_DATA_DIR", str(tmp_path / "lw"))
    assert Settings().data_dir == tmp_path / "lw"


def test_settings_shown_url_hides_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOSSWATCH_DATABASE_URL", "postgresql+psycopg://lw:s3cret@db.lab:5432/losswatch")
    shown = Settings().shown_url
    assert "s3cret" not in shown and "db.lab:5432/losswatch" in shown


@pytest.mark.parametrize(
    ("env", "base"),
    [
        ({"LOSSWATCH_PORT": "8123"}, "http://127.0.0.1:8123"),
        ({"LOSSWATCH_HOST": "::1", "LOSSWATCH_PORT": "9000"}, "http://[::1]:9000"),
        ({"LOSSWATCH_HOST": "0.0.0.0"}, f"http://{socket.gethostname()}:8000"),
        ({"LOSSWATCH_PUBLIC_URL": "https://lw.example.org/"}, "https://lw.example.org"),
    ],
    ids=["port", "ipv6", "wildcard", "public-url"],
)
def test_settings_run_page_base_is_an_address_a_person_can_open(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], base: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert Settings().run_page_base == base
