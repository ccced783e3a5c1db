"""The options many commands share, defined once: where the service is, the token, and for the commands
that start runs, their project and policy."""

from __future__ import annotations

import typer

URL = typer.Option("http://127.0.0.1:8000", "--url", envvar="LOSSWATCH_URL", help="the losswatch service")
TOKEN = typer.Option(None, "--token", envvar="LOSSWATCH_TOKEN", help="API token")
RUNS_PROJECT = typer.Option("default", "--project", envvar="LOSSWATCH_PROJECT", help="project of the runs")
EARLY_STOPPING = typer.Option(
    None, "--early-stopping", envvar="LOSSWATCH_EARLY_STOPPING", help='policy as JSON, e.g. {"patience": 3}'
)
