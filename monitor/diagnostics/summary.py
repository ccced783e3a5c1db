"""A short paragraph about the plot, as a person reading it would write it, in English or Chinese.

Built only from the public diagnostics dict, so the words never say more than the numbers. Two to
five sentences: what the curve did overall, how noisy it is (and its spikes), what its right end
says, what to do. The Chinese text is written for Chinese readers, not translated phrase by phrase.
"""

from __future__ import annotations

from typing import Any

LANGS = ("en", "zh")

# Recent improvement slower than a quarter of the whole run's average rate reads as "slowing".
SLOWING_RATIO = 0.25

MINUS = "\u2212"


def num(value: float | None) -> str:
    """4 significant digits, as losses are usually logged."""
    if value is None:
        return "?"
    return f"{value:.4g}".replace("-", MINUS)


def pct(fraction: float | None, signed: bool = True) -> str:
    if fraction is None:
        return "?"
    p = 100.0 * fraction
    body = f"{abs(p):.0f}" if abs(p) >= 10 else f"{abs(p):.1f}" if abs(p) >= 1 else f"{abs(p):.2g}"
    sign = (MINUS if p < 0 else "+") if signed and p != 0 else ""
    return f"{sign}{body}%"


def pval(p: float | None) -> str:
    if p is None:
        return "p=?"
    return "p<0.001" if p < 0.001 else f"p={p:.2g}"


def _join(sentences: list[str], lang: str) -> str:
    return ("" if lang == "zh" else " ").join(s for s in sentences if s)


def _t(en: str, zh: str, lang: str, **f: Any) -> str:
    return (zh if lang == "zh" else en).format(**f)


def _overview(r: dict[str, Any], lang: str) -> str:
    t = r["trend"]
    key, n, step = r["key"], t["n_finite"], t["last_step"]
    first, last = t["first_value"], t["end_level"]
    if first is None or last is None:
        return ""
    change = (last - first) / abs(first) if first else None
    if change is not None and abs(change) < 0.001 or first == last:
        s = _t(
            "{key}: {n} points up to step {step}; smoothed (EMA 0.6) it stays at about {last}",
            "{key} 共 {n} 个点（到第 {step} 步），平滑后（EMA 0.6）一直在 {last} 左右",
            lang,
            key=key,
            n=n,
            step=step,
            last=num(last),
        )
    else:
        down = last < first
        s = _t(
            "{key}: {n} points up to step {step}; smoothed (EMA 0.6) it {verb} from {first} to {last} ({pct})",
            "{key} 共 {n} 个点（到第 {step} 步），平滑后（EMA 0.6）从 {first} {verb}到 {last}（{pct}）",
            lang,
            key=key,
            n=n,
            step=step,
            first=num(first),
            last=num(last),
            pct=pct(change),
            verb=("降" if down else "升") if lang == "zh" else ("fell" if down else "rose"),
        )
    best, best_step = t["best_value"], t["best_step"]
    shown = best_step in (step, t["first_step"]) or best in (t["last_value"], first)
    if best is not None and best_step is not None and not shown:
        s += _t(", best {best} at step {bs}", "，最好值 {best} 出现在第 {bs} 步", lang, best=num(best), bs=best_step)
    return s + ("。" if lang == "zh" else ".")


def _noise(r: dict[str, Any], lang: str) -> str:
    v, sp = r["volatility"], r["spikes"]
    cv = pct(v["cv"], signed=False) if v["cv"] is not None else "?"
    noise = num(v["noise_std"])
    if v["noise_std"] == 0:
        s = _t("The raw curve has no noise at all.", "原始曲线完全没有噪声。", lang)
    elif v["level"] == "low":
        s = _t(
            "The raw curve is smooth (noise about {cv} of the level), so single readings can be trusted.",
            "原始曲线很平滑（噪声约为数值的 {cv}），单个点就可以参考。",
            lang,
            cv=cv,
        )
    elif v["level"] == "moderate":
        s = _t(
            "The raw values scatter by about ±{noise} ({cv}) around the smoothed curve: read the smoothed "
            "line, not single points.",
            "原始值在平滑曲线上下约 ±{noise}（{cv}）波动，应该看平滑曲线而不是单个点。",
            lang,
            noise=noise,
            cv=cv,
        )
    else:
        s = _t(
            "The raw values are very noisy (±{noise}, {cv} of the level): single readings mean little, "
            "only the smoothed curve does.",
            "原始值噪声很大（±{noise}，约为数值的 {cv}），单个点说明不了什么，只能看平滑曲线。",
            lang,
            noise=noise,
            cv=cv,
        )
    if sp["count"]:
        last = sp["items"][-1]
        one = sp["count"] == 1
        s += _t(
            " One spike stands out, at step {s} ({v}, {z}σ)."
            if one
            else " {k} spikes stand out, the latest at step {s} ({v}, {z}σ).",
            "另有 1 个尖峰，在第 {s} 步（{v}，{z}σ）。"
            if one
            else "另有 {k} 个尖峰，最近一个在第 {s} 步（{v}，{z}σ）。",
            lang,
            k=sp["count"],
            s=last["step"],
            v=num(last["value"]),
            z=f"{last['z']:.0f}",
        )
    return s


def _window(rec: dict[str, Any], lang: str) -> str:
    return _t(
        "Over the last {w} points (steps {a}–{b})",
        "最近 {w} 个点（第 {a}–{b} 步）",
        lang,
        w=rec["n_points"],
        a=rec["start_step"],
        b=rec["end_step"],
    )


def _reading(r: dict[str, Any], lang: str) -> list[str]:
    """The state sentence and the advice sentence."""
    state, t, key = r["state"], r["trend"], r["key"]
    rec, over = t["recent"], t["overall"]
    is_eval = t["role"] == "eval"
    zh = lang == "zh"
    if state == "insufficient_data":
        n = t["n_finite"]
        return [
            _t(
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
            _t(
                "Wait for more points, or log more often.",
                "再等一等，或调小 logging_steps / eval_steps 让记录更频繁。",
                lang,
            ),
        ]
    if state == "non_finite":
        return [
            _t(
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
            _t(
                "Stop and resume from the last checkpoint with a finite loss, with a lower learning rate "
                "or bf16 instead of fp16.",
                "请停止训练，从最后一个 loss 正常的检查点恢复，并降低学习率，或改用 bf16 代替 fp16。",
                lang,
            ),
        ]
    if t["schedule"]:
        if state == "plateaued":
            return [_t("It is constant at {v}.", "它保持在 {v} 不变。", lang, v=num(t["last_value"]))]
        up = (rec["slope_per_1k_steps"] or 0) > 0
        what_zh = "上升（warm-up）" if up else "衰减"
        what_en = "rising (warm-up)" if up else "decaying"
        return [_t("It is {what} as scheduled.", "它正按计划{what}。", lang, what=what_zh if zh else what_en)]
    if state == "diverging":
        best, now = t["best_level"], t["recent_level"]
        up = now > best
        ratio = now / best if best and up else None
        times = _t(" (×{x})", "（{x} 倍）", lang, x=f"{ratio:.1f}") if ratio and ratio > 0 else ""
        return [
            _t(
                "It has {verb} from its best level of {best} to {recent}{times} and stays there, far beyond "
                "the noise: the run has diverged.",
                "它从最好水平 {best} {verb}到 {recent}{times}，并一直停在那里，远超噪声范围：训练已经发散。",
                lang,
                best=num(best),
                recent=num(now),
                times=times,
                verb=("跳升" if up else "骤降") if zh else ("jumped" if up else "dropped"),
            ),
            _t(
                "Stop it and restart from the last good checkpoint with a lower learning rate (e.g. a tenth) "
                "and gradient clipping (max_grad_norm: 1.0).",
                "请停止训练，从最后一个正常的检查点重新开始，把学习率调低（例如降到十分之一），"
                "并开启梯度裁剪（max_grad_norm: 1.0）。",
                lang,
            ),
        ]
    if state == "overfitting":
        o = r["overfitting"]
        moved = (
            ("回落到" if t["mode"] == "max" else "回升到")
            if zh
            else ("fallen to" if t["mode"] == "max" else "risen to")
        )
        if o["train_now"] is None:
            train = ""
        elif o["train_falling"]:
            train = _t(
                " while the training loss kept falling ({tb} → {tn})",
                "，而训练 loss 仍在下降（{tb} → {tn}）",
                lang,
                tb=num(o["train_at_best"]),
                tn=num(o["train_now"]),
            )
        else:
            train = _t(
                " while the training loss stayed at about {tn}",
                "，而训练 loss 一直停在 {tn} 左右",
                lang,
                tn=num(o["train_now"]),
            )
        return [
            _t(
                "Validation reached its best {best} at step {bs} and has since {moved} {cur} ({gl} worse than "
                "the best){train}: the model is overfitting.",
                "验证集在第 {bs} 步达到最好值 {best}，之后{moved} {cur}（比最好值差 {gl}）{train}：模型开始过拟合了。",
                lang,
                best=num(o["best_value"]),
                bs=o["best_step"],
                cur=num(o["current_value"]),
                moved=moved,
                gl=pct(abs(o["generalization_loss_current"] or 0) / 100, signed=False),
                train=train,
            ),
            _t(
                "Stop now and keep the checkpoint from step {bs} (load_best_model_at_end), or train fewer "
                "epochs / add regularization.",
                "建议现在停止，保留第 {bs} 步的检查点（load_best_model_at_end），或者减少训练轮数、加强正则化。",
                lang,
                bs=o["best_step"],
            ),
        ]
    if state == "unstable":
        sp = r["spikes"]
        reason = (
            _t("{k} spikes recently", "最近出现了 {k} 个尖峰", lang, k=sp["count"])
            if sp["count"] >= 3
            else _t(
                "the noise is {cv} of the level with no clear direction",
                "噪声约为数值的 {cv}，却看不出明确的方向",
                lang,
                cv=pct(r["volatility"]["cv"], signed=False),
            )
        )
        return [
            _t("It swings more than it moves: {r}.", "曲线的波动比趋势还大：{r}。", lang, r=reason),
            _t(
                "Lower the learning rate, lengthen the warm-up or clip gradients (max_grad_norm).",
                "建议降低学习率、延长 warm-up，或开启梯度裁剪（max_grad_norm）。",
                lang,
            ),
        ]

    window = _window(rec, lang)
    if state == "improving":
        down = (rec["slope_per_1k_steps"] or 0) < 0
        slowing = (
            over["slope_per_1k_steps"] is not None
            and rec["slope_per_1k_steps"] is not None
            and abs(rec["slope_per_1k_steps"]) < SLOWING_RATIO * abs(over["slope_per_1k_steps"])
        )
        s = _t(
            "{w} it is still {verb} significantly ({rel} over the window, {p}){slow}.",
            "{w}仍在显著{verb}（窗口内变化 {rel}，{p}）{slow}。",
            lang,
            w=window,
            rel=pct(rec["relative_change"]),
            p=pval(rec["p_value"]),
            verb=("下降" if down else "上升") if zh else ("falling" if down else "rising"),
            slow=(("，不过幅度已明显变小" if zh else ", though more slowly than earlier") if slowing else ""),
        )
        todo = _t(
            "Keep training.",
            "继续训练即可。",
            lang,
        )
        return [s, _companion_overfits(r, lang) or todo]

    # plateaued
    if r["volatility"]["noise_std"] == 0 and (rec["change"] or 0) == 0:
        zero = t["last_value"] == 0
        return [
            _t(
                "{w} it has stayed exactly at {v}: the curve is constant.",
                "{w}一直精确等于 {v}：曲线是常数。",
                lang,
                w=window,
                v=num(t["last_value"]),
            ),
            _t(
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
    worse = rec["significant"] and (t["change_over_noise"] or 0) > 1 and (rec["change"] or 0) * _sign(t) > 0
    if worse:
        # Significantly worse, but not far enough from the best to call it diverging.
        s = _t(
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
        s = _t(
            "{w} it has levelled off: the change of {rel} is {why}.",
            "{w}已经走平：变化 {rel}，{why}。",
            lang,
            w=window,
            rel=pct(rec["relative_change"]),
            why=why,
        )
    if is_eval:
        todo = _t(
            "Validation has stopped improving; the best checkpoint is at step {bs}.",
            "验证集指标已不再改善；最佳检查点在第 {bs} 步。",
            lang,
            bs=t["best_step"],
        )
    else:
        todo = _companion_overfits(r, lang) or _t(
            "More steps at this learning rate are unlikely to help much: if the validation loss agrees, "
            "stop here, or lower the learning rate.",
            "按当前学习率继续训练收益不大：如果验证集也走平了，可以在这里停止，或者降低学习率。",
            lang,
        )
    return [s, todo]


def _sign(t: dict[str, Any]) -> float:
    """+1 when larger values are worse (losses), -1 for accuracy-like metrics."""
    return -1.0 if t["mode"] == "max" else 1.0


def _gap(t: dict[str, Any]) -> str:
    """How much worse the smoothed level now is than the best reading, in percent of the best."""
    best, now = t["best_value"], t["end_level"]
    if best is None or now is None or best == 0:
        return "?"
    return pct(abs(now - best) / abs(best), signed=False)


def _companion_overfits(r: dict[str, Any], lang: str) -> str:
    """For a training key: the validation companion's overfitting, which this curve cannot show."""
    o = r["overfitting"]
    if r["trend"]["role"] == "eval" or o is None or not o["detected"]:
        return ""
    return _t(
        "The validation loss, however, has risen {gl} since its best at step {bs}, while this loss went "
        "from {tb} to {tn} over the same evaluations: the model is overfitting; keep the checkpoint from "
        "step {bs}.",
        "不过验证集 loss 自第 {bs} 步的最好值以来已回升 {gl}，同期这条曲线却从 {tb} 降到了 {tn}："
        "模型在过拟合，请保留第 {bs} 步的检查点。",
        lang,
        gl=pct((o["generalization_loss_current"] or 0) / 100, signed=False),
        bs=o["best_step"],
        tb=num(o["train_at_best"]),
        tn=num(o["train_now"]),
    )


def _outlook(r: dict[str, Any], lang: str) -> str:
    """What continuing is expected to buy, from the forecast, in numbers."""
    f = r.get("forecast")
    if not f or r["state"] in ("insufficient_data", "non_finite") or r["trend"]["schedule"]:
        return ""
    g = f["gain"]
    up = r["trend"]["mode"] == "max"
    fields = dict(
        h=f["horizon"],
        key=r["key"],
        lo=pct(g["low"], signed=False),
        hi=pct(g["high"], signed=False),
        g=pct(g["expected"], signed=False),
        lvl=f"{100 * f['level']:.0f}%",
        best=num(f["best"]),
        v=num(f["minimum"]["expected"]),
    )
    if g["high"] < 0.001:
        return _t(
            "Continuing to step {h} is not expected to improve on the best {best} ({lvl} interval: at most {hi}).",
            "继续训练到第 {h} 步，预计也难以超过目前的最好值 {best}（{lvl} 区间：至多 {hi}）。",
            lang,
            **fields,
        )
    return _t(
        "Continuing to step {h} is expected to {verb} {key} by {g} ({lvl} interval: {lo} to {hi}), to about {v}.",
        "继续训练到第 {h} 步，预计 {key} 还能再{verb} {g}（{lvl} 区间：{lo} 至 {hi}），达到 {v} 左右。",
        lang,
        verb=("提高" if up else "降低") if lang == "zh" else ("raise" if up else "lower"),
        **fields,
    )


def _looking_back(r: dict[str, Any], lang: str) -> str:
    """For a run that is over: what to keep of it, in place of advice on a training that no longer runs."""
    state, t, key = r["state"], r["trend"], r["key"]
    o = r["overfitting"]
    if t["schedule"]:
        return ""
    companion = _companion_overfits(r, lang)
    if companion:
        return companion
    if state == "overfitting" and o and o.get("best_step") is not None:
        return _t(
            "The run is over: keep its checkpoint from step {bs}, the best (load_best_model_at_end loads it).",
            "运行已经结束：请保留第 {bs} 步的检查点，那是最好的一个（load_best_model_at_end 会加载它）。",
            lang,
            bs=o["best_step"],
        )
    if state == "insufficient_data":
        return _t(
            "The run is over with too few points of {key} to judge its course.",
            "运行已经结束，{key} 的点太少，无法判断它的走势。",
            lang,
            key=key,
        )
    if state == "improving":
        up = t["mode"] == "max"
        return _t(
            "The run ended while {key} was still {verb}: a longer run would likely have gone further.",
            "运行结束时 {key} 仍在{verb}：训练更久很可能还会更好。",
            lang,
            key=key,
            verb=("上升" if up else "下降") if lang == "zh" else ("rising" if up else "falling"),
        )
    if t.get("best_step") is None:
        return _t("The run is over.", "运行已经结束。", lang)
    return _t(
        "The run is over; its best {key} was {best} at step {bs}.",
        "运行已经结束；{key} 的最好值是第 {bs} 步的 {best}。",
        lang,
        key=key,
        best=num(t["best_value"]),
        bs=t["best_step"],
    )


def summarize(result: dict[str, Any], lang: str = "en", *, ended: bool = False) -> str:
    """2-4 sentences about the curve described by `result` (the diagnostics dict without summary). For a run
    that is over (`ended`), the last sentence says what to keep of it rather than what to do next."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")
    sentences: list[str] = []
    if result["state"] not in ("insufficient_data", "non_finite"):
        sentences.append(_overview(result, lang))
        sentences.append(_noise(result, lang))
    reading = _reading(result, lang)
    if ended:
        sentences.extend([reading[0], _looking_back(result, lang)])
    else:
        sentences.extend(reading)
        sentences.append(_outlook(result, lang))
    return _join(sentences, lang)
