"""What a message says, in English or Chinese, from an event's stored facts: a title and a few lines
carrying the numbers. Each target's format (formats.py) lays these out."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from losswatch.monitor.labels import decision_text

REASONS = {
    "en": {
        "none": "no stop",
        "patience_exhausted": "no improvement within its patience",
        "plateau": "the curve has plateaued",
        "stopping_threshold": "the target value was reached",
        "divergence_threshold": "the loss diverged past its threshold",
        "non_finite": "a non-finite value (NaN/Inf) was logged",
        "manual": "a person asked it to stop",
    },
    "zh": {
        "none": "未停止",
        "patience_exhausted": "在耐心范围内没有改善",
        "plateau": "曲线已进入平台期",
        "stopping_threshold": "已达到目标值",
        "divergence_threshold": "损失发散，超过阈值",
        "non_finite": "记录到非有限值（NaN/Inf）",
        "manual": "有人要求停止",
    },
}

TITLES = {
    "en": {
        "stop": "losswatch: stop {run} at step {step}",
        "finished": "losswatch: {run} finished",
        "stale": "losswatch: {run} has gone silent",
        "diverging": "losswatch: {run} is diverging",
        "overfitting": "losswatch: {run} is overfitting",
        "non_finite": "losswatch: {run} logged NaN/Inf",
        "test": "losswatch: test message for project {project}",
    },
    "zh": {
        "stop": "losswatch：建议在第 {step} 步停止 {run}",
        "finished": "losswatch：{run} 已完成",
        "stale": "losswatch：{run} 已无响应",
        "diverging": "losswatch：{run} 正在发散",
        "overfitting": "losswatch：{run} 出现过拟合",
        "non_finite": "losswatch：{run} 出现 NaN/Inf",
        "test": "losswatch：项目 {project} 的测试消息",
    },
}

LINK = {"en": "Open the run", "zh": "查看运行"}
SEVERITY = {
    "stop": "warning",
    "stale": "warning",
    "diverging": "danger",
    "non_finite": "danger",
    "overfitting": "warning",
}


@dataclass(frozen=True)
class Text:
    title: str
    lines: list[str]
    link_text: str
    url: str
    severity: str  # info | warning | danger: the formats that have colours use it

    @property
    def plain(self) -> str:
        return "\n".join([self.title, *self.lines, f"{self.link_text}: {self.url}"])


def num(v: Any) -> str:
    if v is None:
        return "?"
    if isinstance(v, str):
        return v
    f = float(v)
    if not math.isfinite(f):
        return "NaN" if math.isnan(f) else ("Infinity" if f > 0 else "-Infinity")
    if f == int(f) and abs(f) < 1e15:
        return str(int(f))
    return f"{f:.4g}" if abs(f) >= 1e-3 else f"{f:.3e}"


def _duration(seconds: float, lang: str) -> str:
    minutes = max(1, round(seconds / 60))
    if minutes < 120:
        return f"{minutes} min" if lang == "en" else f"{minutes} 分钟"
    hours = minutes / 60
    return f"{hours:.1f} h" if lang == "en" else f"{hours:.1f} 小时"


def _numbers(facts: dict[str, Any], lang: str) -> list[str]:
    d = facts.get("decision") or {}
    monitor = d.get("monitor") or "eval_loss"
    value, best, best_step = facts.get("value"), d.get("best_value"), d.get("best_step")
    if value is None and best is None:
        return []
    if lang == "zh":
        line = f"{monitor}：当前 {num(value)}"
        if best is not None:
            line += f"，最佳 {num(best)}（第 {best_step} 步）"
        return [line]
    line = f"{monitor}: {num(value)} now"
    if best is not None:
        line += f", best {num(best)} at step {best_step}"
    return [line]


def render(event: str, facts: dict[str, Any], *, lang: str, base_url: str) -> Text:
    lang = lang if lang in TITLES else "en"
    run = facts.get("run_name") or facts.get("run_id") or "?"
    step = facts.get("step")
    title = (
        TITLES[lang]
        .get(event, "losswatch: {run}")
        .format(run=run, step="?" if step is None else step, project=facts.get("project"))
    )
    zh = lang == "zh"
    lines: list[str] = []
    if facts.get("run_id"):
        lines.append(
            f"项目 {facts.get('project')} · 运行 {run}（{facts['run_id']}）"
            if zh
            else f"Project {facts.get('project')} · run {run} ({facts['run_id']})"
        )
    d = facts.get("decision") or {}
    if event == "stop":
        reason = REASONS[lang].get(d.get("reason", ""), d.get("reason", ""))
        lines.append(f"原因：{reason}" if zh else f"Reason: {reason}")
        lines += _numbers(facts, lang)
        if d.get("message"):
            # The same facts in the target's language (labels.decision_text), not the English message.
            lines.append(f"详情：{decision_text(d, 'zh')}" if zh else str(d["message"]))
    elif event == "finished":
        lines.append(f"最后一步：{num(step)}" if zh else f"Last step: {num(step)}")
        lines += _numbers(facts, lang)
        if d.get("should_stop"):
            reason = REASONS[lang].get(d.get("reason", ""), d.get("reason", ""))
            lines.append(f"早停原因：{reason}" if zh else f"Stopped early: {reason}")
    elif event == "stale":
        silent = _duration(float(facts.get("silent_seconds") or 0), lang)
        if zh:
            lines.append(
                f"已 {silent} 没有收到数据或心跳（最后一步 {num(step)}）；进程可能已退出（内存不足、被抢占或崩溃）。"
            )
        else:
            lines.append(
                f"No point or heartbeat for {silent} (last step {num(step)}); its process may have died "
                "(out of memory, preempted, crashed)."
            )
    elif event in ("diverging", "overfitting", "non_finite"):
        diag = facts.get("diagnosis") or {}
        summary = diag.get("summary")
        if isinstance(summary, dict):
            summary = summary.get(lang) or summary.get("en")
        lines += _numbers(facts, lang)
        if summary:
            lines.append(str(summary))
    elif event == "test":
        lines.append(
            "通知配置正常：这条消息来自 losswatch。" if zh else "This target works: the message came from losswatch."
        )
    url = base_url.rstrip("/") + str(facts.get("path") or "/")
    return Text(title, lines, LINK[lang], url, SEVERITY.get(event, "info"))
