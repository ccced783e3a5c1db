"""Advice from the run's configuration (HF TrainingArguments as a dict, LLaMA-Factory extras).

Each item is {"code", "message"}; codes are stable for programs, messages are for people, in
English or Chinese. Only what the configuration and the logged data can support is said.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from losswatch.monitor.vocabulary import TRAIN_LOSS

from .series import MIN_POINTS

# A trend over the last quarter of a run needs MIN_POINTS (5) readings there: 20 over the run.
MIN_LOGGED_POINTS = 4 * MIN_POINTS

# Early stopping and the overfitting read compare the latest evaluations with the best and with a
# 10-point recent trend; fewer than 10 evaluations over the run leave them nothing to compare.
MIN_EVALUATIONS = 10

_TEXT: dict[str, dict[str, str]] = {
    "no_validation_disabled": {
        "en": 'eval_strategy is "no": no validation loss is computed, so early stopping cannot work - '
        "it has nothing to watch. Set eval_strategy: steps with eval_steps, and hold out a validation "
        "split (LLaMA-Factory: val_size: 0.1).",
        "zh": 'eval_strategy 为 "no"，训练中不计算验证集 loss，早停无从判断。请设置 eval_strategy: steps '
        "和 eval_steps，并划出一部分验证集（LLaMA-Factory 中可设 val_size: 0.1）。",
    },
    "no_validation_missing": {
        "en": "No validation loss has been logged, so early stopping cannot work - it has nothing to watch. "
        "Hold out a validation split (LLaMA-Factory: val_size: 0.1; HF Trainer: pass eval_dataset) "
        "and set eval_strategy: steps.",
        "zh": "目前没有记录到验证集 loss，早停无法工作——没有可以监控的指标。请划出验证集（LLaMA-Factory："
        "val_size: 0.1；HF Trainer：传入 eval_dataset），并设置 eval_strategy: steps。",
    },
    "save_eval_mismatch_best": {
        "en": "save_steps ({save}) is not a multiple of eval_steps ({eval}): with load_best_model_at_end the "
        "best evaluation may have no checkpoint to load (recent transformers versions refuse to start). "
        "Use save_steps: {suggest}.",
        "zh": "save_steps（{save}）不是 eval_steps（{eval}）的整数倍：开启 load_best_model_at_end 时，"
        "验证集最好的那一步可能没有保存检查点，无法加载（新版 transformers 会直接报错）。"
        "建议把 save_steps 设为 {suggest}。",
    },
    "save_eval_mismatch": {
        "en": "save_steps ({save}) is not a multiple of eval_steps ({eval}): the step with the best "
        "validation loss may have no checkpoint, so an early stop cannot go back to the best model. "
        "Use save_steps: {suggest}.",
        "zh": "save_steps（{save}）不是 eval_steps（{eval}）的整数倍：验证集最好的那一步可能没有对应的"
        "检查点，早停后无法回到最佳模型。建议把 save_steps 设为 {suggest}。",
    },
    "save_eval_strategy_mismatch": {
        "en": "load_best_model_at_end needs save_strategy ({save}) to match eval_strategy ({eval}); "
        "otherwise the best checkpoint may not exist.",
        "zh": "load_best_model_at_end 要求 save_strategy（{save}）与 eval_strategy（{eval}）一致，"
        "否则最佳检查点可能根本不存在。",
    },
    "too_few_points": {
        "en": "Only {n} point(s) of {key} so far: judging a trend needs at least {min}. Wait for more, "
        "or log more often (lower logging_steps / eval_steps).",
        "zh": "{key} 目前只有 {n} 个点，判断趋势至少需要 {min} 个。请再等一等，或调小 logging_steps / "
        "eval_steps 让记录更频繁。",
    },
    "sparse_logging": {
        "en": "logging_steps {logging} with max_steps {max_steps} logs only about {k} points for the whole "
        "run; reading the trend of its last quarter needs at least {min}. Use logging_steps: {suggest} "
        "or lower.",
        "zh": "logging_steps 为 {logging}、max_steps 为 {max_steps}，整个训练只会记录约 {k} 个点；"
        "要判断最后四分之一的趋势至少需要 {min} 个点，建议把 logging_steps 调到 {suggest} 或更小。",
    },
    "sparse_evaluation": {
        "en": "eval_steps {eval} with max_steps {max_steps} evaluates only about {k} times; early stopping "
        "and the overfitting check need at least {min} evaluations. Use eval_steps: {suggest} or lower.",
        "zh": "eval_steps 为 {eval}、max_steps 为 {max_steps}，整个训练只评估约 {k} 次；早停和过拟合判断"
        "至少需要 {min} 次评估，建议把 eval_steps 调到 {suggest} 或更小。",
    },
    "monitor_not_logged": {
        "en": "Early stopping watches {monitor}, and none has been logged after {n} points of {key}: check that "
        "the training loop logs {monitor} under exactly that name.",
        "zh": "早停监控的是 {monitor}，但 {key} 已记录 {n} 个点，{monitor} 还一个都没有：请检查训练代码是否"
        "以完全相同的名字记录了 {monitor}。",
    },
    "effective_batch_size": {
        "en": "Effective batch size = {pd} per device × {ga} accumulation step(s) × {procs} process(es) = {eff}.",
        "zh": "有效批大小 = {pd}（单卡批大小）× {ga}（梯度累积步数）× {procs}（进程数）= {eff}。",
    },
    "effective_batch_size_faster": {
        "en": " If memory allows, {pd2} per device × {ga2} accumulation gives the same {eff} faster: fewer, "
        "larger forward/backward passes keep the GPU busier.",
        "zh": "显存允许的话，改为单卡 {pd2}、梯度累积 {ga2}，有效批大小仍是 {eff}，但速度更快："
        "更少、更大的前向/反向计算更能吃满 GPU。",
    },
}


def _get(config: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = config.get(name)
        if value is not None:
            return value
    return None


def _strategy(value: Any) -> str | None:
    """'steps', 'epoch', 'no' from a string or an enum (its repr may be 'IntervalStrategy.STEPS')."""
    if value is None:
        return None
    value = getattr(value, "value", value)
    return str(value).split(".")[-1].strip().lower()


def _int(value: Any) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) else None


def _interval(value: Any, max_steps: int | None) -> int | None:
    """A step interval; HF also accepts a float in (0, 1) meaning that fraction of the run."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number <= 0:
        return None
    if number < 1:
        return max(1, math.ceil(number * max_steps)) if max_steps else None
    return int(number)


def _item(code: str, text: str, lang: str, kind: str = "advice", **fields: Any) -> dict[str, str]:
    """`kind` "advice" asks for a change; "fact" only states something about the run (shown apart)."""
    return {"code": code, "kind": kind, "message": _TEXT[text][lang].format(**fields)}


def advise(
    config: Mapping[str, Any] | None,
    *,
    key: str,
    has_eval: bool,
    n_points: int,
    lang: str = "en",
    monitor: str | None = None,
) -> list[dict[str, str]]:
    """Advice items for a run, from its configuration and what has been logged for `key`.

    `monitor` is the key the run's early stopping watches; a validation key the run named itself
    (not the default eval_loss) says the loop means to log it, so its absence early on is no fault."""
    run = _Run.of(config or {})
    return [
        *_validation(run, key=key, has_eval=has_eval, n_points=n_points, lang=lang, monitor=monitor),
        *_checkpoints(run, lang),
        *_density(run, key=key, n_points=n_points, lang=lang),
        *_batch(run.config, lang),
    ]


def start_advice(config: Mapping[str, Any] | None, *, monitor: str | None) -> list[dict[str, str]]:
    """What the configuration alone says before any point: the diagnosis of the empty training loss gives
    the same list (a fresh run has no validation series, and "too few points" is a given)."""
    return advise(config, key=TRAIN_LOSS, has_eval=False, n_points=0, monitor=monitor)


@dataclass(frozen=True)
class _Run:
    """What the checks read off a run's configuration, with HF's defaults filled in."""

    config: Mapping[str, Any]
    max_steps: int | None
    eval_strategy: str | None
    logging_steps: int | None
    eval_steps: int | None

    @property
    def eval_enabled(self) -> bool:
        return self.eval_strategy not in (None, "no")

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> _Run:
        max_steps = _int(config.get("max_steps"))
        max_steps = max_steps if max_steps and max_steps > 0 else None
        logging_steps = _interval(config.get("logging_steps"), max_steps)
        return cls(
            config=config,
            max_steps=max_steps,
            eval_strategy=_strategy(_get(config, "eval_strategy", "evaluation_strategy")),
            logging_steps=logging_steps,
            # HF evaluates every logging_steps when eval_steps is unset.
            eval_steps=_interval(config.get("eval_steps"), max_steps) or logging_steps,
        )


def _validation(
    run: _Run, *, key: str, has_eval: bool, n_points: int, lang: str, monitor: str | None
) -> list[dict[str, str]]:
    """No validation at all, or a named validation key that never shows up."""
    named_eval = monitor not in (None, "loss", "eval_loss", key)
    if run.eval_strategy == "no":
        return [_item("no_validation", "no_validation_disabled", lang)]
    if named_eval and not has_eval:
        if n_points >= MIN_LOGGED_POINTS:
            return [_item("monitor_not_logged", "monitor_not_logged", lang, monitor=monitor, key=key, n=n_points)]
        return []
    if not has_eval and not run.eval_enabled:
        # Evaluation neither configured nor logged. A run configured to evaluate that has not yet
        # reached its first evaluation is not told off.
        return [_item("no_validation", "no_validation_missing", lang)]
    return []


def _checkpoints(run: _Run, lang: str) -> list[dict[str, str]]:
    """Checkpoints that do not line up with evaluations: the best one cannot be kept."""
    config = run.config
    if config.get("losswatch_keep_best"):
        return []  # the callback saves each new best evaluation itself, whatever save_steps says
    # HF saves every 500 steps by default.
    save_steps = _interval(config.get("save_steps", 500), run.max_steps)
    save_strategy = _strategy(config.get("save_strategy")) or "steps"
    load_best = bool(config.get("load_best_model_at_end"))
    if load_best and run.eval_enabled and save_strategy != run.eval_strategy:
        return [
            _item(
                "save_eval_strategy_mismatch",
                "save_eval_strategy_mismatch",
                lang,
                save=save_strategy,
                eval=run.eval_strategy,
            )
        ]
    eval_steps = run.eval_steps
    if run.eval_strategy == "steps" and save_strategy == "steps" and eval_steps and save_steps:
        if save_steps % eval_steps:
            suggest = math.ceil(save_steps / eval_steps) * eval_steps
            text = "save_eval_mismatch_best" if load_best else "save_eval_mismatch"
            return [_item("save_eval_mismatch", text, lang, save=save_steps, eval=eval_steps, suggest=suggest)]
    return []


def _density(run: _Run, *, key: str, n_points: int, lang: str) -> list[dict[str, str]]:
    """Too few points logged, or planned, to judge the curve."""
    items = []
    max_steps, logging_steps, eval_steps = run.max_steps, run.logging_steps, run.eval_steps
    if n_points < MIN_POINTS:
        items.append(_item("too_few_points", "too_few_points", lang, n=n_points, key=key, min=MIN_POINTS))
    # Advice to log more often only where it helps: logging every step of a short run already is all it can do.
    if (
        max_steps
        and logging_steps
        and max_steps // logging_steps < MIN_LOGGED_POINTS
        and max(1, max_steps // MIN_LOGGED_POINTS) < logging_steps
    ):
        items.append(
            _item(
                "sparse_logging",
                "sparse_logging",
                lang,
                logging=logging_steps,
                max_steps=max_steps,
                k=max_steps // logging_steps,
                min=MIN_LOGGED_POINTS,
                suggest=max(1, max_steps // MIN_LOGGED_POINTS),
            )
        )
    if (
        run.eval_strategy == "steps"
        and max_steps
        and eval_steps
        and max_steps // eval_steps < MIN_EVALUATIONS
        and max(1, max_steps // MIN_EVALUATIONS) < eval_steps
    ):
        items.append(
            _item(
                "sparse_evaluation",
                "sparse_evaluation",
                lang,
                eval=eval_steps,
                max_steps=max_steps,
                k=max_steps // eval_steps,
                min=MIN_EVALUATIONS,
                suggest=max(1, max_steps // MIN_EVALUATIONS),
            )
        )
    return items


def _batch(config: Mapping[str, Any], lang: str) -> list[dict[str, str]]:
    """The effective batch size (a fact), and a faster split of it when accumulation is used (advice)."""
    per_device = _int(config.get("per_device_train_batch_size"))
    if not per_device or per_device <= 0:
        return []
    accumulation = max(1, _int(config.get("gradient_accumulation_steps")) or 1)
    processes = max(1, _int(_get(config, "world_size", "n_gpu")) or 1)
    effective = per_device * accumulation * processes
    message = _TEXT["effective_batch_size"][lang].format(pd=per_device, ga=accumulation, procs=processes, eff=effective)
    if accumulation > 1:
        # Halving accumulation while doubling the per-device batch keeps the product; when the
        # accumulation is odd, fold all of it into the per-device batch.
        factor = 2 if accumulation % 2 == 0 else accumulation
        message += _TEXT["effective_batch_size_faster"][lang].format(
            pd2=per_device * factor, ga2=accumulation // factor, eff=effective
        )
    # The product alone is a fact about the run; only a faster split of it is advice.
    kind = "advice" if accumulation > 1 else "fact"
    return [{"code": "effective_batch_size", "kind": kind, "message": message}]
