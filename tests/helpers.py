"""Test helpers: a tiny Llama with a trained tokenizer and chat template, and fixture data.

Everything is built inside the test session; nothing is downloaded.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIAL = ["<pad>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>"]
WORDS = [
    "apple", "river", "stone", "green", "quick", "blue", "cloud", "seven", "lamp",
    "forest", "write", "about", "the", "word", "say", "list", "three",
]  # fmt: skip


def fixture_rows(seed: int = 0, n_ift: int = 40, n_eft: int = 40) -> dict[str, list[dict[str, Any]]]:
    """Small IFT/EFT/eval sets: 'say W' tasks answered with W; judgments end in 'Score: k'."""
    rng = random.Random(seed)
    words = WORDS[:]

    def task(i: int) -> tuple[str, str]:
        a, b = rng.choice(words), rng.choice(words)
        return f"Say the words {a} and {b} please {i}", f"{a} {b}"

    ift = [dict(zip(("prompt", "response"), task(i), strict=True)) for i in range(n_ift)]
    eft = []
    for i in range(n_eft):
        prompt, good = task(1000 + i)
        score = rng.randint(1, 5)
        response = good if score >= 4 else " ".join(rng.choice(words) for _ in range(score + 1))
        eft.append(
            {
                "prompt": prompt,
                "response": response,
                "judgment": f"The answer {'matches' if score >= 4 else 'misses'} the request. Score: {score}",
            }
        )
    evals = [{"id": f"e{i}", "prompt": task(5000 + i)[0]} for i in range(10)]
    pool = [{"prompt": task(9000 + i)[0]} for i in range(40)]
    return {"ift": ift, "eft": eft, "eval": evals, "pool": pool}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def build_tiny_model(out_dir: Path, *, seed: int = 0, chat_template: str | None = CHAT_TEMPLATE) -> Path:
    """A 2-layer Llama (~50k params) and a byte-level BPE tokenizer trained on fixture text."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    rows = fixture_rows()
    corpus = [r["prompt"] + " " + r["response"] for r in rows["ift"]] + [r["judgment"] for r in rows["eft"]]
    corpus += ["Score: 0 1 2 3 4 5 . Task 1: Task 9: Rate the response with the additive rubric"]
    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, pad_token="<pad>", eos_token="<|end|>")
    if chat_template:
        tokenizer.chat_template = chat_template
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def tiny_config(tmp: Path, model_dir: Path, **sections: dict[str, Any]) -> dict[str, Any]:
    """A config dict for the tiny model and fixture data, fast enough for CI."""
    rows = fixture_rows()
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    cfg: dict[str, Any] = {
        "model": {"path": str(model_dir)},
        "data": {
            "ift": str(write_jsonl(data / "ift.jsonl", rows["ift"])),
            "eft": str(write_jsonl(data / "eft.jsonl", rows["eft"])),
            "eval_prompts": [str(write_jsonl(data / "eval.jsonl", rows["eval"]))],
        },
        "sft": {"epochs": 12, "learning_rate": 5e-3, "min_learning_rate": 5e-4, "batch_size": 8},
        # Fixture prompts share their wording ("Say the words A and B please N"): at the default ROUGE-L
        # threshold every pool prompt would repeat an IFT or evaluation prompt.
        "prompts": {
            "source": "file",
            "path": str(write_jsonl(data / "pool.jsonl", rows["pool"])),
            "n": 6,
            "dedup_threshold": 0.9,
        },
        "candidates": {"n": 4, "max_new_tokens": 12, "temperature": 1.0},
        "judge": {"samples": 3, "max_new_tokens": 16, "temperature": 1.0},
        "dpo": {"learning_rate": 1e-3, "min_learning_rate": 1e-4, "batch_size": 4},
        "loop": {"iterations": 2, "seed": 0, "run_dir": str(tmp / "run")},
        "backend": {"batch_size": 8},
    }
    for name, values in sections.items():
        cfg.setdefault(name, {}).update(values)
    return cfg


class ScriptedEngine:
    """An `Engine` whose replies come from a function of (item, params): no model, no torch."""

    def __init__(self, reply: Any, batch_size: int = 4) -> None:
        self.reply = reply
        self.batch_size = batch_size
        self.calls: list[list[str]] = []

    def plan_batches(self, items: Any) -> list[list[Any]]:
        ordered = sorted(items, key=lambda item: item.id)
        return [ordered[i : i + self.batch_size] for i in range(0, len(ordered), self.batch_size)]

    def generate_batch(self, batch: Any, params: Any) -> list[str]:
        self.calls.append([item.id for item in batch])
        return [self.reply(item, params) for item in batch]

    def close(self) -> None:
        pass
