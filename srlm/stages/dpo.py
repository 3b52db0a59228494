"""DPO: M(t+1) = DPO(M(t), pairs of iteration t) with TRL's DPOTrainer.

    srlm dpo RUN_DIR --iteration t

Reference = M(t), the model training starts from (the paper's choice); its log-probs are
computed once before training (`precompute_ref_log_probs`), not at every step.

Variants: `loop.meta_judge` adds the judge-preference pairs (`meta_pairs.jsonl`) to the answer
pairs, so judging is trained too; `dpo.consistency` (iteration >= 2) trains CREAM's
C·DPO(y+, y-) + (1 - C)·DPO(y-, y+) with C from `consistency.jsonl`, expressed with TRL's own
losses (`srlm/consistency.py`); `dpo.method: sft_best` trains SFT on each pair's chosen answer
instead (the paper's ablation), with the same learning rate, schedule, epochs and batch size,
so only the objective differs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from srlm.config import Config
from srlm.consistency import consistency_weight, cream_dpo_args
from srlm.data.io import read_rows
from srlm.launch import handed_to_launcher, launch_stage
from srlm.rundir import RunDir
from srlm.stages.common import already_done, console
from srlm.stages.training import common_args, load_start, peft_config, promote, shared_dataset

PAIR_FIELDS = {"prompt": str, "chosen": str, "rejected": str}
ANSWERS = {"chosen", "rejected"}  # an empty answer is a real candidate (often the rejected one), not a bad row


def _conversation(prompt: str, **answers: str) -> dict[str, Any]:
    return {"prompt": [{"role": "user", "content": prompt}]} | {
        key: [{"role": "assistant", "content": text}] for key, text in answers.items()
    }


def _train_args(cfg: Config, out_dir: Path, rows: int) -> dict[str, Any]:
    return common_args(
        cfg,
        out_dir,
        lr=cfg.dpo.learning_rate,
        min_lr=cfg.dpo.min_learning_rate,
        epochs=cfg.dpo.epochs,
        batch=cfg.dpo.batch_size,
        rows=rows,
    )


def consistency_args(cfg: Config, run: RunDir, t: int) -> dict[str, Any]:
    """DPOConfig loss fields for CREAM (empty: plain DPO, also in iteration 1)."""
    if not cfg.dpo.consistency or t < 2:
        return {}
    rows = read_rows(run.artifact(t, "consistency"), {"kendall_tau": float})
    weight = consistency_weight(row["kendall_tau"] for row in rows)
    console.print(f"iter{t} dpo: consistency C = {weight:.3f}, trained as C·DPO(y+,y-) + (1-C)·DPO(y-,y+)")
    return cream_dpo_args(weight)


def sft_best(cfg: Config, run: RunDir, t: int) -> Path:
    """M(t+1) = SFT(M(t), each pair's chosen answer): the paper's SFT-instead-of-DPO ablation."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    out_dir, label = run.model(t + 1), f"iter{t} sft_best"
    if already_done(out_dir, label):
        return out_dir
    started = time.perf_counter()
    pairs_file = run.artifact(t, "pairs")
    rows = read_rows(pairs_file, PAIR_FIELDS, may_be_blank=ANSWERS)
    examples = [_conversation(row["prompt"], completion=row["chosen"]) for row in rows]
    model, tokenizer = load_start(cfg, str(run.model(t)))
    args = SFTConfig(**_train_args(cfg, out_dir, len(rows)), max_length=cfg.dpo.max_length)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(examples),
        processing_class=tokenizer,
        peft_config=peft_config(cfg),
    )
    return promote(
        trainer,
        tokenizer,
        out_dir,
        stage=label,
        config_hash=cfg.digest("model", "dpo"),
        inputs=[pairs_file, run.model(t)],
        rows=len(rows),
        started=started,
    )


def run(cfg: Config, run: RunDir, t: int) -> Path:
    from trl import DPOConfig, DPOTrainer

    if handed_to_launcher(cfg):  # train.launcher: accelerate
        return launch_stage(cfg, run, "dpo", run.model(t + 1), t)
    if cfg.dpo.method == "sft_best":
        return sft_best(cfg, run, t)
    out_dir = run.model(t + 1)
    if already_done(out_dir, f"iter{t} dpo"):
        return out_dir
    started = time.perf_counter()
    inputs = [run.artifact(t, "pairs")] + ([run.artifact(t, "meta_pairs")] if cfg.loop.meta_judge else [])
    rows = [row for path in inputs for row in read_rows(path, PAIR_FIELDS, may_be_blank=ANSWERS)]
    if cfg.dpo.consistency and t >= 2:
        inputs.append(run.artifact(t, "consistency"))
    model, tokenizer = load_start(cfg, str(run.model(t)))
    args = DPOConfig(
        **_train_args(cfg, out_dir, len(rows)),
        beta=cfg.dpo.beta,
        max_length=cfg.dpo.max_length,
        precompute_ref_log_probs=True,
        **consistency_args(cfg, run, t),
    )
    dataset = shared_dataset(
        [_conversation(row["prompt"], chosen=row["chosen"], rejected=row["rejected"]) for row in rows], args
    )
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config(cfg),
    )
    return promote(
        trainer,
        tokenizer,
        out_dir,
        stage=f"iter{t} dpo",
        config_hash=cfg.digest("model", "dpo"),
        inputs=[*inputs, run.model(t)],
        rows=len(rows),
        started=started,
    )
