"""The nine real logs of /work/shared/curves, read end to end.

How the expected numbers were derived (independently of monitor.importers): a throwaway script
read each file with json only and kept, per (key, step), the value of the LAST line or
log_history entry that logged it, in file order. Keys: every numeric field except `step`
(trainer_state.json) or except the progress fields current_steps, total_steps, percentage,
elapsed_time, remaining_time (trainer_log.jsonl, with `lr` renamed `learning_rate`). Then:
count of distinct steps per key, and the (step, value) of the smallest and largest step.
For file 20 the same script checked by hand that every step the abandoned branch logged past
5010 (5020..5240, 23 steps) is logged again after the rewind at line 1047, so "last line wins"
and "drop the abandoned branch" give the same points there; the rewind itself is asserted below.
"""

from __future__ import annotations

from typing import Any

import pytest

from losswatch.monitor.importers import read_log

FILES = {
    "03": "03_whisper_flemish_late_overfit.json",
    "05": "05_qlora_lr5_divergence.json",
    "06": "06_qlora_zero_loss_collapse.json",
    "08": "08_nsllm_llamafactory_plateau.jsonl",
    "10": "10_qwen25_medical_eval_epoch_overfit.jsonl",
    "12": "12_causal_lm_eval_plateau.json",
    "14": "14_tinyllama_healthy_converging.json",
    "17": "17_mt5_summarization_healthy.json",
    "20": "20_sft_7epoch_dup_writers_resume.jsonl",
}
HF, LF = "hf_trainer_state", "llamafactory_trainer_log"
# the HF Trainer's end-of-training entry: one point each, at the last step
SUMMARY = dict.fromkeys(
    ("total_flos", "train_loss", "train_runtime", "train_samples_per_second", "train_steps_per_second"), 1
)

# fmt: off
# id -> (source_format, {key: number of points})
COUNTS = {
    "03": (HF, {"loss": 150, "learning_rate": 150, "epoch": 150, "eval_loss": 15, "eval_wer": 15,
                "eval_runtime": 15, "eval_samples_per_second": 15, "eval_steps_per_second": 15} | SUMMARY),
    "05": (HF, {"loss": 10, "learning_rate": 10, "epoch": 10} | SUMMARY),
    "06": (HF, {"loss": 100, "learning_rate": 100, "epoch": 100} | SUMMARY),
    "08": (LF, {"loss": 435, "learning_rate": 435, "epoch": 436}),
    "10": (LF, {"loss": 675, "learning_rate": 675, "epoch": 675, "eval_loss": 13}),
    "12": (HF, {"loss": 450, "learning_rate": 450, "grad_norm": 450, "epoch": 450, "eval_loss": 45,
                "eval_runtime": 45, "eval_samples_per_second": 45, "eval_steps_per_second": 45}),
    "14": (HF, {"loss": 186, "learning_rate": 186, "grad_norm": 186, "epoch": 196, "mean_token_accuracy": 186,
                "num_tokens": 186, "eval_loss": 14, "eval_mean_token_accuracy": 14, "eval_num_tokens": 14,
                "eval_runtime": 14, "eval_samples_per_second": 14, "eval_steps_per_second": 14}),
    "17": (HF, {"loss": 700, "learning_rate": 700, "epoch": 700, "eval_loss": 70, "eval_rouge1": 70,
                "eval_rouge2": 70, "eval_rougeL": 70, "eval_rougeLsum": 70, "eval_runtime": 70,
                "eval_samples_per_second": 70, "eval_steps_per_second": 70}),
    "20": (LF, {"loss": 656, "learning_rate": 656, "epoch": 657}),
}

# (id, key, first step, first value, last step, last value)
ENDS = [
    ("03", "loss",          100,  0.7504,                  15000, 0.0149),
    ("03", "eval_loss",     1000, 0.2717978060245514,      15000, 0.23932012915611267),
    ("03", "learning_rate", 100,  1.94e-06,                15000, 6.896551724137931e-09),
    ("03", "epoch",         100,  0.01,                    15000, 18.03),
    ("03", "eval_wer",      1000, 14.3057057034114,        15000, 9.615871912312803),
    ("05", "loss",          1,    1.637,                   10,    10.3735),
    ("05", "learning_rate", 1,    5.0,                     10,    5.0),
    ("05", "train_loss",    10,   9.767237627506256,       10,    9.767237627506256),
    ("06", "loss",          10,   0.0328,                  1000,  0.0),
    ("06", "epoch",         10,   9.0,                     1000,  889.0),
    ("08", "loss",          5,    2.3475,                  2175,  1.9787),
    ("08", "learning_rate", 5,    1.8348623853211011e-06,  2175,  4.611130619530668e-10),
    ("08", "epoch",         5,    0.0022948609457695674,   2178,  0.9996414279772236),
    ("10", "loss",          10,   2.219,                   6750,  1.5999),
    ("10", "eval_loss",     500,  1.6410622596740723,      6500,  1.577560544013977),
    ("10", "learning_rate", 10,   1.3333333333333334e-06,  6750,  6.68570453998818e-12),
    ("10", "epoch",         10,   0.0044444444444444444,   6750,  3.0),
    ("12", "loss",          10,   3.4474,                  4500,  2.7119),
    ("12", "eval_loss",     100,  2.8353183269500732,      4500,  2.721665143966675),
    ("12", "grad_norm",     10,   0.6385458707809448,      4500,  1.1519978046417236),
    ("12", "learning_rate", 10,   4.9888888888888894e-05,  4500,  2.2222222222222224e-08),
    ("12", "epoch",         10,   0.0044444444444444444,   4500,  2.0),
    ("14", "loss",          15,   2.0762,                  2790,  1.025),
    ("14", "eval_loss",     200,  1.622266411781311,       2800,  1.1219322681427002),
    ("14", "grad_norm",     15,   1.0048305988311768,      2790,  1.9084734916687012),
    ("14", "learning_rate", 15,   2.456140350877193e-06,   2790,  1.3040663405394782e-09),
    ("14", "epoch",         15,   0.010690423162583519,    2800,  1.9949220489977728),
    ("17", "loss",          10,   25.5062,                 7000,  2.2437),
    ("17", "eval_loss",     100,  3.3984055519104004,      7000,  2.065276861190796),
    ("17", "learning_rate", 10,   5.555555555555555e-05,   7000,  0.00012933161677931553),
    ("17", "epoch",         10,   0.0,                     7000,  2.23),
    # file 20: step 10 is logged twice (0.8548, then 0.8547): the later line wins
    ("20", "loss",          10,   0.8547,                  6560,  0.3717),
    ("20", "learning_rate", 10,   9.999953642250429e-06,   6560,  2.8043594020865648e-11),
    ("20", "epoch",         10,   0.010666666666666666,    6565,  7.0),
]

# id -> config fields that must be there (HF: the top-level scalars; LLaMA-Factory: total_steps)
CONFIG: dict[str, dict[str, Any]] = {
    "03": {"global_step": 15000, "max_steps": 15000, "best_metric": 9.615871912312803},
    "05": {"logging_steps": 1, "eval_steps": 500, "save_steps": 5, "max_steps": 10},
    "06": {"logging_steps": 10, "save_steps": 250, "num_train_epochs": 1000},
    "08": {"total_steps": 2178},
    "10": {"total_steps": 6750},
    "12": {"eval_steps": 100, "save_steps": 100, "train_batch_size": 2,
           "best_model_checkpoint": "./outputs/checkpoint-4400"},
    "14": {"logging_steps": 15, "eval_steps": 200, "max_steps": 2808, "best_global_step": 2800},
    "17": {"global_step": 7000, "max_steps": 9411, "num_train_epochs": 3},
    "20": {"total_steps": 6566},
}
# fmt: on


@pytest.mark.parametrize("fid", sorted(COUNTS))
def test_counts_per_key(curves_dir, fid):
    log = read_log(curves_dir / FILES[fid])
    source_format, counts = COUNTS[fid]
    assert log.source_format == source_format
    assert log.counts() == dict(sorted(counts.items()))
    assert log.name == FILES[fid].rsplit(".", 1)[0]
    assert log.fingerprint


@pytest.mark.parametrize("fid", sorted(FILES))
def test_one_point_per_key_and_step(curves_dir, fid):
    log = read_log(curves_dir / FILES[fid])
    for key in log.keys():
        steps = [p.step for p in log.series(key)]
        assert steps == sorted(set(steps)), key


@pytest.mark.parametrize(
    ("fid", "key", "first_step", "first", "last_step", "last"), ENDS, ids=[f"{f}-{k}" for f, k, *_ in ENDS]
)
def test_first_and_last_points(curves_dir, fid, key, first_step, first, last_step, last):
    series = read_log(curves_dir / FILES[fid]).series(key)
    assert (series[0].step, series[0].value) == (first_step, first)
    assert (series[-1].step, series[-1].value) == (last_step, last)
    assert all(p.time is None for p in series)  # neither format records wall-clock time per step


@pytest.mark.parametrize("fid", sorted(CONFIG))
def test_config(curves_dir, fid):
    config = read_log(curves_dir / FILES[fid]).config
    assert config.items() >= CONFIG[fid].items()
    assert "log_history" not in config and "stateful_callbacks" not in config
    assert None not in config.values()


def test_clean_files_need_no_cleaning(curves_dir):
    # The HF states repeat `epoch` (same value) in eval entries; nothing else is out of place.
    for fid in sorted(set(FILES) - {"20"}):
        for note in read_log(curves_dir / FILES[fid]).notes:
            assert note.startswith("collapsed ") and "(same key, step and value)" in note, (fid, note)


class TestDuplicateWritersAndResume:
    """File 20: every step logged by two writers, up to 20 steps out of order, a resume 5220 -> 5010."""

    @pytest.fixture
    def log(self, curves_dir):
        return read_log(curves_dir / FILES["20"])

    def test_one_point_per_logged_step(self, log):
        for key in ("loss", "learning_rate"):
            assert [p.step for p in log.series(key)] == list(range(10, 6561, 10))
        # LLaMA-Factory's last lines log only the epoch, at step 6565
        assert [p.step for p in log.series("epoch")] == [*range(10, 6561, 10), 6565]

    def test_abandoned_branch_replaced_by_resumed_branch(self, log):
        loss = {p.step: p.value for p in log.series("loss")}
        # before the rewind: the later of the two writers' lines (997: 0.396, 1001: 0.3951)
        assert loss[5000] == 0.3951
        # 5010..5240 were logged by the abandoned run (lines <= 1046), then again after the resume
        assert loss[5010] == 0.394  # abandoned: 0.3939, 0.393
        assert loss[5020] == 0.3859  # abandoned: 0.3768, 0.3763
        assert loss[5220] == 0.3598  # abandoned: 0.3774, 0.3767; resumed: 0.3599, then 0.3598
        assert loss[5240] == 0.3603  # abandoned: 0.3956

    def test_rewind_is_reported(self, log):
        rewinds = [n for n in log.notes if n.startswith("rewind")]
        assert rewinds == [
            "rewind at line 1047: 5220 → 5010 (highest step so far 5240); 69 abandoned points past "
            "step 5010: 69 re-logged by the resumed run, dropped 0"
        ]
        assert any(n.startswith("sorted ") and "(at most 20 steps behind)" in n for n in log.notes)
        assert any(n.startswith("collapsed ") and "different value" in n for n in log.notes)
