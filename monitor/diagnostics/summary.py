"""A short paragraph about the plot, as a person reading it would write it, in English or Chinese.

Built only from the public diagnostics dict, so the words never say more than the numbers. Two to
five sentences: what the curve did overall, how noisy it is (and its spikes), what its right end
says, what to do. The Chinese text is written for Chinese readers, not translated phrase by phrase.
"""

from __future__ import annotations

from typing import Any

from .readings import companion_overfits, outlook_kind, reading
from .wording import LANGS, join, num, pct, say, sides


def _overview(r: dict[str, Any], lang: str) -> str:
    t = r["trend"]
    key, n, step = r["key"], t["n_finite"], t["last_step"]
    first, last = t["first_value"], t["end_level"]
    if first is None or last is None:
        return ""
    change = (last - first) / abs(first) if first else None
    if change is not None and abs(change) < 0.001 or first == last:
        s = say(
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
        s = say(
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
        s += say(", best {best} at step {bs}", "，最好值 {best} 出现在第 {bs} 步", lang, best=num(best), bs=best_step)
    s += "。" if lang == "zh" else "."
    if t.get("n_non_finite"):
        # Left out of every figure here, but a NaN/Inf the run recovered from is still a numerical breakdown a
        # person wants to know of (the decision stops on the monitored key's first one).
        s += say(
            " {k} more value(s) were not finite (NaN/Inf) and are left out of this reading.",
            "另有 {k} 个值不是有限数（NaN/Inf），没有计入这里的分析。",
            lang,
            k=t["n_non_finite"],
        )
    return s


def _noise(r: dict[str, Any], lang: str) -> str:
    v, sp = r["volatility"], r["spikes"]
    cv = pct(v["cv"], signed=False) if v["cv"] is not None else "?"
    noise = num(v["noise_std"])
    if v["noise_std"] == 0:
        s = say("The raw curve has no noise at all.", "原始曲线完全没有噪声。", lang)
    elif v["level"] == "low":
        s = say(
            "The raw curve is smooth (noise about {cv} of the level), so single readings can be trusted.",
            "原始曲线很平滑（噪声约为数值的 {cv}），单个点就可以参考。",
            lang,
            cv=cv,
        )
    elif v["level"] == "moderate":
        s = say(
            "The raw values scatter by about ±{noise} ({cv}) around the smoothed curve: read the smoothed "
            "line, not single points.",
            "原始值在平滑曲线上下约 ±{noise}（{cv}）波动，应该看平滑曲线而不是单个点。",
            lang,
            noise=noise,
            cv=cv,
        )
    else:
        s = say(
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
        s += say(
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


def _outlook(r: dict[str, Any], lang: str) -> str:
    """What continuing is expected to buy, from the forecast, in numbers."""
    kind = outlook_kind(r)
    if kind is None:
        return ""
    f = r["forecast"]
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
    if kind == "floor":
        return say(
            "The forecast to step {h} says little here: the spread it allows each reading still to come (±{n}) "
            "lets the luckiest of them reach all the way down to 0.",
            "到第 {h} 步的预测在这里说明不了什么：它给剩下每个读数留的波动（±{n}）让其中最幸运的一个可以一直低到 0。",
            lang,
            h=f["horizon"],
            n=num(f["noise"]),
        )
    if kind == "nothing_left":
        return say(
            "Continuing to step {h} is not expected to improve on the best {best} ({lvl} interval: at most {hi}).",
            "继续训练到第 {h} 步，预计也难以超过目前的最好值 {best}（{lvl} 区间：至多 {hi}）。",
            lang,
            **fields,
        )
    if kind == "course_worse":
        return say(
            "The forecast's course to step {h} stays {worse} the best {best}, ending at about {e}: continuing is not "
            "expected to beat the best, only a lucky reading could.",
            "到第 {h} 步的预测走势一直{worse_zh}目前的最好值 {best}，最后在 {e} 左右：继续训练预计无法超过最好值，"
            "只有碰巧的好读数才可能。",
            lang,
            **sides(up),
            e=num(f["value"]["expected"]),
            **fields,
        )
    return say(
        "Continuing to step {h} is expected to {verb} {key} by {g} ({lvl} interval: {lo} to {hi}), its best "
        "reading by then about {v}.",
        "继续训练到第 {h} 步，预计 {key} 还能再{verb} {g}（{lvl} 区间：{lo} 至 {hi}），到那时最好的读数约为 {v}。",
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
    companion = companion_overfits(r, lang)
    if companion:
        return companion
    if state == "overfitting" and o and o.get("best_step") is not None:
        return say(
            "The run is over: keep its checkpoint from step {bs}, the best (load_best_model_at_end loads it).",
            "运行已经结束：请保留第 {bs} 步的检查点，那是最好的一个（load_best_model_at_end 会加载它）。",
            lang,
            bs=o["best_step"],
        )
    if state == "insufficient_data":
        return say(
            "The run is over with too few points of {key} to judge its course.",
            "运行已经结束，{key} 的点太少，无法判断它的走势。",
            lang,
            key=key,
        )
    if state == "improving":
        up = t["mode"] == "max"
        return say(
            "The run ended while {key} was still {verb}: a longer run would likely have gone further.",
            "运行结束时 {key} 仍在{verb}：训练更久很可能还会更好。",
            lang,
            key=key,
            verb=("上升" if up else "下降") if lang == "zh" else ("rising" if up else "falling"),
        )
    if t.get("best_step") is None:
        return say("The run is over.", "运行已经结束。", lang)
    return say(
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
    said = reading(result, lang)
    if ended:
        sentences.extend([said[0], _looking_back(result, lang)])
    else:
        sentences.extend(said)
        sentences.append(_outlook(result, lang))
    return join(sentences, lang)
