"""`losswatch report RUN`: the run's diagnosis as text a person would write, in English or Chinese."""

from __future__ import annotations

from typing import Any

import typer

from losswatch.monitor import cli_options as options
from losswatch.monitor.vocabulary import ENDED_STATUSES, EVAL_LOSS, TRAIN_LOSS

HEAD = {
    "en": {
        "run": "Run",
        "status": "status",
        "decision": "Decision",
        "stop": "stop",
        "go": "continue",
        "advice": "Advice",
        "facts": "Facts",
        "none": "no metrics logged yet",
    },
    "zh": {
        "run": "运行",
        "status": "状态",
        "decision": "决定",
        "stop": "停止",
        "go": "继续",
        "advice": "建议",
        "facts": "事实",
        "none": "还没有记录任何指标",
    },
}


def _keys_to_report(keys: list[str], wanted: list[str] | None) -> list[str]:
    if wanted:
        return wanted
    # What a person reads first: validation loss, then training loss; otherwise every key with "loss".
    main = [k for k in (EVAL_LOSS, TRAIN_LOSS) if k in keys]
    return main or [k for k in keys if "loss" in k] or keys[:1]


def plain(value: Any) -> str:
    """Text safe to print on a terminal: a name may hold escapes that retitle, clear or fake the screen,
    so every control or format character (newlines included) shows as a visible escape instead."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in str(value))


def render(run: dict[str, Any], diagnoses: list[dict[str, Any]], lang: str) -> str:
    from losswatch.monitor.labels import decision_text, label, lifecycle

    t = HEAD[lang]
    d = run["decision"]
    sep = "：" if lang == "zh" else ": "
    word = "stop" if d["should_stop"] else "ended" if run["status"] in ENDED_STATUSES else "continue"
    verdict = label("decision", word, lang)
    if d["should_stop"] and d.get("step") is not None and lang != "zh":
        # The step the stop was decided at: an imported log (or a run that went on) has points past it, and
        # the decision's best is the best as of that step. The Chinese text already names it.
        verdict += f" at step {d['step']}"
    lines = [
        f"{t['run']} {run['name']} ({run['project']}/{run['id']}), {t['status']}{sep}{lifecycle(run, lang)}",
        f"{t['decision']}: {verdict} ({label('reason', d['reason'], lang)}, {d['reason']}) — {decision_text(d, lang)}",
        "",
    ]
    if not diagnoses:
        lines.append(t["none"])
    advice: dict[str, str] = {}
    facts: dict[str, str] = {}
    for diag in diagnoses:
        lines += [f"[{diag['key']}] {label('state', diag['state'], lang)}", diag["summary"], ""]
        for a in diag.get("advice") or []:
            (facts if a.get("kind") == "fact" else advice).setdefault(a["code"], a["message"])
    for title, items in ((t["facts"], facts), (t["advice"], advice)):
        if items:
            lines.append(f"{title}:")
            lines += [f"- {m}" for m in items.values()]
    # Every line holds names from the service (run, project, keys): each is printed as plain text.
    return "\n".join(plain(line) for line in lines).rstrip() + "\n"


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        run: str = typer.Argument(..., help="run id (or a unique start of it)"),
        lang: str = typer.Option("en", "--lang", help="en or zh"),
        key: list[str] | None = typer.Option(None, "--key", help="metric(s) to read (default: eval_loss and loss)"),
        url: str = options.URL,
        token: str | None = options.TOKEN,
    ) -> None:
        """Print the run's diagnosis as a short text: trend, noise, overfitting, the decision and advice.

        Example: losswatch report 3f9c2a1b --lang zh --url http://127.0.0.1:8000
        """
        import httpx

        from losswatch.monitor.restclient import RunNotFound, connect, explain, fetch_run

        if lang not in HEAD:
            raise typer.BadParameter("must be en or zh", param_hint="--lang")
        try:
            with connect(url, token, timeout=60) as client:
                info, names, problem = fetch_run(client, run, wanted=list(key or []))
                if problem:
                    typer.echo(f"losswatch report: {plain(problem)}", err=True)
                    raise typer.Exit(1)
                diagnoses = []
                for k in _keys_to_report(names, key):
                    r = client.get(f"/api/v1/runs/{info['id']}/diagnostics", params={"key": k, "lang": lang})
                    r.raise_for_status()
                    diagnoses.append(r.json())
        except RunNotFound as exc:
            typer.echo(f"losswatch report: {plain(exc)}", err=True)
            raise typer.Exit(1) from exc
        except httpx.HTTPError as exc:
            typer.echo(f"losswatch report: {explain(exc, url)}", err=True)
            raise typer.Exit(1) from exc
        typer.echo(render(info, diagnoses, lang), nl=False)
