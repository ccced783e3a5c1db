"""`losswatch report RUN`: the run's diagnosis as text a person would write, in English or Chinese."""

from __future__ import annotations

from typing import Any

import typer

from losswatch.monitor.vocabulary import EVAL_LOSS, TRAIN_LOSS

HEAD = {
    "en": {
        "run": "Run",
        "status": "status",
        "decision": "Decision",
        "stop": "stop",
        "go": "continue",
        "advice": "Advice",
        "none": "no metrics logged yet",
    },
    "zh": {
        "run": "运行",
        "status": "状态",
        "decision": "决定",
        "stop": "停止",
        "go": "继续",
        "advice": "建议",
        "none": "还没有记录任何指标",
    },
}


def _keys_to_report(keys: list[str], wanted: list[str] | None) -> list[str]:
    if wanted:
        return wanted
    # What a person reads first: validation loss, then training loss; otherwise every key with "loss".
    main = [k for k in (EVAL_LOSS, TRAIN_LOSS) if k in keys]
    return main or [k for k in keys if "loss" in k] or keys[:1]


def render(run: dict[str, Any], diagnoses: list[dict[str, Any]], lang: str) -> str:
    t = HEAD[lang]
    d = run["decision"]
    lines = [
        f"{t['run']} {run['name']} ({run['project']}/{run['id']}), {t['status']}: {run['status']}",
        f"{t['decision']}: {t['stop'] if d['should_stop'] else t['go']} ({d['reason']}) — {d['message']}",
        "",
    ]
    if not diagnoses:
        lines.append(t["none"])
    advice: dict[str, str] = {}
    for diag in diagnoses:
        lines += [f"[{diag['key']}] {diag['state']}", diag["summary"], ""]
        for a in diag.get("advice") or []:
            advice.setdefault(a["code"], a["message"])
    if advice:
        lines.append(f"{t['advice']}:")
        lines += [f"- {m}" for m in advice.values()]
    return "\n".join(lines).rstrip() + "\n"


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        run: str = typer.Argument(..., help="run id"),
        lang: str = typer.Option("en", "--lang", help="en or zh"),
        key: list[str] | None = typer.Option(None, "--key", help="metric(s) to read (default: eval_loss and loss)"),
        url: str = typer.Option("http://127.0.0.1:8000", envvar="LOSSWATCH_URL", help="the losswatch service"),
        token: str | None = typer.Option(None, envvar="LOSSWATCH_TOKEN", help="API token"),
    ) -> None:
        """Print the run's diagnosis as a short text: trend, noise, overfitting, the decision and advice.

        Example: losswatch report 3f9c2a1b --lang zh --url http://127.0.0.1:8000
        """
        import httpx

        from losswatch.monitor.restclient import connect, fetch_run

        if lang not in HEAD:
            raise typer.BadParameter("must be en or zh", param_hint="--lang")
        try:
            with connect(url, token, timeout=60) as client:
                info, names, problem = fetch_run(client, run, wanted=list(key or []))
                if problem:
                    typer.echo(f"losswatch report: {problem}", err=True)
                    raise typer.Exit(1)
                diagnoses = []
                for k in _keys_to_report(names, key):
                    r = client.get(f"/api/v1/runs/{run}/diagnostics", params={"key": k, "lang": lang})
                    r.raise_for_status()
                    diagnoses.append(r.json())
        except httpx.HTTPStatusError as exc:
            typer.echo(f"losswatch report: {_detail(exc.response)}", err=True)
            raise typer.Exit(1) from exc
        except httpx.HTTPError as exc:
            typer.echo(f"losswatch report: cannot reach {url}: {exc}", err=True)
            raise typer.Exit(1) from exc
        typer.echo(render(info, diagnoses, lang), nl=False)


def _detail(response: Any) -> str:
    try:
        return f"{response.status_code}: {response.json()['detail']}"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code}: {response.text[:200]}"
