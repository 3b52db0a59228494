"""The training part of `srlm bench`: a DPO step vs an SFT step per token.

Training: one epoch of DPO and one of SFT on the same number of examples with srlm's stage
settings (`common_args`, the dpo/sft sections; DPO with `precompute_ref_log_probs` as the dpo
stage runs it), timed per optimizer step by a callback (forward + backward + step; data
loading and the one-off reference pass are reported apart), divided by the real (unpadded)
tokens the model reads: prompt + chosen + prompt + rejected for DPO, prompt + answer for SFT.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from transformers import TrainerCallback

from srlm.bench.timing import ratio
from srlm.config import Config
from srlm.training.common import common_args, load_start


def preference_rows(n: int, seed: int) -> list[dict[str, Any]]:
    """World prompts with a perfect (chosen) and a flawed (rejected) answer, as TRL conversations."""
    from srlm.world import parse, sample_prompts
    from srlm.world.answers import sample_answer, solve

    rng = random.Random(seed)
    rows = []
    for prompt in sample_prompts(n, seed=seed + 1, exclude=set()):
        instruction = parse(prompt)
        assert instruction is not None, prompt
        chosen, rejected = " ".join(solve(instruction, rng)), " ".join(sample_answer(instruction, rng)[0])
        rows.append(
            {
                "prompt": [{"role": "user", "content": prompt}],
                "chosen": [{"role": "assistant", "content": chosen}],
                "rejected": [{"role": "assistant", "content": rejected}],
            }
        )
    return rows


def _trainer(cfg: Config, path: str, kind: str, rows: list[dict[str, Any]], out_dir: Path) -> Any:
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    model, tokenizer = load_start(cfg, path)
    d = cfg.dpo
    shared = common_args(
        cfg, out_dir, lr=d.learning_rate, min_lr=d.min_learning_rate, epochs=1, batch=d.batch_size, rows=len(rows)
    ) | {"disable_tqdm": True}
    if kind == "dpo":
        dpo_args = DPOConfig(**shared, beta=d.beta, max_length=d.max_length, precompute_ref_log_probs=True)
        trainer: Any = DPOTrainer(
            model=model, args=dpo_args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer
        )
    else:
        examples = [{"prompt": row["prompt"], "completion": row["chosen"]} for row in rows]
        args = SFTConfig(
            **shared, max_length=cfg.sft.max_length, packing=cfg.sft.packing, train_sampling_strategy="group_by_length"
        )
        trainer = SFTTrainer(
            model=model, args=args, train_dataset=Dataset.from_list(examples), processing_class=tokenizer
        )
    trainer.remove_callback(PrinterCallback)
    return trainer


def _tokens(trainer: Any, kind: str) -> int:
    data = trainer.train_dataset
    if kind == "dpo":
        return sum(
            2 * len(p) + len(c) + len(r)
            for p, c, r in zip(data["prompt_ids"], data["chosen_ids"], data["rejected_ids"], strict=True)
        )
    return sum(len(ids) for ids in data["input_ids"])


class StepTimer(TrainerCallback):
    """Seconds of each optimizer step (forward + backward + step; the batch is already loaded)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.started = 0.0

    def on_step_begin(self, *args: Any, **kwargs: Any) -> None:
        self.started = time.perf_counter()

    def on_step_end(self, *args: Any, **kwargs: Any) -> None:
        self.seconds.append(time.perf_counter() - self.started)


def _train_once(cfg: Config, path: str, kind: str, rows: list[dict[str, Any]]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        trainer = _trainer(cfg, path, kind, rows, Path(tmp) / "model")
        setup = time.perf_counter() - started
        timer = StepTimer()
        trainer.add_callback(timer)
        trainer.train()
    tokens = _tokens(trainer, kind)
    return {"setup_seconds": setup, "step_seconds": sum(timer.seconds), "steps": len(timer.seconds), "tokens": tokens}


def training_section(cfg: Config, path: str, pairs: int, repeats: int) -> dict[str, Any]:
    """DPO vs SFT seconds per token: a warm-up each, then `repeats` interleaved epochs."""
    rows = preference_rows(pairs, cfg.loop.seed)
    for kind in ("sft", "dpo"):
        _train_once(cfg, path, kind, rows)
    runs: dict[str, list[dict[str, float]]] = {"sft": [], "dpo": []}
    for _ in range(repeats):
        for kind in runs:
            runs[kind].append(_train_once(cfg, path, kind, rows))
    summary: dict[str, dict[str, Any]] = {}
    for kind, results in runs.items():
        per_token = [r["step_seconds"] / r["tokens"] for r in results]
        summary[kind] = {
            "seconds_per_token": median(per_token),
            "tokens_per_second": round(1 / median(per_token), 1),
            "step_seconds": round(median(r["step_seconds"] / r["steps"] for r in results), 4),
            "tokens_per_epoch": results[0]["tokens"],
            "steps_per_epoch": results[0]["steps"],
            "setup_seconds": round(median(r["setup_seconds"] for r in results), 3),
            "runs_seconds_per_token": [round(x, 8) for x in per_token],
        }
    d = cfg.dpo
    return {
        **summary,
        "dpo_vs_sft_seconds_per_token": ratio(summary["dpo"]["seconds_per_token"], summary["sft"]["seconds_per_token"]),
        "dpo_vs_sft_seconds_per_step": ratio(summary["dpo"]["step_seconds"], summary["sft"]["step_seconds"]),
        "setup": f"{pairs} world pairs, 1 epoch, batch {d.batch_size}, TRL DPOTrainer (beta {d.beta}, reference "
        "log-probs precomputed in setup) vs SFTTrainer on the chosen answers; step time ÷ unpadded tokens",
    }
