"""`losswatch run -- CMD ARGS...`: every transformers Trainer in CMD's process tree reports to losswatch.

As `opentelemetry-instrument` does: CMD replaces this process, with a start-up hook first on
PYTHONPATH (a `sitecustomize` that waits for transformers) and the settings in the environment,
which every Python process it starts inherits (LLaMA-Factory's web UI launching
`llamafactory-cli train`, torchrun's workers). So the exit code and the signals are CMD's own. The
hook loads this very losswatch from its folder, so the training environment needs only httpx
besides what it already has.
"""

from __future__ import annotations

import os
import shutil
from importlib.util import find_spec
from pathlib import Path

import typer

from losswatch.monitor import cli_options as options


def package_dir() -> Path:
    spec = find_spec("losswatch")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cannot find the losswatch package")
    # Not resolved: in a source checkout losswatch/callbacks is a link, and the hook finds its way back.
    return Path(next(iter(spec.submodule_search_locations))).absolute()


def child_env(
    base: dict[str, str],
    *,
    url: str,
    project: str,
    name: str | None,
    early_stopping: str | None,
    token: str | None,
    keep_best: bool,
) -> dict[str, str]:
    package = package_dir()
    env = dict(base)
    hook = package / "callbacks" / "startup"
    env["PYTHONPATH"] = os.pathsep.join([str(hook), *filter(None, [base.get("PYTHONPATH")])])
    env.update(LOSSWATCH_AUTOATTACH="1", LOSSWATCH_PACKAGE_DIR=str(package), LOSSWATCH_URL=url)
    env["LOSSWATCH_PROJECT"] = project
    env["LOSSWATCH_KEEP_BEST"] = "1" if keep_best else "0"
    for key, value in (("LOSSWATCH_RUN_NAME", name), ("LOSSWATCH_EARLY_STOPPING", early_stopping)):
        if value:
            env[key] = value
    if token:
        env["LOSSWATCH_TOKEN"] = token
    return env


def register(app: typer.Typer) -> None:
    @app.command("run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
    def run(
        command: list[str] = typer.Argument(..., help="the command to run, after --"),
        url: str = options.URL,
        project: str = options.RUNS_PROJECT,
        name: str | None = typer.Option(None, help="run name (default: the Trainer's run_name)"),
        early_stopping: str | None = options.EARLY_STOPPING,
        token: str | None = options.TOKEN,
        keep_best: bool = typer.Option(True, help="keep and load the best evaluation's weights at the end"),
    ) -> None:
        """Run a training command so that every transformers Trainer in it reports to losswatch and stops
        when losswatch says so, keeping the best weights; the exit code is the command's.

        Example: losswatch run -- llamafactory-cli train examples/train_lora/llama3_lora_sft.yaml
        Example: losswatch run --project sft -- llamafactory-cli webui
        """
        from losswatch.monitor.policy_json import parse_policy

        try:
            parse_policy(early_stopping)
        except ValueError as exc:
            typer.echo(f"losswatch run: {exc}", err=True)
            raise typer.Exit(2) from exc
        program = shutil.which(command[0])
        if program is None:
            typer.echo(f"losswatch run: command not found: {command[0]}", err=True)
            raise typer.Exit(127)
        env = child_env(
            dict(os.environ),
            url=url,
            project=project,
            name=name,
            early_stopping=early_stopping,
            token=token,
            keep_best=keep_best,
        )
        os.execve(program, command, env)
