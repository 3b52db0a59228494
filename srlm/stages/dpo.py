"""DPO: M(t+1) = DPO(M(t), pairs of iteration t) with TRL's DPOTrainer.

    srlm dpo RUN_DIR --iteration t

Reference = M(t), the model training starts from (the paper's choice); its log-probs are
computed once before training (`precompute_ref_log_probs`), not at every step.
"""

from __future__ import annotations

import time
from pathlib import Path

from srlm.config import Config
from srlm.data.io import read_rows
from srlm.rundir import RunDir
from srlm.stages.common import already_done
from srlm.stages.training import common_args, load_start, peft_config, promote


def run(cfg: Config, run: RunDir, t: int) -> Path:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    out_dir = run.model(t + 1)
    if already_done(out_dir, f"iter{t} dpo"):
        return out_dir
    started = time.perf_counter()
    pairs_file = run.artifact(t, "pairs")
    rows = read_rows(pairs_file, {"prompt": str, "chosen": str, "rejected": str})
    dataset = Dataset.from_list(
        [
            {
                "prompt": [{"role": "user", "content": row["prompt"]}],
                "chosen": [{"role": "assistant", "content": row["chosen"]}],
                "rejected": [{"role": "assistant", "content": row["rejected"]}],
            }
            for row in rows
        ]
    )
    model, tokenizer = load_start(cfg, str(run.model(t)))
    args = DPOConfig(
        **common_args(
            cfg,
            out_dir,
            lr=cfg.dpo.learning_rate,
            min_lr=cfg.dpo.min_learning_rate,
            epochs=cfg.dpo.epochs,
            batch=cfg.dpo.batch_size,
            rows=len(rows),
        ),
        beta=cfg.dpo.beta,
        max_length=cfg.dpo.max_length,
        precompute_ref_log_probs=True,
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
        inputs=[pairs_file, run.model(t)],
        rows=len(rows),
        started=started,
    )
