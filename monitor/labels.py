"""The words a person reads for losswatch's codes, in English and Chinese: run statuses, stop reasons,
diagnosis states and fact values, plus the sentences built from them (a run's lifecycle, a decision).

The codes stay what the API sends; only what is shown is translated. The report prints these and the
dashboard reads the same tables from the API, so a label exists once.
"""

from __future__ import annotations

import math
from typing import Any

from losswatch.monitor.vocabulary import EVAL_LOSS, SHARE_RESIDUE, is_eval_key

LANGS = ("en", "zh")

LABELS: dict[str, dict[str, dict[str, str]]] = {
    "status": {
        "en": {s: s for s in ("running", "finished", "stopped", "failed", "stale")},
        "zh": {"running": "运行中", "finished": "已结束", "stopped": "已停止", "failed": "失败", "stale": "失联"},
    },
    "reason": {
        "en": {
            "none": "no stop",
            "patience_exhausted": "patience exhausted",
            "plateau": "plateau",
            "stopping_threshold": "target reached",
            "divergence_threshold": "diverged",
            "non_finite": "non-finite value",
            "manual": "stopped by a person",
        },
        "zh": {
            "none": "不停止",
            "patience_exhausted": "耐心耗尽",
            "plateau": "进入平台期",
            "stopping_threshold": "达到目标",
            "divergence_threshold": "发散",
            "non_finite": "出现非有限值",
            "manual": "人工停止",
        },
    },
    "state": {
        "en": {
            "insufficient_data": "insufficient data",
            "improving": "improving",
            "plateaued": "plateaued",
            "diverging": "diverging",
            "overfitting": "overfitting",
            "unstable": "unstable",
            "non_finite": "non-finite",
        },
        "zh": {
            "insufficient_data": "数据不足",
            "improving": "在改善",
            "plateaued": "平台期",
            "diverging": "发散",
            "overfitting": "过拟合",
            "unstable": "不稳定",
            "non_finite": "非有限值",
        },
    },
    "direction": {
        "en": {"decreasing": "decreasing", "increasing": "increasing", "flat": "flat"},
        "zh": {"decreasing": "下降", "increasing": "上升", "flat": "平稳"},
    },
    "level": {
        "en": {"low": "low", "moderate": "moderate", "high": "high"},
        "zh": {"low": "低", "moderate": "中等", "high": "高"},
    },
    "yesno": {"en": {"yes": "yes", "no": "no"}, "zh": {"yes": "是", "no": "否"}},
    "notify_event": {
        "en": {
            "stop": "stop",
            "diverging": "diverging",
            "overfitting": "overfitting",
            "non_finite": "not finite",
            "stale": "stale",
            "finished": "finished",
        },
        "zh": {
            "stop": "停止",
            "diverging": "发散",
            "overfitting": "过拟合",
            "non_finite": "非有限值",
            "stale": "失联",
            "finished": "完成",
        },
    },
    "decision": {
        "en": {"stop": "stop", "continue": "continue", "ended": "no stop (the run is over)"},
        "zh": {"stop": "停止", "continue": "继续", "ended": "未触发停止（运行已结束）"},
    },
}


def label(kind: str, code: str, lang: str) -> str:
    """The word for `code` of `kind` in `lang`; an unknown code is shown as it is (never an error)."""
    return LABELS[kind]["zh" if lang == "zh" else "en"].get(code, code.replace("_", " "))


def last_step(run: dict[str, Any]) -> int | None:
    steps = [k["last_step"] for k in run.get("keys") or [] if k.get("last_step") is not None]
    return max(steps) if steps else None


def lifecycle(run: dict[str, Any], lang: str) -> str:
    """Where a run is in its life: "running, at step 120", "finished at step 160", "stopped at step 80"..."""
    status, step = run["status"], last_step(run)
    zh = lang == "zh"
    if step is None:
        return label("status", status, lang)
    if status == "running":
        return f"运行中，第 {step} 步" if zh else f"running, at step {step}"
    if status == "stale":
        return (
            f"失联：已经一段时间没有收到数据（最后在第 {step} 步）"
            if zh
            else f"stale: nothing received for a while (last at step {step})"
        )
    if zh:
        return f"{label('status', status, lang)}，在第 {step} 步"
    return f"{label('status', status, lang)} at step {step}"


def _num(v: Any) -> str:
    if isinstance(v, (int, float)) and math.isfinite(v):
        return f"{v:.4g}"
    return str(v)


_ZH_REASON = {
    "none": "{monitor} 还在改善或尚不能判断，继续训练",
    "patience_exhausted": "{monitor} 连续多次评估没有足够的改善",
    "plateau": "{monitor} 已进入平台期，继续训练收益很小",
    "stopping_threshold": "{monitor} 已达到设定的目标值",
    "divergence_threshold": "{monitor} 超过了发散阈值，训练在发散",
    "non_finite": "{monitor} 出现了 NaN 或无穷大",
    "manual": "有人要求停止这次训练",
}


def decision_text(decision: dict[str, Any], lang: str) -> str:
    """The decision as a sentence: the service's own message in English, the same facts in Chinese."""
    if lang != "zh":
        return str(decision.get("message") or "")
    # The key that decided: the training loss for a stop by its guard, else the monitor.
    monitor = decision.get("key") or decision.get("monitor") or EVAL_LOSS
    best, best_step = decision.get("best_value"), decision.get("best_step")
    reason = decision.get("reason") or "none"
    if reason == "none" and best is None:
        # Nothing of the monitor yet (a run without evaluations, or before the first): the English message
        # says it waits for one; "keep training" would be advice the decision cannot give.
        return f"还在等待第一个 {monitor} 数值，暂时无法判断。"
    facts = decision.get("facts")
    if isinstance(facts, dict) and facts.get("clause") and not decision.get("key"):
        text = _zh_facts(facts, decision, str(monitor))
        if text:
            if decision.get("should_stop") and decision.get("step") is not None:
                text += f"（第 {decision['step']} 步做出停止决定）"
            return text + "。"
    if reason == "patience_exhausted" and not is_eval_key(str(monitor)):
        # A training loss does not overfit and is not evaluated: it got worse, as the English says.
        text = f"{monitor} 自最好值以来一直在变差"
    else:
        text = _ZH_REASON.get(reason, "{monitor}").format(monitor=monitor)
    if best is not None and best_step is not None:
        text += f"；最好值 {_num(best)}，在第 {best_step} 步"
    if decision.get("should_stop") and decision.get("step") is not None:
        text += f"（第 {decision['step']} 步做出停止决定）"
    return text + "。"


def pct(fraction: Any) -> str:
    """A share as the decision messages state it (2 significant digits below 10%), in every language."""
    if not isinstance(fraction, (int, float)) or not math.isfinite(fraction):
        return str(fraction)
    if abs(fraction) < SHARE_RESIDUE:
        return "0%"  # float residue (a forecast's gain on a constant), not a number to state
    return f"{100 * fraction:.2g}%" if abs(fraction) < 0.1 else f"{100 * fraction:.0f}%"


def _zh_facts(f: dict[str, Any], d: dict[str, Any], monitor: str) -> str | None:
    """The default rule's message in Chinese, from the numbers it states (`Decision.facts`)."""
    evals = is_eval_key(monitor)
    unit = "次评估" if evals else "个读数"
    higher = f.get("worse") != "below"  # worse means higher for a loss
    side = "高于" if higher else "低于"
    best = f"最好值 {_num(d.get('best_value'))}（第 {d.get('best_step')} 步）"
    clause = f.get("clause")
    if clause == "warming":
        return (
            f"{monitor} 第 {d.get('step')} 步为 {_num(f.get('value'))}；{best}；需要 {f.get('need')} {unit}才能判断，"
            f"目前 {f.get('have')} {unit}"
        )
    up = f.get("train_up")
    train_up = (
        f"，训练 loss 也在上升（平滑后 {_num(up[0])}，最好 {_num(up[1])}）：这不是过拟合，而是训练出了问题"
        if isinstance(up, list) and len(up) == 2
        else ""
    )
    if clause == "overfitting":
        what = "正在过拟合" if evals and not train_up else "自最好值以来一直在变差" + train_up
        return (
            f"{monitor} {what}：{best}之后的 {f.get('since')} {unit}，较低的中位数比它{'高' if higher else '低'} "
            f"{_num(f.get('rise'))}，超过了 {_num(f.get('margin'))}（噪声 {_num(f.get('sigma'))} 的 "
            f"{_num(f.get('sigmas'))} 倍与最好值的 {pct(f.get('regret'))} 中较大的一个）；到第 {f.get('horizon')} 步前"
            f"还剩 {f.get('ahead')} {unit}，即使最幸运的一次也预计回不到最好值的 {pct(f.get('regret'))} 以内"
            f"{_zh_past_plan(d, f, evals)}"
        )
    gain = f.get("gain") if isinstance(f.get("gain"), dict) else None
    band = ""
    if gain:
        interval = f"{pct(f.get('level'))} 区间 {pct(gain.get('low'))} 至 {pct(gain.get('high'))}"
        band = f"{pct(gain.get('expected'))}（{interval}）"
    if clause in ("levelling", "turned") and gain:
        shape = ("自最好值以来一直在上升" if higher else "自最好值以来一直在下降") if clause == "turned" else "正在走平"
        if clause == "turned" and evals:
            shape += train_up or "（过拟合）"
        delta = f"{_num(f.get('min_delta'))}{'（相对值）' if f.get('relative') else ''}"
        return (
            f"{monitor} {shape}：继续训练到第 {f.get('horizon')} 步，预计只能比{best}再改善 {band}，"
            f"小于 min_delta {delta}，已连续 {f.get('in_a_row')} 次{_zh_past_plan(d, f, evals)}"
        )
    if clause == "watching":
        text = f"{monitor} 第 {d.get('step')} 步为 {_num(f.get('value'))}；{best}"
        text += _zh_past_plan(d, f, evals)
        outlook = f.get("outlook")
        if outlook == "gain" and gain:
            text += f"；继续训练到第 {f.get('horizon')} 步预计还能改善 {band}"
        elif outlook == "course_worse":
            text += (
                f"；到第 {f.get('horizon')} 步的预测走势一直{side}最好值，最后在 {_num(f.get('end'))} 左右，"
                "只有碰巧的好读数才可能改善"
            )
        elif outlook == "floor":
            text += f"；到第 {f.get('horizon')} 步的预测说明不了什么：它允许的波动让最幸运的读数一直低到 0"
        if f.get("since"):
            text += f"；最好值之后的 {f.get('since')} {unit}较低的中位数{side}它 {_num(f.get('rise'))}"
        if f.get("min_steps") is not None:
            text += f"；还太早：第 {f.get('min_steps')} 步之前不会停止"
        return text
    return None


def _zh_past_plan(d: dict[str, Any], f: dict[str, Any], evals: bool) -> str:
    """Why the rule's forecast runs past the run's plan (`planned`, set only then), in Chinese."""
    planned, step = f.get("planned"), d.get("step")
    if not isinstance(planned, int) or not isinstance(step, int):
        return ""
    where = (
        f"计划的最后一步（第 {planned} 步）之前已没有{'评估' if evals else '读数'}"
        if step < planned
        else f"已{'到' if step == planned else '超过'}计划的最后一步（第 {planned} 步）"
    )
    return f"；{where}，因此按训练仍会继续来判断"
