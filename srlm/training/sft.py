"""SFT: M1 = SFT(M0, IFT ∪ EFT) with TRL's SFTTrainer, loss on the answer tokens only.

    srlm sft RUN_DIR            (also the first stage of `srlm run`)

IFT rows become (user prompt → assistant response). EFT rows become (user: the judge prompt
showing the EFT prompt and response → assistant: the judgment), which is how the model learns
to be its own judge. With `ift_only=True` the same stage trains the IFT-only SFT baseline;
`loop.ift_only` trains M1 itself on IFT alone (the paper's IFT-only ablation).

Before training, the IFT and EFT prompts are matched against every held-out prompt
(`srlm.data.decontaminate`): the counts go to `<run_dir>/seed_check.json`, the report and a warning;
`data.drop_contaminated` leaves the matching rows out (`skipped` in the model's manifest).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from srlm.config import Config, ConfigError
from srlm.console import begin, console
from srlm.data.decontaminate import SEED_CHECK_FILE, seed_check, write_seed_check
from srlm.data.io import read_rows
from srlm.method.judging import load_template, render_template
from srlm.models.loading import resolve_model_path
from srlm.rundir import RunDir
from srlm.stages.common import already_done
from srlm.training.common import common_args, load_start, peft_config, promote
from srlm.training.launch import handed_to_launcher, launch_stage

IFT_FIELDS = {"prompt": str, "response": str}
EFT_FIELDS = {"prompt": str, "response": str, "judgment": str}


def _example(prompt: str, answer: str) -> dict[str, Any]:
    return {
        "prompt": [{"role": "user", "content": prompt}],
        "completion": [{"role": "assistant", "content": answer}],
    }


def sft_examples(
    cfg: Config, ift_only: bool = False, exclude: Collection[str] = frozenset()
) -> dict[str, list[dict[str, Any]]]:
    """IFT (+ EFT rendered into the judge prompt) as TRL prompt-completion conversations, by source.

    Rows whose prompt is in `exclude` (seed prompts matching a held-out prompt) are left out.
    """
    ift = read_rows(cfg.ift_file, IFT_FIELDS)
    sources = {"ift": [_example(row["prompt"], row["response"]) for row in ift if row["prompt"] not in exclude]}
    if cfg.data.eft and not ift_only:
        template = load_template(cfg.judge.template)
        # An empty answer is a real failure mode the judge must learn to score.
        sources["eft"] = [
            _example(render_template(template, prompt=row["prompt"], response=row["response"]), row["judgment"])
            for row in read_rows(cfg.data.eft, EFT_FIELDS, may_be_blank={"response"})
            if row["prompt"] not in exclude
        ]
    return sources


def check_seed_data(cfg: Config, run: RunDir, ift_only: bool, record: bool) -> tuple[set[str], dict[str, int]]:
    """Seed prompts matching a held-out prompt: warned about, written to `seed_check.json` when `record`.

    Returns the prompts to leave out (only with `data.drop_contaminated`) and the `skipped` counts.
    """
    files = {"ift": cfg.ift_file} | ({"eft": cfg.data.eft} if cfg.data.eft and not ift_only else {})
    check = seed_check(cfg, files)
    if record:
        write_seed_check(check, run.root / SEED_CHECK_FILE)
    if not check.total():
        return set(), {}
    found = ", ".join(f"{c['exact'] + c['near']} of {c['rows']} {name.upper()}" for name, c in check.counts.items())
    action = "left out (data.drop_contaminated)" if check.dropped else "kept; data.drop_contaminated leaves them out"
    console.print(
        f"[yellow]sft: seed rows whose prompt matches a held-out prompt (exact or ROUGE-L >= "
        f"prompts.dedup_threshold): {found}; {action}[/yellow]"
    )
    if not check.dropped:
        return set(), {}
    return check.matched, {f"{name}_contaminated": c["exact"] + c["near"] for name, c in check.counts.items()}


def drop_too_long(
    sources: dict[str, list[dict[str, Any]]], tokenizer: Any, max_length: int, setting: str = "sft.max_length"
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Keep the examples that fit in ``max_length`` tokens; count the rest by source.

    The trainer would cut a longer example from the right, i.e. train on a prompt with its answer
    (or judgment) missing, which silently teaches the wrong thing. A whole source that does not
    fit is an error naming the longest example and the setting to change.
    """
    kept: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    for name, examples in sources.items():
        lengths = [
            len(tokenizer.apply_chat_template(ex["prompt"] + ex["completion"], tokenize=True, return_dict=False))
            for ex in examples
        ]
        fits = [ex for ex, n in zip(examples, lengths, strict=True) if n <= max_length]
        if examples and not fits:
            raise ConfigError(
                f"{setting.split('.')[0]}: no {name.upper()} example fits in {setting}={max_length} tokens "
                f"(shortest {min(lengths)}, longest {max(lengths)}); raise {setting} or shorten the "
                + ("judge template (judge.template)" if name == "eft" else "data")
            )
        if len(fits) < len(examples):
            skipped[f"{name}_too_long"] = len(examples) - len(fits)
            console.print(
                f"[yellow]{setting.split('.')[0]}: skipped {len(examples) - len(fits)} of {len(examples)} "
                f"{name.upper()} examples longer than {setting}={max_length} tokens (longest {max(lengths)})[/yellow]"
            )
        kept += fits
    return kept, skipped


def run(cfg: Config, run: RunDir, *, ift_only: bool = False) -> Path:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    out_dir = run.sft_baseline if ift_only else run.model(1)
    stage = "sft_baseline" if ift_only else "sft"
    if handed_to_launcher(cfg):  # train.launcher: accelerate
        return launch_stage(cfg, run, stage, out_dir)
    if already_done(out_dir, stage):
        return out_dir
    begin(stage)
    started = time.perf_counter()
    without_eft = ift_only or cfg.loop.ift_only
    exclude, contaminated = check_seed_data(cfg, run, without_eft, record=not ift_only)
    model, tokenizer = load_start(cfg, resolve_model_path(cfg.model.path))
    examples, skipped = drop_too_long(sft_examples(cfg, without_eft, exclude), tokenizer, cfg.sft.max_length)
    skipped |= contaminated
    args = SFTConfig(
        **common_args(
            cfg,
            out_dir,
            lr=cfg.sft.learning_rate,
            min_lr=cfg.sft.min_learning_rate,
            epochs=cfg.sft.epochs,
            batch=cfg.sft.batch_size,
            rows=len(examples),
        ),
        max_length=cfg.sft.max_length,
        packing=cfg.sft.packing,
        # Batches of similar lengths: IFT rows are a third as long as EFT rows, and padding
        # them to EFT length cost ~40 % of SFT time on the world.
        train_sampling_strategy="group_by_length",
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(examples),
        processing_class=tokenizer,
        peft_config=peft_config(cfg),
    )
    inputs = [Path(p) for p in (cfg.ift_file, cfg.data.eft) if p and not (without_eft and p == cfg.data.eft)]
    return promote(
        trainer,
        tokenizer,
        out_dir,
        stage=stage,
        config_hash=cfg.digest("model", "data", "sft", "judge"),
        inputs=inputs,
        rows=len(examples),
        started=started,
        skipped=skipped,
        cfg=cfg,
    )
