"""Builds, inside LLaMA-Factory's venv, what a LLaMA-Factory run needs, with no download: a tiny Llama
and a word-level tokenizer from a config, an overfitting SFT dataset, and the run's YAML.

The dataset asks to count on from a start word by a stride, with a quarter of the answer's words
replaced at random: the model first learns to count (validation loss falls), then memorises the
noise of its few training pairs (validation loss rises), which is the shape early stopping exists for.
Usage: make_fixture.py FOLDER OUTPUT_DIR MAX_STEPS
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import yaml
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

WORDS = [f"w{i}" for i in range(48)]
SPECIAL = ["<pad>", "<s>", "</s>", "<unk>"]
# What LLaMA-Factory's "default" template writes around the messages.
TEMPLATE_WORDS = ["Human", "Assistant", "System", ":", "\n"]


def tokenizer(folder: Path) -> PreTrainedTokenizerFast:
    vocab = {tok: i for i, tok in enumerate([*SPECIAL, *TEMPLATE_WORDS, *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split("\n", behavior="isolated"), pre_tokenizers.WhitespaceSplit()]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    fast.save_pretrained(folder)
    return fast


def model(folder: Path, vocab_size: int) -> None:
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=128,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    LlamaForCausalLM(config).save_pretrained(folder)


def dataset(folder: Path, n: int = 64, seed: int = 0) -> None:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        start, stride = rng.randrange(len(WORDS)), rng.randrange(1, 4)
        answer = [WORDS[(start + stride * (t + 2)) % len(WORDS)] for t in range(10)]
        answer = [rng.choice(WORDS) if rng.random() < 0.25 else w for w in answer]
        question = f"{WORDS[start]} {WORDS[(start + stride) % len(WORDS)]}"
        rows.append({"instruction": question, "input": "", "output": " ".join(answer)})
    (folder / "pairs.json").write_text(json.dumps(rows))
    (folder / "dataset_info.json").write_text(json.dumps({"pairs": {"file_name": "pairs.json"}}))


def run_config(folder: Path, output_dir: Path, max_steps: int) -> Path:
    config = {
        "model_name_or_path": str(folder / "model"),
        "trust_remote_code": False,
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "full",
        "dataset": "pairs",
        "dataset_dir": str(folder / "data"),
        "template": "default",
        "cutoff_len": 64,
        "overwrite_cache": True,
        "preprocessing_num_workers": 1,
        "dataloader_num_workers": 0,
        "output_dir": str(output_dir),
        "logging_steps": 1,
        "save_steps": 1000,
        "save_total_limit": 1,
        "plot_loss": False,
        "overwrite_output_dir": True,
        "report_to": "none",
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 1,
        "learning_rate": 5.0e-3,
        "max_steps": max_steps,
        "lr_scheduler_type": "constant",
        "val_size": 16,
        "per_device_eval_batch_size": 8,
        "eval_strategy": "steps",
        "eval_steps": 10,
        "seed": 0,
        "use_cpu": True,
        "disable_tqdm": True,
    }
    path = folder / "train.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def main(folder: Path, output_dir: Path, max_steps: int) -> None:
    (folder / "model").mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    tok = tokenizer(folder / "model")
    model(folder / "model", len(tok))
    dataset(folder / "data")
    print(run_config(folder, output_dir, max_steps))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
