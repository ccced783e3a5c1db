"""The real LLaMA-Factory 0.9.5, in its own virtualenv (scripts/llamafactory-venv.sh makes it when
missing, as the PostgreSQL and Chromium fixtures do for theirs), with a tiny Llama built here."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

VENV = Path(os.environ.get("LOSSWATCH_LLAMAFACTORY_VENV", Path.home() / ".cache/losswatch/venv-llamafactory-0.9.5"))
MAX_STEPS = 300


@pytest.fixture(scope="session")
def llamafactory() -> Path:
    """The venv's bin folder (llamafactory-cli, python)."""
    made = subprocess.run(["bash", str(ROOT / "scripts" / "llamafactory-venv.sh")], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.fail(f"could not make the LLaMA-Factory venv:\n{made.stdout[-2000:]}\n{made.stderr[-4000:]}")
    return VENV / "bin"


@pytest.fixture(scope="session")
def lf_assets(llamafactory: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny Llama, tokenizer, dataset and a base train.yaml, built once in LLaMA-Factory's venv."""
    folder = tmp_path_factory.mktemp("lf-assets")
    subprocess.run(
        [str(llamafactory / "python"), str(Path(__file__).with_name("make_fixture.py")), str(folder), "-", "0"],
        check=True,
        capture_output=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    return folder


@pytest.fixture
def lf_config(lf_assets: Path, tmp_path: Path) -> Callable[..., Path]:
    def make(output_dir: Path, **overrides: object) -> Path:
        config = yaml.safe_load((lf_assets / "train.yaml").read_text())
        config.update(output_dir=str(output_dir), max_steps=MAX_STEPS, **overrides)
        path = tmp_path / f"{output_dir.name}.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    return make


def lf_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **extra}
    # Not the test session's own path: LLaMA-Factory runs in its environment, as a user's would.
    env.pop("PYTHONPATH", None)
    return env


def wait_for(predicate: Callable[[], object], timeout: float = 600.0, every: float = 0.1) -> float:
    """Polls until `predicate()` is truthy; the monotonic time it became so."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)
    return time.monotonic()
