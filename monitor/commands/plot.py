"""`losswatch plot RUN -o FILE.png`: LLaMA-Factory's training_loss.png, plus eval, the best step and the stop."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from losswatch.monitor import cli_options as options
from losswatch.monitor.vocabulary import EVAL_LOSS, companion_key, is_eval_key

# matplotlib computes an axis's span and margins in floats: values near the float limit (a run that blew up to
# 1e308) overflow them and it cannot draw at all. Beyond this magnitude a value is left out as a gap.
DRAWABLE = 1e300


def _values(points: list[dict[str, Any]], field: str) -> list[float]:
    # Non-finite values arrive spelled out; float() reads "NaN"/"Infinity", and matplotlib leaves gaps.
    out = [float(p[field]) for p in points]
    return [v if abs(v) <= DRAWABLE or not math.isfinite(v) else math.nan for v in out]


def _run_best(run: dict[str, Any], monitor: str) -> tuple[int, float] | None:
    """(step, value) of the monitored key's best over the whole run, from its summary."""
    maximize = (run.get("early_stopping") or {}).get("mode") == "max"
    for k in run.get("keys", []):
        if k["key"] == monitor and k.get("min_step") is not None:
            return (k["max_step"], k["max"]) if maximize else (k["min_step"], k["min"])
    return None


def _too_large(points: list[dict[str, Any]], field: str) -> int:
    return sum(1 for p in points if math.isfinite(v := float(p[field])) and abs(v) > DRAWABLE)


def image_format(path: Path) -> str:
    """The format the file's suffix asks for (no suffix: PNG); BadParameter when matplotlib cannot write it."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    from matplotlib.backend_bases import FigureCanvasBase

    suffix = path.suffix.lower().lstrip(".")
    if not suffix:
        return "png"
    formats = FigureCanvasBase.get_supported_filetypes()
    if suffix not in formats:
        raise typer.BadParameter(
            f"cannot write a .{suffix} file; the suffix chooses the format: {', '.join(sorted(formats))}",
            param_hint="-o",
        )
    return suffix


def draw(
    path: Path,
    run: dict[str, Any],
    key: str,
    train: dict[str, Any],
    evals: dict[str, Any] | None,
    log: bool,
    fmt: str = "png",
) -> str | None:
    """Draw the plot into `path`; a note for the person when it could not be drawn as asked."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5.5), dpi=120)
    steps = [p["step"] for p in train["points"]]
    raw = _values(train["points"], "value")
    eval_values = _values(evals["points"], "value") if evals is not None else []
    ax.plot(steps, raw, color="#1f77b4", alpha=0.3, linewidth=1, label=f"{key} (raw)")
    ax.plot(
        steps,
        _values(train["points"], "smoothed"),
        color="#1f77b4",
        linewidth=2.2,
        label=f"{key} (smoothed, {train['smoothing_mode']} {train['smoothing']:g})",
    )
    if evals is not None and evals["points"]:
        ax.plot(
            [p["step"] for p in evals["points"]],
            eval_values,
            color="#ff7f0e",
            linewidth=1.8,
            marker="o",
            markersize=3.5,
            label=evals["key"],
        )
    d = run["decision"]
    shown = {key, evals["key"] if evals else None}
    if d.get("best_step") is not None and d.get("monitor") in shown:
        # The decision's best is as of its step: a run that went on after a stop may have a better one later,
        # the one the diagnosis and the report name. Each is drawn under its own name.
        overall = _run_best(run, d["monitor"])
        later = bool(d.get("should_stop")) and overall is not None and overall[0] != d["best_step"]
        marks = [("best at the stop" if later else "best", d["best_step"], d["best_value"], "--")]
        if later and overall is not None:
            marks.append(("best", overall[0], overall[1], ":"))
        for word, step, best, style in marks:
            finite = isinstance(best, float | int) and math.isfinite(best)
            label = f"{word} {d['monitor']} {best:.4g} @ step {step}" if finite else f"{word} @ step {step}"
            ax.axvline(step, color="#2ca02c", linestyle=style, linewidth=1.4, label=label)
    if d.get("should_stop") and d.get("step") is not None:
        ax.axvline(d["step"], color="#d62728", linewidth=1.6, label=f"stop ({d['reason']}) @ step {d['step']}")
    notes = []
    if log and any(v > 0 for v in [*raw, *eval_values] if math.isfinite(v)):
        ax.set_yscale("log")
    elif log:
        notes.append(f"--log needs positive values and {key} has none: drawn on a linear axis")
    huge = _too_large(train["points"], "value") + (_too_large(evals["points"], "value") if evals is not None else 0)
    if huge:
        notes.append(f"{huge} value(s) beyond ±{DRAWABLE:g} left out: an axis that wide cannot be drawn")
    ax.set_xlabel("step")
    ax.set_ylabel(key)
    ax.set_title(f"{run['name']} ({run['project']}): {key}")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    fig.tight_layout()
    try:
        fig.savefig(path, format=fmt)
    finally:
        plt.close(fig)
    return "; ".join(notes) or None


def register(app: typer.Typer) -> None:
    @app.command("plot")
    def plot(
        run: str = typer.Argument(..., help="run id (or a unique start of it)"),
        output: Path = typer.Option(..., "-o", "--output", help="image to write; .png, .pdf, .svg, .jpg..."),
        key: str = typer.Option("loss", "--key", help="the metric to draw (its eval_ twin is drawn too)"),
        smoothing: float = typer.Option(0.6, min=0.0, max=0.99, help="TensorBoard EMA weight"),
        mode: str = typer.Option("tensorboard", "--mode", help="tensorboard, llamafactory or none"),
        log: bool = typer.Option(False, "--log", help="logarithmic y axis"),
        url: str = options.URL,
        token: str | None = options.TOKEN,
    ) -> None:
        """Draw raw (faint) and smoothed (bold) curves, the eval curve, the best step and the stop, to an image.

        Example: losswatch plot 3f9c2a1b --key loss -o training_loss.png
        """
        import httpx

        from losswatch.monitor.outfile import refuse_output
        from losswatch.monitor.restclient import RunNotFound, connect, explain, fetch_run

        if mode not in ("tensorboard", "llamafactory", "none"):
            raise typer.BadParameter("must be tensorboard, llamafactory or none", param_hint="--mode")
        fmt = image_format(output)
        refuse_output(output, "plot")
        params: dict[str, str | float | int] = {"smoothing": smoothing, "smoothing_mode": mode, "max_points": 5000}
        try:
            with connect(url, token, timeout=120) as client:
                info, keys, problem = fetch_run(client, run, wanted=[key])
                if problem:
                    typer.echo(f"losswatch plot: {problem}", err=True)
                    raise typer.Exit(1)
                run = info["id"]
                train = client.get(f"/api/v1/runs/{run}/metrics/{key}", params=params)
                train.raise_for_status()
                twin = companion_key(key, set(keys)) if not is_eval_key(key) else None
                if twin == EVAL_LOSS and "loss" not in key:
                    twin = None  # a learning rate or grad norm has no validation curve to draw beside it
                evals = None
                if twin:
                    e = client.get(f"/api/v1/runs/{run}/metrics/{twin}", params=params)
                    e.raise_for_status()
                    evals = e.json()
        except RunNotFound as exc:
            typer.echo(f"losswatch plot: {exc}", err=True)
            raise typer.Exit(1) from exc
        except httpx.HTTPError as exc:
            typer.echo(f"losswatch plot: {explain(exc, url)}", err=True)
            raise typer.Exit(1) from exc
        try:
            note = draw(output, info, key, train.json(), evals, log, fmt)
        except OSError as exc:
            typer.echo(f"losswatch plot: cannot write {output}: {exc.strerror or exc}", err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"{output}: {key}" + (f" and {evals['key']}" if evals else ""))
        if note:
            typer.echo(f"losswatch plot: {note}", err=True)
