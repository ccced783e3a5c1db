"""`losswatch demo`: a tiny model trains on the CPU against a running service, overfits, and is stopped."""

from __future__ import annotations

import subprocess
import sys

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        url: str = typer.Option("http://127.0.0.1:8000", envvar="LOSSWATCH_URL", help="a running losswatch service"),
        max_steps: int = typer.Option(1500, help="upper bound; the service stops it earlier"),
        step_delay: float = typer.Option(
            0.3, min=0.0, max=60.0, help="seconds added per step so the curves grow visibly"
        ),
    ) -> None:
        """Train a tiny GPT-2 (built from a config, no download) for about a minute and watch it live.

        Example: losswatch serve &  losswatch demo --url http://127.0.0.1:8000
        """
        import httpx

        try:
            httpx.get(url.rstrip("/") + "/healthz", timeout=3).raise_for_status()
        except httpx.HTTPError as exc:
            typer.echo(f"losswatch demo: no service at {url} ({exc}); start one with `losswatch serve`", err=True)
            raise typer.Exit(2) from exc
        # The training runs in its own process: the CLI (monitor) does not import trainer code.
        code = subprocess.call(
            [
                sys.executable,
                "-m",
                "losswatch.callbacks.demo",
                "--url",
                url,
                "--max-steps",
                str(max_steps),
                "--step-delay",
                str(step_delay),
            ]
        )
        raise typer.Exit(code)
