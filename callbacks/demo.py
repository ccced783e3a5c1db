"""The live demo: a tiny GPT-2 built from a config learns random sequences by heart on the CPU.

Its validation set is other random sequences, so validation loss falls, then rises: the service
draws the curves live, diagnoses the overfitting and stops the run. Run through `losswatch demo`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="losswatch demo")
    ap.add_argument("--url", default=os.environ.get("LOSSWATCH_URL", "http://127.0.0.1:8000"))
    ap.add_argument("--max-steps", type=int, default=1500)
    ap.add_argument("--step-delay", type=float, default=0.3, help="seconds added per step, so curves grow visibly")
    ap.add_argument("--output-dir", default=None)
    a = ap.parse_args(argv)

    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainerCallback, TrainingArguments

    from losswatch.callbacks.hf import LossWatchCallback

    class Tokens(torch.utils.data.Dataset):
        """Counting sequences (start + stride * t, mod 64) with a quarter of the tokens replaced at random:
        the rule is learnable, so validation loss falls; the noise of a small training set can only be
        memorised, so it then rises."""

        def __init__(self, n: int, seed: int) -> None:
            g = torch.Generator().manual_seed(seed)
            t = torch.arange(24)
            start = torch.randint(0, 64, (n, 1), generator=g)
            stride = torch.randint(1, 4, (n, 1), generator=g)
            ids = (start + stride * t) % 64
            noise = torch.rand(n, 24, generator=g) < 0.25
            self.ids = torch.where(noise, torch.randint(0, 64, (n, 24), generator=g), ids)

        def __len__(self) -> int:
            return self.ids.shape[0]

        def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
            return {"input_ids": self.ids[i], "labels": self.ids[i]}

    class Pace(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
            time.sleep(a.step_delay)

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=32, n_embd=48, n_layer=2, n_head=2))
    out = a.output_dir or tempfile.mkdtemp(prefix="losswatch-demo-")
    args = TrainingArguments(
        output_dir=out,
        max_steps=a.max_steps,
        per_device_train_batch_size=8,
        learning_rate=2e-3,
        logging_steps=2,
        eval_strategy="steps",
        eval_steps=10,
        save_strategy="steps",
        save_steps=10,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        report_to=[],
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
        run_name="demo-tiny-gpt2",
    )
    # The service's default policy: the demo shows what a person gets without choosing anything.
    lw = LossWatchCallback(url=a.url, project="demo", run_name="tiny-gpt2-overfits")
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=Tokens(48, seed=1),
        eval_dataset=Tokens(64, seed=2),
        callbacks=[lw, Pace()],
    )
    print(f"losswatch demo: training; watch {a.url}/ (project 'demo'); checkpoints in {out}", flush=True)
    trainer.train()
    how = f"stopped by losswatch at step {lw.stopped_at}" if lw.stopped_at else "ran to its last step"
    print(f"losswatch demo: run {lw.run_id} {how}; see {a.url}/runs/{lw.run_id}")


if __name__ == "__main__":
    main()
