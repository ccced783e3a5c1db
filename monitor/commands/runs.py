"""`losswatch runs`: the runs the service knows, newest first, with where each is in its life."""

from __future__ import annotations

import time
from typing import Any

import typer

from losswatch.monitor import cli_options as options


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def table(runs: list[dict[str, Any]]) -> str:
    """Aligned columns a person can read and `cut`/`awk` can split (two spaces or more between columns)."""
    head = ("ID", "PROJECT", "NAME", "STATUS", "CREATED", "ENDED")
    rows = [head] + [
        (r["id"], r["project"], r["name"], r["status"], _when(r["created_at"]), _when(r.get("ended_at"))) for r in runs
    ]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def register(app: typer.Typer) -> None:
    @app.command("runs")
    def runs(
        project: str | None = typer.Option(None, envvar="LOSSWATCH_PROJECT", help="only this project's runs"),
        status: str | None = typer.Option(None, help="only runs with this status (running, finished, stopped...)"),
        limit: int = typer.Option(50, min=1, help="show at most this many (newest first)"),
        url: str = options.URL,
        token: str | None = options.TOKEN,
    ) -> None:
        """List runs, newest first; any command that takes a run accepts a unique start of its id.

        Example: losswatch runs --project sft --status running
        """
        import httpx

        from losswatch.monitor.restclient import connect, explain

        params = {k: v for k, v in (("project", project), ("status", status)) if v}
        try:
            with connect(url, token, timeout=60) as client:
                r = client.get("/api/v1/runs", params=params)
                r.raise_for_status()
        except httpx.HTTPError as exc:
            typer.echo(f"losswatch runs: {explain(exc, url)}", err=True)
            raise typer.Exit(1) from exc
        found = sorted(r.json()["runs"], key=lambda x: x["created_at"], reverse=True)
        if not found:
            typer.echo("no runs" + (f" matching {params}" if params else " yet"), err=True)
            return
        typer.echo(table(found[:limit]))
        if len(found) > limit:
            typer.echo(f"({len(found) - limit} older runs not shown; --limit shows more)", err=True)
