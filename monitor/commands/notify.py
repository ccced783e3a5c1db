"""`losswatch notify`: where a project's messages go (list, add, remove, test), through the REST API."""

from __future__ import annotations

import time
from typing import Any

import typer

from losswatch.monitor import cli_options as options
from losswatch.monitor.vocabulary import LANGS, NOTIFY_EVENTS, NOTIFY_KINDS

PATH = "/api/v1/projects/{project}/notifications"


def register(app: typer.Typer) -> None:
    notify_app = typer.Typer(
        help="Tell people when a run stops, goes silent or finishes (webhook, Slack, Discord, Feishu, DingTalk, "
        "WeCom).",
        no_args_is_help=True,
    )
    app.add_typer(notify_app, name="notify")
    project_option = typer.Option("default", "--project", envvar="LOSSWATCH_PROJECT", help="the project")

    def call(method: str, url: str, token: str | None, path: str, body: Any = None) -> Any:
        import httpx

        from losswatch.monitor.restclient import connect, detail

        try:
            with connect(url, token, timeout=30) as client:
                r = client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            typer.echo(f"losswatch notify: cannot reach {url}: {exc}", err=True)
            raise typer.Exit(1) from exc
        if r.is_error:
            typer.echo(f"losswatch notify: {r.status_code}: {detail(r)}", err=True)
            raise typer.Exit(1)
        return r.json()

    def kept(targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Sent back by id without their URL: the service keeps the stored (secret) address.
        return [{"id": t["id"], "kind": t["kind"], "events": t["events"], "lang": t["lang"]} for t in targets]

    @notify_app.command("list")
    def list_(project: str = project_option, url: str = options.URL, token: str | None = options.TOKEN) -> None:
        """List the project's targets (addresses masked) and its latest deliveries.

        Example: losswatch notify list --project sft
        """
        targets = call("GET", url, token, PATH.format(project=project))["targets"]
        if not targets:
            typer.echo(f"project {project!r} has no notification targets; add one with `losswatch notify add`")
            return
        for t in targets:
            typer.echo(f"{t['id']}\t{t['kind']}\t{t['url']}\t{','.join(t['events'])}\t{t['lang']}")
        recent = call("GET", url, token, PATH.format(project=project) + "/deliveries")["deliveries"][:10]
        if recent:
            typer.echo("latest deliveries:")
        for d in recent:
            note = f"\t{d['last_error']}" if d["last_error"] else ""
            typer.echo(
                f"  {d['id'][:12]}\ttarget {d['target_id']}\t{d['event']}\t{d['status']}\t{d['run_id'] or '-'}{note}"
            )

    @notify_app.command("add")
    def add(
        kind: str = typer.Argument(..., help=f"one of {', '.join(NOTIFY_KINDS)}"),
        address: str = typer.Argument(..., metavar="WEBHOOK_URL", help="the incoming-webhook address"),
        events: str = typer.Option(",".join(NOTIFY_EVENTS), help=f"comma-separated: {', '.join(NOTIFY_EVENTS)}"),
        lang: str = typer.Option("en", help=f"message language: {', '.join(LANGS)}"),
        project: str = project_option,
        url: str = options.URL,
        token: str | None = options.TOKEN,
    ) -> None:
        """Add a target; it gets the chosen events of every run of the project.

        Example: losswatch notify add feishu https://open.feishu.cn/open-apis/bot/v2/hook/XXXX --lang zh
        """
        if kind not in NOTIFY_KINDS:
            raise typer.BadParameter(f"must be one of {', '.join(NOTIFY_KINDS)}", param_hint="KIND")
        wanted = [e.strip() for e in events.split(",") if e.strip()]
        path = PATH.format(project=project)
        targets = call("GET", url, token, path)["targets"]
        new = {"kind": kind, "url": address, "events": wanted, "lang": lang}
        after = call("PUT", url, token, path, {"targets": [*kept(targets), new]})["targets"]
        added = after[-1]
        typer.echo(
            f"target {added['id']}: {added['kind']} {added['url']} ({','.join(added['events'])}, {added['lang']})"
        )
        typer.echo(f"try it: losswatch notify test {added['id']} --project {project}", err=True)

    @notify_app.command("remove")
    def remove(
        target_id: int = typer.Argument(..., help="the id `notify list` shows"),
        project: str = project_option,
        url: str = options.URL,
        token: str | None = options.TOKEN,
    ) -> None:
        """Remove a target; its undelivered messages go with it.

        Example: losswatch notify remove 2 --project sft
        """
        path = PATH.format(project=project)
        targets = call("GET", url, token, path)["targets"]
        if not any(t["id"] == target_id for t in targets):
            ids = ", ".join(str(t["id"]) for t in targets) or "none"
            typer.echo(f"losswatch notify: project {project!r} has no target {target_id} (it has: {ids})", err=True)
            raise typer.Exit(1)
        call("PUT", url, token, path, {"targets": kept([t for t in targets if t["id"] != target_id])})
        typer.echo(f"target {target_id} removed")

    @notify_app.command("test")
    def test(
        target_id: int | None = typer.Argument(None, help="one target (default: every target of the project)"),
        wait: float = typer.Option(15.0, help="seconds to wait for the delivery's outcome"),
        project: str = project_option,
        url: str = options.URL,
        token: str | None = options.TOKEN,
    ) -> None:
        """Send a test message and say whether it arrived.

        Example: losswatch notify test 1 --project sft
        """
        path = PATH.format(project=project)
        body = {"target": target_id} if target_id is not None else {}
        ids = set(call("POST", url, token, path + "/test", body)["ids"])
        deadline = time.monotonic() + wait
        while True:
            rows = [d for d in call("GET", url, token, path + "/deliveries")["deliveries"] if d["id"] in ids]
            settled = [d for d in rows if d["status"] != "pending"]
            if len(settled) == len(ids) or time.monotonic() >= deadline:
                break
            time.sleep(0.25)
        failed = False
        for d in rows:
            if d["status"] == "done":
                typer.echo(f"target {d['target_id']}: delivered")
            elif d["status"] == "pending":
                failed = True
                why = f" (last error: {d['last_error']})" if d["last_error"] else ""
                typer.echo(f"target {d['target_id']}: not delivered yet, still retrying{why}")
            else:
                failed = True
                typer.echo(f"target {d['target_id']}: {d['status']}: {d['last_error']}")
        if failed:
            raise typer.Exit(1)
