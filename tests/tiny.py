"""A tiny GPT-2 built from a config and token data made here: a real Trainer in about a second."""

from __future__ import annotations

import os
from typing import Any

import torch
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

os.environ.setdefault("HF_HUB_OFFLINE", "1")


class Tokens(torch.utils.data.Dataset):
    def __init__(self, n: int, seq: int, vocab: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, vocab, (n, seq), generator=g)

    def __len__(self) -> int:
        return self.ids.shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def tiny_model(vocab: int = 64, seed: int = 0) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    return GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_positions=32, n_embd=32, n_layer=2, n_head=2))


def overfitting_trainer(
    output_dir: str, callbacks: list, *, max_steps: int = 120, eval_steps: int = 5, seed: int = 0, **overrides
) -> Trainer:
    """Memorises 16 random sequences; the validation set is other random sequences, so its loss
    falls briefly and then rises: the shape early stopping exists for."""
    vocab = 64
    kwargs: dict[str, Any] = dict(
        output_dir=output_dir,
        max_steps=max_steps,
        per_device_train_batch_size=8,
        learning_rate=5e-3,
        logging_steps=1,
        eval_strategy="steps",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=2,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        load_best_model_at_end=True,
        report_to=[],
        use_cpu=True,
        seed=seed,
        data_seed=seed,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    kwargs.update(overrides)
    args = TrainingArguments(**kwargs)
    return Trainer(
        model=tiny_model(vocab, seed),
        args=args,
        train_dataset=Tokens(16, 16, vocab, seed=1),
        eval_dataset=Tokens(16, 16, vocab, seed=2),
        callbacks=callbacks,
    )
