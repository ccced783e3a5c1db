from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from matplotlib import image
from typer.testing import CliRunner

from losswatch.monitor.cli import app

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


def pixels_like(img: np.ndarray, rgb: tuple[int, int, int]) -> int:
    px = (img[..., :3] * 255).astype(int)
    return int((np.abs(px - np.array(rgb)).max(axis=-1) < 25).sum())


def test_plot_writes_a_png_with_curves_best_step_and_stop(seeded, tmp_path: Path) -> None:
    out = tmp_path / "training_loss.png"
    result = runner.invoke(app, ["plot", seeded.run_id, "--key", "loss", "-o", str(out), "--url", seeded.url])
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data[:8] == PNG and len(data) > 30_000
    img = image.imread(out)
    assert img.shape[:2] == (660, 1200)
    # Smoothed loss (blue), eval loss (orange), the best step (green) and the stop (red) are all there.
    for colour in ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)):
        assert pixels_like(img, colour) > 100, colour
    assert "eval_loss" in result.output


def test_plot_log_scale_and_other_key(seeded, tmp_path: Path) -> None:
    out = tmp_path / "lr.png"
    result = runner.invoke(
        app, ["plot", seeded.run_id, "--key", "learning_rate", "--log", "-o", str(out), "--url", seeded.url]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == PNG
    assert pixels_like(image.imread(out), (255, 127, 14)) == 0  # no eval twin for a learning rate


def test_plot_unknown_key_lists_the_keys(seeded, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["plot", seeded.run_id, "--key", "acc", "-o", str(tmp_path / "x.png"), "--url", seeded.url]
    )
    assert result.exit_code == 1
    assert "eval_loss" in result.output and not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    ("name", "magic"),
    [("loss.pdf", b"%PDF"), ("loss.jpg", b"\xff\xd8\xff"), ("loss.svg", b"<?xml"), ("loss.PNG", PNG)],
    ids=["pdf", "jpg", "svg", "upper-png"],
)
def test_plot_suffix_chooses_the_format(seeded, tmp_path: Path, name: str, magic: bytes) -> None:
    out = tmp_path / name
    result = runner.invoke(app, ["plot", seeded.run_id, "-o", str(out), "--url", seeded.url])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(magic)


def test_plot_unknown_suffix_is_refused_with_the_formats(seeded, tmp_path: Path) -> None:
    out = tmp_path / "loss.docx"
    result = runner.invoke(app, ["plot", seeded.run_id, "-o", str(out), "--url", seeded.url])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "cannot write a .docx file" in text and "pdf" in text and "png" in text
    assert not out.exists()


def test_plot_log_scale_of_a_key_with_no_positive_value_says_so(seeded, tmp_path: Path) -> None:
    import warnings

    import httpx

    points = [{"key": "reward", "step": s, "value": -1.0 - s / 100} for s in range(1, 30)]
    httpx.post(
        f"{seeded.url}/api/v1/runs/{seeded.run_id}/metrics", json={"points": points}, timeout=10
    ).raise_for_status()
    out = tmp_path / "reward.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "Data has no positive values" warning printed source lines
        result = runner.invoke(
            app, ["plot", seeded.run_id, "--key", "reward", "--log", "-o", str(out), "--url", seeded.url]
        )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == PNG
    assert "--log needs positive values and reward has none: drawn on a linear axis" in result.output


def test_plot_values_near_the_float_limit_are_left_out_and_said(seeded, tmp_path: Path) -> None:
    import httpx

    huge = [1e308, -1.7e308, 1.5e308]
    points = [{"key": "blowup", "step": s, "value": v} for s, v in enumerate([*huge, 2.0, 1.5, 1.2], start=1)]
    httpx.post(
        f"{seeded.url}/api/v1/runs/{seeded.run_id}/metrics", json={"points": points}, timeout=10
    ).raise_for_status()
    out = tmp_path / "blowup.png"
    result = runner.invoke(app, ["plot", seeded.run_id, "--key", "blowup", "-o", str(out), "--url", seeded.url])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == PNG
    assert "3 value(s) beyond ±1e+300 left out" in result.output


def test_plot_names_the_best_at_the_stop_apart_from_a_later_best(
    live_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run that went on past its stop (an imported log) has a better evaluation later: the legend called
    # the stop's best "best", beside a diagnosis and report that name the later one.
    import matplotlib

    monkeypatch.setitem(matplotlib.rcParams, "svg.fonttype", "none")  # legend text stays text in the SVG
    url = live_server.url
    run_id = httpx.post(
        f"{url}/api/v1/runs", json={"name": "after", "early_stopping": {"compat": "hf", "patience": 1}}
    ).json()["id"]
    points = [{"key": "loss", "step": s, "value": 3.0 - s / 1000} for s in range(1, 501)]
    evals = {100: 1.0, 200: 0.9, 300: 0.95, 400: 0.97, 500: 0.8}
    points += [{"key": "eval_loss", "step": s, "value": v} for s, v in evals.items()]
    httpx.post(f"{url}/api/v1/runs/{run_id}/metrics", json={"points": points}).raise_for_status()
    out = tmp_path / "p.svg"
    result = runner.invoke(app, ["plot", run_id, "-o", str(out), "--url", url])
    assert result.exit_code == 0, result.output
    svg = out.read_text()
    assert "best at the stop eval_loss 0.9 @ step 200" in svg and "best eval_loss 0.8 @ step 500" in svg
