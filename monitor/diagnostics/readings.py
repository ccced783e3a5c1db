"""What the curve's state means and what to do about it: two sentences per state, in English or Chinese.

One function per state of `state.STATES`; `reading` picks it. A schedule key (the learning rate) has its own
words whatever its state, since it moves by design.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from losswatch.monitor.policy import RULE_DEFAULTS

from .wording import num, pct, pval, say, sides

# Recent improvement slower than a quarter of the whole run's average rate reads as "slowing".
SLOWING_RATIO = 0.25


def reading(r: dict[str, Any], lang: str) -> list[str]:
    """The state sentence and the advice sentence (one sentence for a schedule key)."""
    state = r["state"]
    if state not in ("insufficient_data", "non_finite") and r["trend"]["schedule"]:
        return _scheduled(r, lang)
    return _BY_STATE[state](r, lang)


def _insufficient(r: dict[str, Any], lang: str) -> list[str]:
    """Too few finite points for any trend."""
    t, key = r["trend"], r["key"]
    n = t["n_finite"]
    return [
        say(
            "{key} has no finite points yet: too early to judge, a trend needs at least 5."
            if n == 0
            else "{key} has only {n} point(s) so far: too early to judge, a trend needs at least 5.",
            "{key} 还没有任何有效的点，现在下结论还太早：判断趋势至少需要 5 个点。"
            if n == 0
            else "{key} 目前只有 {n} 个点，现在下结论还太早：判断趋势至少需要 5 个点。",
            lang,
            key=key,
            n=n,
        ),
        say(
            "Wait for more points, or log more often.",
            "再等一等，或调小 logging_steps / eval_steps 让记录更频繁。",
            lang,
        ),
    ]


def _non_finite(r: dict[str, Any], lang: str) -> list[str]:
    """The latest reading is NaN or infinite."""
    t, key = r["trend"], r["key"]
    return [
        say(
            "The latest value of {key} (step {s}) is {v} ({k} of {n} points not finite): training has "
            "broken down numerically.",
            "{key} 最新的值（第 {s} 步）是 {v}，{n} 个点里有 {k} 个不是有限数：训练在数值上已经崩溃。",
            lang,
            key=key,
            s=t["last_step"],
            v=t["latest_non_finite"],
            k=t["n_non_finite"],
            n=t["n_points"],
        ),
        say(
            "Stop and resume from the last checkpoint with a finite loss, with a lower learning rate "
            "or bf16 instead of fp16.",
            "请停止训练，从最后一个 loss 正常的检查点恢复，并降低学习率，或改用 bf16 代替 fp16。",
            lang,
        ),
    ]


def _scheduled(r: dict[str, Any], lang: str) -> list[str]:
    """A schedule key (learning rate and the like): it moves by design."""
    state, t = r["state"], r["trend"]
    rec = t["recent"]
    zh = lang == "zh"
    if state == "plateaued":
        return [say("It is constant at {v}.", "它保持在 {v} 不变。", lang, v=num(t["last_value"]))]
    up = (rec["slope_per_1k_steps"] or 0) > 0
    what_zh = "上升（warm-up）" if up else "衰减"
    what_en = "rising (warm-up)" if up else "decaying"
    return [say("It is {what} as scheduled.", "它正按计划{what}。", lang, what=what_zh if zh else what_en)]


def _diverging(r: dict[str, Any], lang: str) -> list[str]:
    """A training loss that blew up and stays up; or a validation curve that rose with its training loss."""
    t = r["trend"]
    zh = lang == "zh"
    o = r["overfitting"]
    if t["role"] == "eval" and o and o["validation_rising"] and o["train_rising"] and o["best_step"] is not None:
        return _both_rising(r, lang)
    best, now = t["best_level"], t["recent_level"]
    # A level is None when it overflowed (readings near the largest float): that is a blow-up too.
    up = now is None or best is None or now > best
    ratio = now / best if best and now is not None and up else None
    times = say(" (×{x})", "（{x} 倍）", lang, x=f"{ratio:.1f}") if ratio and ratio > 0 else ""
    return [
        say(
            "It has {verb} from its best level of {best} to {recent}{times} and stays there, far beyond "
            "the noise: the run has diverged.",
            "它从最好水平 {best} {verb}到 {recent}{times}，并一直停在那里，远超噪声范围：训练已经发散。",
            lang,
            best=num(best),
            recent=num(now),
            times=times,
            verb=("跳升" if up else "骤降") if zh else ("jumped" if up else "dropped"),
        ),
        say(
            "Stop it and restart from the last good checkpoint with a lower learning rate (e.g. a tenth) "
            "and gradient clipping (max_grad_norm: 1.0).",
            "请停止训练，从最后一个正常的检查点重新开始，把学习率调低（例如降到十分之一），"
            "并开启梯度裁剪（max_grad_norm: 1.0）。",
            lang,
        ),
    ]


# A training level that moved less than this share of itself "stayed" where it was.
STAYED = 0.01


def _worse_than_best(o: dict[str, Any], lang: str) -> str:
    """ " (x% worse than the best)", or nothing where the best is 0 and a share of it means nothing."""
    gl = o["generalization_loss_current"]
    if gl is None:
        return ""
    return say(" ({gl} worse than the best)", "（比最好值差 {gl}）", lang, gl=pct(abs(gl) / 100, signed=False))


def _both_rising(r: dict[str, Any], lang: str) -> list[str]:
    """Validation worse than its best and the training loss worse with it: the decision's "not overfitting but
    training going wrong", in the same words (a level-to-level jump, the training loss's own reading, can be
    smaller than the noise of a validation curve read every few hundred steps)."""
    o = r["overfitting"]
    train = say(
        ", and the training loss rose with it ({tb} → {tn})",
        "，训练 loss 也跟着上升（{tb} → {tn}）",
        lang,
        tb=num(o["train_at_best"]),
        tn=num(o["train_now"]),
    )
    return [
        _since_best(
            r, lang, train, say("not overfitting but training going wrong", "这不是过拟合，而是训练本身出了问题", lang)
        ),
        say(
            "Stop it and restart from the checkpoint of step {bs} with a lower learning rate (e.g. a tenth) and "
            "gradient clipping (max_grad_norm: 1.0).",
            "请停止训练，从第 {bs} 步的检查点重新开始，把学习率调低（例如降到十分之一），并开启梯度裁剪"
            "（max_grad_norm: 1.0）。",
            lang,
            bs=o["best_step"],
        ),
    ]


def _since_best(r: dict[str, Any], lang: str, train: str, verdict: str) -> str:
    """ "Validation reached its best ... and has since risen to ...{train}: {verdict}.", the first sentence of
    both readings of a validation curve worse than its best."""
    o = r["overfitting"]
    zh = lang == "zh"
    up = r["trend"]["mode"] == "max"
    return say(
        "Validation reached its best {best} at step {bs} and has since {moved} {cur}{gl}{train}: {verdict}.",
        "验证集在第 {bs} 步达到最好值 {best}，之后{moved} {cur}{gl}{train}：{verdict}。",
        lang,
        best=num(o["best_value"]),
        bs=o["best_step"],
        cur=num(o["current_value"]),
        moved=("回落到" if up else "回升到") if zh else ("fallen to" if up else "risen to"),
        gl=_worse_than_best(o, lang),
        train=train,
        verdict=verdict,
    )


# How the training loss went, beside a validation curve that overfits: (en, zh), filled with its two levels.
_TRAIN_WENT = {
    "fell": (" while the training loss kept falling ({tb} → {tn})", "，而训练 loss 仍在下降（{tb} → {tn}）"),
    "stayed": (" while the training loss stayed at about {tn}", "，而训练 loss 一直停在 {tn} 左右"),
    # Moved, but not beyond its own noise (a training loss logged a handful of times wanders).
    "moved": (
        " while the training loss, {tb} then and {tn} now, did not get worse beyond its noise",
        "，而训练 loss（当时 {tb}，现在 {tn}）并没有超出噪声地变差",
    ),
}


def _overfitting(r: dict[str, Any], lang: str) -> list[str]:
    """Validation worse than its best while training improves."""
    o = r["overfitting"]
    train = ""
    if o["train_now"] is not None:
        tb, tn = o["train_at_best"], o["train_now"]
        went = "fell" if o["train_falling"] else "stayed" if abs(tn - tb) <= STAYED * max(abs(tn), abs(tb)) else "moved"
        train = say(*_TRAIN_WENT[went], lang, tb=num(tb), tn=num(tn))
    return [
        _since_best(r, lang, train, say("the model is overfitting", "模型开始过拟合了", lang)),
        say(
            "Stop now and keep the checkpoint from step {bs} (load_best_model_at_end), or train fewer "
            "epochs / add regularization.",
            "建议现在停止，保留第 {bs} 步的检查点（load_best_model_at_end），或者减少训练轮数、加强正则化。",
            lang,
            bs=o["best_step"],
        ),
    ]


def _unstable(r: dict[str, Any], lang: str) -> list[str]:
    """Swings larger than the movement."""
    sp = r["spikes"]
    reason = (
        say("{k} spikes recently", "最近出现了 {k} 个尖峰", lang, k=sp["count"])
        if sp["count"] >= 3
        else say(
            "the noise is {cv} of the level with no clear direction",
            "噪声约为数值的 {cv}，却看不出明确的方向",
            lang,
            cv=pct(r["volatility"]["cv"], signed=False),
        )
    )
    return [
        say("It swings more than it moves: {r}.", "曲线的波动比趋势还大：{r}。", lang, r=reason),
        say(
            "Lower the learning rate, lengthen the warm-up or clip gradients (max_grad_norm).",
            "建议降低学习率、延长 warm-up，或开启梯度裁剪（max_grad_norm）。",
            lang,
        ),
    ]


def _improving(r: dict[str, Any], lang: str) -> list[str]:
    """Still significantly better over the recent window."""
    rec, over = r["trend"]["recent"], r["trend"]["overall"]
    zh = lang == "zh"
    window = _window(rec, lang)
    down = (rec["slope_per_1k_steps"] or 0) < 0
    slowing = (
        over["slope_per_1k_steps"] is not None
        and rec["slope_per_1k_steps"] is not None
        and abs(rec["slope_per_1k_steps"]) < SLOWING_RATIO * abs(over["slope_per_1k_steps"])
    )
    s = say(
        "{w} it is still {verb} significantly ({rel} over the window, {p}){slow}.",
        "{w}仍在显著{verb}（窗口内变化 {rel}，{p}）{slow}。",
        lang,
        w=window,
        rel=pct(rec["relative_change"]),
        p=pval(rec["p_value"]),
        verb=("下降" if down else "上升") if zh else ("falling" if down else "rising"),
        slow=(("，不过幅度已明显变小" if zh else ", though more slowly than earlier") if slowing else ""),
    )
    hi = little_left(r)
    t = r["trend"]
    if _course_short_of_best(r) or (t["role"] == "eval" and outlook_kind(r) == "course_worse"):
        # The forecast's course does not get back to the best (the default rule's, or the one the outlook states
        # to the planned end): say why that is no turn (yet), so that "keep training" and "not expected to beat
        # the best" do not stand side by side unexplained.
        planned = (r["overfitting"] or {}).get("stop_rule_planned")
        return [s, companion_overfits(r, lang) or _short_of_best(t, lang, falling=down, planned=planned)]
    todo = say(
        "Keep training."
        if hi is None
        else "Little is left to win, though: even the optimistic end of the forecast gains {hi}, less than "
        "the {md} the default stop rule asks of continuing.",
        "继续训练即可。"
        if hi is None
        else "不过剩下的提升空间很小：即使按预测的乐观一端，也只能再改善 {hi}，"
        "低于默认停止规则要求继续训练带来的 {md}。",
        lang,
        hi=pct(hi, signed=False) if hi is not None else "",
        md=pct(RULE_DEFAULTS["min_delta"], signed=False),
    )
    return [s, companion_overfits(r, lang) or todo]


def outlook_kind(r: dict[str, Any]) -> Literal["floor", "nothing_left", "course_worse", "gain"] | None:
    """Which sentence the forecast in `r` calls for (the summary's outlook), None when there is none to state:
    "floor" (the floor at 0 is speaking, not the curve: the spread the forecast allows each reading still to
    come lets the luckiest reach 0; "lower by 100%, to 0" would be the floor's words), "nothing_left", "course_worse"
    (a curve past its best whose course ends worse than that best: whatever the forecast gains is a lucky
    reading's, and "expected to lower it by 13%" beside "stop now" read as a contradiction) or "gain"."""
    f = r.get("forecast")
    if not f or r["state"] in ("insufficient_data", "non_finite") or r["trend"]["schedule"]:
        return None
    up = r["trend"]["mode"] == "max"
    high, end, best = f["gain"]["high"], f["value"]["expected"], f["best"]
    if not up and best > 0 and (f["minimum"]["expected"] <= 0 or high >= 0.999):
        return "floor"
    if high < 0.001:
        return "nothing_left"
    past = r["trend"].get("best_step") not in (None, f["last_step"])
    return "course_worse" if past and ((end < best) if up else (end > best)) else "gain"


def _course_short_of_best(r: dict[str, Any]) -> bool:
    """Whether the default rule, watching this validation key, found its forecast course ending worse than the
    best. A training key's `overfitting` carries its validation companion's verdict, not its own."""
    o = r["overfitting"] or {}
    return r["trend"]["role"] == "eval" and o.get("stop_rule_course_end") is not None


def _short_of_best(t: dict[str, Any], lang: str, *, falling: bool, planned: int | None = None) -> str:
    """A curve still getting better whose forecast course stays short of its best: one evaluation past the best
    (a bump or a turn: the next one tells, and the state waits for it, unless the plan ends first), or a level
    still moving by more than the default rule's `min_delta` towards a best that was a lucky reading.
    `planned`: the run's planned end when the default rule reads past it (no evaluation is left before it)."""
    fields = dict(sides(t["mode"] == "max"), best=num(t["best_value"]), bs=t["best_step"])
    if t.get("readings_since_best") == 1 and planned is not None and t["last_step"] <= planned:
        return say(
            "Its latest evaluation is {worse} the best {best} at step {bs}; one evaluation past the best can still "
            "be a bump, and no evaluation is left before the planned end (step {plan}) to tell.",
            "最新一次评估{worse_zh}第 {bs} 步的最好值 {best}；最好值之后只有一次评估，也可能只是一次波动，"
            "但计划的最后一步（第 {plan} 步）之前已没有评估可以判断。",
            lang,
            plan=planned,
            **fields,
        )
    if t.get("readings_since_best") == 1:
        return say(
            "Its latest evaluation is {worse} the best {best} at step {bs}; one evaluation past the best can still "
            "be a bump: see whether the next one improves.",
            "最新一次评估{worse_zh}第 {bs} 步的最好值 {best}；最好值之后只有一次评估，也可能只是一次波动："
            "看下一次评估是否改善。",
            lang,
            **fields,
        )
    return say(
        "Keep training: the curve is still {verb}; its best {best} at step {bs} was a lucky reading {better} "
        "the curve, which its course may not reach again.",
        "继续训练即可：曲线仍在{verb_zh}；第 {bs} 步的最好值 {best} 是一次碰巧{better_zh}曲线的读数，"
        "预测走势未必能再达到它。",
        lang,
        verb="falling" if falling else "rising",
        verb_zh="下降" if falling else "上升",
        **fields,
    )


def little_left(r: dict[str, Any]) -> float | None:
    """The forecast's optimistic gain when it is below what the default rule stops for (its relative
    `min_delta`), else None: a curve can still fall significantly and have next to nothing left to give."""
    f = r.get("forecast")
    if not f or RULE_DEFAULTS["delta_mode"] != "rel":
        return None
    high = float(f["gain"]["high"])
    return high if high < RULE_DEFAULTS["min_delta"] else None


def _levelled_in_practice(r: dict[str, Any], lang: str) -> list[str]:
    """A validation curve whose course no longer buys what continuing costs: the default stop rule's levelling
    off, in its numbers (a curve can still move significantly and be there)."""
    t, o = r["trend"], r["overfitting"]
    rec = t["recent"]
    zh = lang == "zh"
    change = rec["change"] or 0.0
    moved = (("下降了" if change < 0 else "上升了") if zh else ("fell" if change < 0 else "rose")) if change else ""
    return [
        say(
            "{w} it {moved} {rel} ({p}); what is left is not worth continuing for: even the optimistic end of the "
            "forecast to step {h} gains {hi}, less than the {md} the default stop rule asks of continuing.",
            "{w}{moved} {rel}（{p}）；剩下的已不值得继续：即使按到第 {h} 步预测的乐观一端，也只能再改善 {hi}，"
            "低于默认停止规则要求继续训练带来的 {md}。",
            lang,
            w=_window(rec, lang),
            moved=moved or ("变化" if zh else "changed by"),
            rel=pct(abs(rec["relative_change"] or 0.0), signed=False),
            p=pval(rec["p_value"]),
            h=o["stop_rule_horizon"],
            hi=pct(max(o["stop_rule_gain"], 0.0), signed=False),
            md=pct(RULE_DEFAULTS["min_delta"], signed=False),
        ),
        say(
            "Stopping here costs little: the best checkpoint is at step {bs}.",
            "现在停止损失很小：最佳检查点在第 {bs} 步。",
            lang,
            bs=t["best_step"],
        ),
    ]


def _plateaued(r: dict[str, Any], lang: str) -> list[str]:
    """No significant change over the recent window (or one too small to matter)."""
    t = r["trend"]
    rec = t["recent"]
    zh = lang == "zh"
    window = _window(rec, lang)
    if r["volatility"]["noise_std"] == 0 and (rec["change"] or 0) == 0:
        zero = t["last_value"] == 0
        return [
            say(
                "{w} it has stayed exactly at {v}: the curve is constant.",
                "{w}一直精确等于 {v}：曲线是常数。",
                lang,
                w=window,
                v=num(t["last_value"]),
            ),
            say(
                "A loss of exactly 0 usually means a broken setup (e.g. all labels masked, or a collapsed "
                "model), not a perfect one; check the data and the loss."
                if zero
                else "Check that the metric is still being updated.",
                "loss 恰好为 0 通常说明设置出了问题（例如标签被全部 mask，或模型已经崩溃），而不是模型完美，"
                "请检查数据和 loss。"
                if zero
                else "请检查这个指标是否还在正常更新。",
                lang,
            ),
        ]
    p = pval(rec["p_value"])
    o = r["overfitting"] or {}
    if t["role"] == "eval" and o.get("stop_rule") == "levelling":
        return _levelled_in_practice(r, lang)
    worse = rec["significant"] and (t["change_over_noise"] or 0) > 1 and (rec["change"] or 0) * _sign(t) > 0
    if _course_short_of_best(r) and rec["significant"] and (rec["change"] or 0) * _sign(t) < 0:
        # Still better over the window, which reaches back into the fall, but not since the best, and the
        # forecast's course does not get back to it: levelled off there (the stop rule's reading too).
        s = say(
            "{w} it {moved} {rel} ({p}), but none of its readings since step {bs} beat the best {best} reached "
            "there: it has levelled off.",
            "{w}{moved} {rel}（{p}），但第 {bs} 步达到最好值 {best} 之后再没有读数比它更好：已经走平。",
            lang,
            w=window,
            moved=("上升了" if _sign(t) < 0 else "下降了") if zh else ("rose" if _sign(t) < 0 else "fell"),
            rel=pct(abs(rec["relative_change"] or 0.0), signed=False),
            p=p,
            best=num(t["best_value"]),
            bs=t["best_step"],
        )
    elif worse:
        # Significantly worse, but not far enough from the best to call it diverging.
        s = say(
            "{w} it is getting worse again ({rel}, {p}); it is now {gap} worse than its best {best} at step {bs}.",
            "{w}又在变差（{rel}，{p}），目前比第 {bs} 步的最好值 {best} 差 {gap}。",
            lang,
            w=window,
            rel=pct(rec["relative_change"]),
            p=p,
            best=num(t["best_value"]),
            bs=t["best_step"],
            gap=_gap(t),
        )
    else:
        if rec["p_value"] is None or not rec["significant"]:
            why = f"统计上不显著（{p}）" if zh else f"not significant ({p})"
        else:
            why = "小于单个点的噪声" if zh else "smaller than one reading's noise"
        s = say(
            "{w} it has levelled off: the change of {rel} is {why}.",
            "{w}已经走平：变化 {rel}，{why}。",
            lang,
            w=window,
            rel=pct(rec["relative_change"]),
            why=why,
        )
    if t["role"] == "eval":
        todo = say(
            "Validation has stopped improving; the best checkpoint is at step {bs}.",
            "验证集指标已不再改善；最佳检查点在第 {bs} 步。",
            lang,
            bs=t["best_step"],
        )
    else:
        todo = companion_overfits(r, lang) or say(
            "More steps at this learning rate are unlikely to help much: if the validation loss agrees, "
            "stop here, or lower the learning rate.",
            "按当前学习率继续训练收益不大：如果验证集也走平了，可以在这里停止，或者降低学习率。",
            lang,
        )
    return [s, todo]


_BY_STATE: dict[str, Callable[[dict[str, Any], str], list[str]]] = {
    "insufficient_data": _insufficient,
    "non_finite": _non_finite,
    "diverging": _diverging,
    "overfitting": _overfitting,
    "unstable": _unstable,
    "improving": _improving,
    "plateaued": _plateaued,
}


def _window(rec: dict[str, Any], lang: str) -> str:
    return say(
        "Over the last {w} points (steps {a}–{b})",
        "最近 {w} 个点（第 {a}–{b} 步）",
        lang,
        w=rec["n_points"],
        a=rec["start_step"],
        b=rec["end_step"],
    )


def _sign(t: dict[str, Any]) -> float:
    """+1 when larger values are worse (losses), -1 for accuracy-like metrics."""
    return -1.0 if t["mode"] == "max" else 1.0


def _gap(t: dict[str, Any]) -> str:
    """How much worse the smoothed level now is than the best reading, in percent of the best."""
    best, now = t["best_value"], t["end_level"]
    if best is None or now is None or best == 0:
        return "?"
    return pct(abs(now - best) / abs(best), signed=False)


def companion_overfits(r: dict[str, Any], lang: str) -> str:
    """For a training key: the validation companion's overfitting, which this curve cannot show."""
    o = r["overfitting"]
    if r["trend"]["role"] == "eval" or o is None or not o["detected"]:
        return ""
    fell = bool(o["train_falling"])
    return (
        say(
            "The validation loss, however, has risen{gl} since its best at step {bs}, while this loss went "
            "from {tb} to {tn} over the same evaluations: the model is overfitting; keep the checkpoint from "
            "step {bs}."
            if fell
            else "The validation loss, however, has risen{gl} since its best at step {bs}, while this loss, at "
            "{tb} then and {tn} now, has not got worse beyond its noise: the model is overfitting; keep the "
            "checkpoint from step {bs}.",
            "不过验证集 loss 自第 {bs} 步的最好值以来已回升{gl}，同期这条曲线却从 {tb} 降到了 {tn}："
            "模型在过拟合，请保留第 {bs} 步的检查点。"
            if fell
            else "不过验证集 loss 自第 {bs} 步的最好值以来已回升{gl}，而这条曲线（当时 {tb}，现在 {tn}）"
            "并没有超出噪声地变差：模型在过拟合，请保留第 {bs} 步的检查点。",
            lang,
            gl=pct((o["generalization_loss_current"] or 0) / 100, signed=False)
            if o["generalization_loss_current"]
            else "",
            bs=o["best_step"],
            tb=num(o["train_at_best"]),
            tn=num(o["train_now"]),
        )
        .replace(" risen  since", " risen since")
        .replace("已回升 ，", "已回升，")
    )
