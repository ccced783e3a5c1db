"""Headless Chromium (Debian's, driven by Playwright) against a real `losswatch serve`, plus runs to look at.

The pages' Content-Security-Policy forbids eval, so `wait_for_function` predicates are written as functions
(`"() => ..."`): Playwright polls a bare expression through eval, which the page refuses."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from tests.conftest import LiveServer

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def curve(steps: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """A fine-tune's look: noisy training loss falling, validation loss with a U (it overfits late)."""
    rng = np.random.default_rng(seed)
    s = steps.astype(float)
    return {
        "loss": 2.4 * np.exp(-s / 250) + 0.55 + rng.normal(0, 0.08, s.size),
        "eval_loss": 2.2 * np.exp(-s / 250) + 0.8 + 0.00045 * np.maximum(s - 500, 0),
        "learning_rate": 2e-4 * (1 - s / 2000),
        "grad_norm": 1.5 * np.exp(-s / 600) + 0.4 + np.abs(rng.normal(0, 0.2, s.size)),
    }


def points_for(steps: np.ndarray, seed: int = 0, eval_every: int = 50) -> list[dict[str, Any]]:
    c = curve(steps, seed)
    out = []
    for i, st in enumerate(steps):
        for key in ("loss", "learning_rate", "grad_norm"):
            out.append({"key": key, "step": int(st), "value": float(c[key][i])})
        if st % eval_every == 0:
            out.append({"key": "eval_loss", "step": int(st), "value": float(c["eval_loss"][i])})
    return out


def create_run(url: str, name: str, project: str = "dash", patience: int = 3) -> str:
    # The rule is spelled out so the stop these tests draw does not move with the service's default policy.
    policy = {"monitor": "eval_loss", "patience": patience, "rule": "best", "min_delta": 0.0}
    body = {
        "name": name,
        "project": project,
        "early_stopping": policy,
        "config": {"eval_steps": 50, "save_steps": 50, "per_device_train_batch_size": 8},
    }
    r = httpx.post(f"{url}/api/v1/runs", json=body, timeout=10)
    r.raise_for_status()
    return r.json()["id"]


def post(url: str, run_id: str, points: list[dict[str, Any]]) -> dict[str, Any]:
    r = httpx.post(f"{url}/api/v1/runs/{run_id}/metrics", json={"points": points}, timeout=30)
    r.raise_for_status()
    return r.json()


@dataclass
class Feeder:
    """A training run in a thread: posts a few steps at a time until told to stop or the service says stop."""

    url: str
    run_id: str
    step: int
    per_batch: int = 5
    pause: float = 0.25
    decisions: list[dict[str, Any]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    halt: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        try:
            while not self.halt.is_set() and self.step < 1990:
                steps = np.arange(self.step + 1, self.step + 1 + self.per_batch)
                decision = post(self.url, self.run_id, points_for(steps))["decision"]
                self.step = int(steps[-1])
                self.decisions.append(decision)
                if decision["should_stop"]:
                    # What the trainer callback does on a stop: finish and say so.
                    httpx.patch(f"{self.url}/api/v1/runs/{self.run_id}", json={"status": "stopped"}, timeout=10)
                    break
                self.halt.wait(self.pause)
        finally:
            self.done.set()


@pytest.fixture
def feed() -> Iterator[Any]:
    started: list[tuple[Feeder, threading.Thread]] = []

    def start(url: str, run_id: str, step: int, **kw: Any) -> Feeder:
        f = Feeder(url, run_id, step, **kw)
        t = threading.Thread(target=f.run, daemon=True)
        t.start()
        started.append((f, t))
        return f

    yield start
    for f, t in started:
        f.halt.set()
        t.join(timeout=30)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The shared `live_server`, once per module: its start-up dominates these tests; runs do not collide."""
    server = LiveServer(tmp_path_factory.mktemp("dashboard") / "server-data").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
    yield b
    b.close()


@dataclass
class Tab:
    page: Page
    problems: list[str]

    @property
    def width(self) -> int:
        size = self.page.viewport_size
        assert size is not None
        return size["width"]

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def _is_missing_diagnostics(msg: ConsoleMessage) -> bool:
    # While the diagnostics route is missing the page shows "diagnosis unavailable", by design;
    # Chromium still logs each 404 fetch as a console error, which is not a script error.
    return "Failed to load resource" in msg.text and "/diagnostics" in (msg.location or {}).get("url", "")


@pytest.fixture
def tab(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Tab]:
    width, height = getattr(request, "param", (1400, 900))
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(f"console.{m.type}: {m.text}")
            if m.type == "error" and not _is_missing_diagnostics(m)
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    yield Tab(page, problems)
    context.close()


def canvas_ink(page: Page, selector: str, rgb: tuple[int, int, int]) -> int:
    """How many pixels of the chart's canvas are (nearly) the given colour: proof a line was drawn."""
    return page.evaluate(
        """([sel, rgb]) => {
            const c = document.querySelector(sel);
            if (!c) return -1;
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4) {
                if (d[i + 3] > 200 && Math.abs(d[i] - rgb[0]) < 30 && Math.abs(d[i + 1] - rgb[1]) < 30
                    && Math.abs(d[i + 2] - rgb[2]) < 30) n++;
            }
            return n;
        }""",
        [selector, list(rgb)],
    )


def words(url: str, kind: str, code: str, lang: str) -> str:
    """What the pages show for a code: the service's own label for it (GET /api/v1/vocabulary)."""
    return str(httpx.get(f"{url}/api/v1/vocabulary", timeout=10).json()["labels"][kind][lang][code])


def finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)
