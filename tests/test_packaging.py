"""Installed, losswatch is one import name, and the training side loads no server library."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
NOT_SOURCES = (".git", ".venv*", "build", "*.egg-info", "losswatch-data", "tests", "bench", "__pycache__", "*.db")
SERVER_LIBRARIES = ("sqlalchemy", "fastapi", "starlette", "uvicorn", "alembic", "scipy")

# A user's training folder with the names a shadowing bug would trip over; each one shouts if imported.
USER_FILES = {
    "callbacks.py": "raise SystemExit('the user callbacks.py was imported')\n",
    "monitor.py": "raise SystemExit('the user monitor.py was imported')\n",
    "api/__init__.py": "raise SystemExit('the user api/ was imported')\n",
}

PROBE = f"""
import sys
from losswatch import LossWatchCallback, LossWatchClient
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({SERVER_LIBRARIES!r}))
print("LOADED", ",".join(loaded))
print("FROM", LossWatchClient.__module__, LossWatchCallback.__module__)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources it builds.
    source = out / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    (found,) = out.glob("losswatch-*.whl")
    return found


def test_packaging_wheel_has_one_top_level_name(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"losswatch"}
    # What the service needs at run time travels inside it: the pages and the migrations.
    needed_files = ("losswatch/api/static/index.html", "losswatch/alembic/env.py", "losswatch/alembic/versions/")
    # and the start-up hook `losswatch run` puts on PYTHONPATH
    for needed in (*needed_files, "losswatch/callbacks/startup/sitecustomize.py"):
        assert any(n.startswith(needed) for n in names), needed
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "losswatch = losswatch.monitor.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_packaging_requirements_pin_no_torch(wheel: Path) -> None:
    meta = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith("METADATA"))
    lines = zipfile.ZipFile(wheel).read(meta).decode().splitlines()
    requires = [Requirement(line.split(":", 1)[1]) for line in lines if line.startswith("Requires-Dist:")]
    pins = [str(r) for r in requires if any(spec.operator in ("==", "===") for spec in r.specifier)]
    assert any(r.name == "torch" for r in requires) and pins == [], pins


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel unpacked into its own folder, which goes first on the path (the venv has the dependencies)."""
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    return site


def test_packaging_training_side_beside_a_users_own_modules_loads_no_server_library(
    installed: Path, tmp_path: Path
) -> None:
    for name, text in USER_FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    r = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env={"PYTHONPATH": str(installed), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "LOADED \n" in r.stdout, r.stdout
    assert "FROM losswatch.callbacks.client losswatch.callbacks.hf" in r.stdout
    assert (
        str(installed)
        in subprocess.run(
            [sys.executable, "-c", "import losswatch, sys; print(losswatch.__file__)"],
            cwd=tmp_path,
            env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
        ).stdout
    )


def test_packaging_installed_cli_migrates_a_database_from_its_own_files(installed: Path, tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "losswatch", "db", "upgrade"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin", "LOSSWATCH_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "data" / "losswatch.db").stat().st_size > 0


TOKEN_LIST = """
import sys
from typer.testing import CliRunner
from losswatch.monitor.cli import app
result = CliRunner().invoke(app, ["token", "list"])
assert result.exit_code == 0, result.output
print("LOADED", sorted({m.split(".")[0] for m in sys.modules} & {"scipy", "fastapi", "uvicorn"}))
print("STOPPING", "losswatch.monitor.stopping" in sys.modules)
"""


def test_packaging_cli_token_list_loads_only_what_it_needs(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-c", TOKEN_LIST],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "LOSSWATCH_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "LOADED []" in r.stdout and "STOPPING False" in r.stdout, r.stdout
