"""What SFT and DPO share: loading the start model, LoRA, trainer arguments, promoting the result.

Both stages are thin callers of TRL. With LoRA the adapters are merged into the saved model
after each stage, so every `m<t>/` is a plain model dir: the next iteration starts a fresh
adapter on it and uses it, merged, as the DPO reference (the paper's "reference = M_t").
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any

from srlm.config import Config
from srlm.models import check_vocab, load_model, load_tokenizer, save_atomically
from srlm.rundir import write_manifest
from srlm.stages.common import console


class TrainingError(RuntimeError):
    """Training that went bad (NaN/inf loss): nothing is promoted."""


def load_start(cfg: Config, path: str) -> tuple[Any, Any]:
    tokenizer = load_tokenizer(path, cfg.model)
    model = load_model(path, cfg.model)
    check_vocab(model, tokenizer, path)
    return model, tokenizer


def peft_config(cfg: Config) -> Any:
    if cfg.model.lora is None:
        return None
    from peft import LoraConfig

    lora = cfg.model.lora
    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
    )


def common_args(
    cfg: Config, out_dir: Path, *, lr: float, min_lr: float, epochs: float, batch: int, rows: int
) -> dict[str, Any]:
    """TrainingArguments fields shared by SFTConfig and DPOConfig."""
    steps = math.ceil(rows / batch) * epochs
    return {
        "output_dir": str(out_dir.with_name(out_dir.name + ".trainer")),
        "learning_rate": lr,
        "lr_scheduler_type": "cosine_with_min_lr",
        "lr_scheduler_kwargs": {"min_lr": min_lr},
        "num_train_epochs": epochs,
        "per_device_train_batch_size": batch,
        "save_strategy": "no",
        "report_to": "none",
        "logging_steps": max(1, int(steps // 20)),
        "seed": cfg.loop.seed,
        "data_seed": cfg.loop.seed,
        "gradient_checkpointing": cfg.model.gradient_checkpointing,
        "bf16": cfg.model.dtype == "bfloat16",
        "fp16": cfg.model.dtype == "float16",
    }


def losses(trainer: Any) -> list[float]:
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


def promote(
    trainer: Any,
    tokenizer: Any,
    out_dir: Path,
    *,
    stage: str,
    config_hash: str,
    inputs: list[Path],
    rows: int,
    started: float,
    skipped: dict[str, int] | None = None,
) -> Path:
    """Train, check the loss, merge LoRA, save atomically, write the manifest."""
    result = trainer.train()
    history = losses(trainer)
    if not history or not all(math.isfinite(x) for x in [*history, result.training_loss]):
        raise TrainingError(f"{stage}: the training loss was not finite ({history[-5:]}); {out_dir} not written")
    model = trainer.model
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    save_atomically(model, tokenizer, out_dir)
    shutil.rmtree(out_dir.with_name(out_dir.name + ".trainer"), ignore_errors=True)
    seconds = round(time.perf_counter() - started, 2)
    write_manifest(
        out_dir,
        stage=stage,
        config_hash=config_hash,
        inputs=inputs,
        rows=rows,
        seconds=seconds,
        first_loss=history[0],
        last_loss=history[-1],
        skipped=skipped or {},
    )
    console.print(
        f"{stage}: {rows} examples, loss {history[0]:.3f} -> {history[-1]:.3f} ({seconds:.1f} s) -> {out_dir}"
    )
    return out_dir
