"""What the commands say when something is wrong: what happened and what to do, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from losswatch.monitor.cli import app
from tests.conftest import LiveServer

from .conftest import Seeded

runner = CliRunner()


def said(result: Result) -> str:
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


@pytest.mark.parametrize(
    "args",
    [["runs"], ["report", "r1"], ["export", "r1"], ["plot", "r1", "-o", "{tmp}/x.png"], ["import", "{state}"]],
    ids=["runs", "report", "export", "plot", "import"],
)
def test_messages_unreachable_service_says_how_to_reach_one(tmp_path: Path, args: list[str]) -> None:
    state = tmp_path / "trainer_state.json"
    state.write_text('{"log_history": [{"step": 1, "loss": 1.0}], "global_step": 1}')
    args = [a.format(tmp=tmp_path, state=state) for a in args]
    result = runner.invoke(app, [*args, "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    text = said(result)
    assert "cannot reach http://127.0.0.1:9" in text
    assert "start the service with `losswatch serve`" in text and "--url or LOSSWATCH_URL" in text


@pytest.mark.parametrize("suffix", ["/api/v1", "/api/v1/", "/"], ids=["api-prefix", "api-prefix-slash", "slash"])
def test_messages_url_with_the_api_prefix_is_accepted(seeded: Seeded, suffix: str) -> None:
    result = runner.invoke(app, ["report", seeded.run_id, "--url", seeded.url + suffix])
    assert result.exit_code == 0, result.output
    assert seeded.run_id in result.output


def test_messages_url_of_something_else_says_to_give_the_service_root(seeded: Seeded) -> None:
    result = runner.invoke(app, ["runs", "--url", seeded.url + "/dashboard"])
    assert result.exit_code == 1
    assert "answered 404 for /dashboard/api/v1/runs: is it a losswatch service? give its root URL" in said(result)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    """A server with --auth required, and a token created in its database through the CLI."""
    data = tmp_path_factory.mktemp("auth") / "server-data"
    made = runner.invoke(app, ["token", "create", "--project", "p", "--data-dir", str(data)])
    assert made.exit_code == 0, made.output
    server = LiveServer(data, args=["--auth", "required"]).start()
    yield server, made.stdout.strip()
    server.stop()


def test_messages_token_create_says_which_database_it_wrote(tmp_path: Path) -> None:
    made = runner.invoke(app, ["token", "create", "--data-dir", str(tmp_path / "d")])
    assert made.exit_code == 0, made.output
    assert f"Stored in sqlite:///{(tmp_path / 'd' / 'losswatch.db').resolve()}" in made.stderr
    assert "start-up line names the one it uses" in said(made)


@pytest.mark.parametrize("token", [None, "lw_wrong"], ids=["no-token", "wrong-token"])
def test_messages_401_says_to_set_the_token(guarded: tuple[LiveServer, str], token: str | None) -> None:
    server, _ = guarded
    args = ["runs", "--url", server.url] + (["--token", token] if token else [])
    result = runner.invoke(app, args, env={"LOSSWATCH_TOKEN": None})
    assert result.exit_code == 1
    text = said(result)
    assert f"the service at {server.url} refused the request" in text
    assert "set LOSSWATCH_TOKEN or pass --token" in text and "losswatch token create" in text


def test_messages_the_right_token_is_let_in(guarded: tuple[LiveServer, str]) -> None:
    server, token = guarded
    result = runner.invoke(app, ["runs", "--url", server.url], env={"LOSSWATCH_TOKEN": token})
    assert result.exit_code == 0, result.output


def test_messages_import_of_an_unknown_file_names_the_formats_read(seeded: Seeded, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# my model\n\nIt trains.\n")
    result = runner.invoke(app, ["import", str(readme), "--url", seeded.url])
    assert result.exit_code == 1
    text = said(result)
    assert "trainer_state.json" in text and "trainer_log.jsonl" in text and "TensorBoard event files" in text


def test_messages_sync_of_a_folder_that_is_not_a_spool_fails(seeded: Seeded, tmp_path: Path) -> None:
    (tmp_path / "checkpoint-10").mkdir()
    result = runner.invoke(app, ["sync", str(tmp_path), "--url", seeded.url])
    assert result.exit_code == 2
    assert f"{tmp_path} is not a losswatch spool" in said(result)
    assert "<output_dir>/.losswatch" in said(result)


@pytest.mark.parametrize("command", ["plot", "export"])
def test_messages_output_into_a_missing_folder_is_refused(seeded: Seeded, command: str) -> None:
    result = runner.invoke(app, [command, seeded.run_id, "-o", "/nonexistent/dir/x.png", "--url", seeded.url])
    assert result.exit_code == 2
    assert "the folder /nonexistent/dir does not exist" in said(result)


@pytest.mark.parametrize(
    ("run", "says"),
    [
        pytest.param("../../etc", "no run has an id starting with '../../etc'", id="dot-dot"),
        pytest.param("a/b?c#d", "no run has an id starting with 'a/b?c#d'", id="slash-query-fragment"),
        pytest.param("", "give a run id", id="empty"),
    ],
)
def test_messages_run_ids_are_looked_up_not_followed(seeded: Seeded, run: str, says: str) -> None:
    # Once put into the URL as typed: "../../etc" asked the server for /api/etc, "" for a redirect.
    for command in (["export", run], ["report", run]):
        result = runner.invoke(app, [*command, "--url", seeded.url])
        assert result.exit_code == 1 and says in said(result), result.output


def test_messages_bad_policy_is_said_even_for_a_run_that_exists(live_server: LiveServer, tmp_path: Path) -> None:
    # The run exists after the first import, so the service never sees the policy again: it was ignored, exit 0.
    state = tmp_path / "trainer_state.json"
    state.write_text('{"log_history": [{"step": 1, "loss": 1.0}], "global_step": 1}')
    first = runner.invoke(app, ["import", str(state), "--url", live_server.url, "--no-progress"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(
        app, ["import", str(state), "--url", live_server.url, "--no-progress", "--early-stopping", '{"patience": "x"}']
    )
    assert again.exit_code == 2
    assert "patience: Input should be a valid integer (got 'x')" in said(again)
