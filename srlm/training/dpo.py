"""DPO: M(t+1) = DPO(M(t), pairs of iteration t) with TRL's DPOTrainer.

    srlm dpo RUN_DIR --iteration t

Reference = M(t), the model training starts from (the paper's choice); its log-probs are
computed once before training (`precompute_ref_log_probs`), not at every step.

Variants: `loop.meta_judge` adds the judge-preference pairs (`meta_pairs.jsonl`) to the answer
pairs, so judging is trained too, `loop.eft_replay` the seed-judgment pairs (`eft_pairs.jsonl`) and
`loop.verdict_pairs` the flipped-verdict pairs (`verdict_pairs.jsonl`);
`dpo.consistency` (iteration >= 2) trains CREAM's C·DPO(y+, y-) + (1 - C)·DPO(y-, y+) with C from
`consistency.jsonl`, expressed with TRL's own losses (`srlm/method/consistency.py`);
`dpo.nll_weight` adds an NLL term on the chosen answer (IRPO's DPO+NLL, TRL's `sft` loss type) to
either; `dpo.method: sft_best` trains SFT on each pair's chosen answer
instead (the paper's ablation), with the same learning rate, schedule, epochs and batch size,
so only the objective differs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from srlm.config import Config, ConfigError
from srlm.console import begin, console
from srlm.data.io import read_rows
from srlm.method.consistency import consistency_weight, cream_dpo_args
from srlm.rundir import RunDir, is_done
from srlm.stages.common import already_done
from srlm.training.common import common_args, load_start, peft_config, promote, shared_dataset
from srlm.training.launch import handed_to_launcher, launch_stage
from srlm.training.select import final_dir, saving_args, select_checkpoint
from srlm.training.sft import drop_too_long

PAIR_FIELDS = {"prompt": str, "chosen": str, "rejected": str}
ANSWERS = {"chosen", "rejected"}  # an empty answer is a real candidate (often the rejected one), not a bad row


def _conversation(prompt: str, **answers: str) -> dict[str, Any]:
    return {"prompt": [{"role": "user", "content": prompt}]} | {
        key: [{"role": "assistant", "content": text}] for key, text in answers.items()
    }


def _cut_sides(row: dict[str, Any]) -> dict[str, bool]:
    """Which answers of a pair row stopped at the token limit (`pairs.drop_truncated: false` keeps them)."""
    return {f"{side}_truncated": bool(row.get(f"{side}_truncated", False)) for side in ANSWERS}


def drop_too_long_pairs(
    examples: list[dict[str, Any]], tokenizer: Any, max_length: int
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Keep the pairs whose prompt + chosen and prompt + rejected both fit in `dpo.max_length` tokens.

    TRL would cut a longer sequence from the right: the end of the answer and its end of turn go,
    and a cut-off answer is trained as if it were finished. Dropped pairs are counted and warned
    about; when no pair fits, the error names the setting.
    """

    def tokens(example: dict[str, Any], side: str) -> int:
        conversation = example["prompt"] + example[side]
        return len(tokenizer.apply_chat_template(conversation, tokenize=True, return_dict=False))

    lengths = [max(tokens(example, "chosen"), tokens(example, "rejected")) for example in examples]
    kept = [example for example, n in zip(examples, lengths, strict=True) if n <= max_length]
    if examples and not kept:
        raise ConfigError(
            f"dpo: no preference pair fits in dpo.max_length={max_length} tokens (shortest {min(lengths)}, "
            f"longest {max(lengths)}); raise dpo.max_length"
        )
    if len(kept) == len(examples):
        return kept, {}
    console.print(
        f"[yellow]dpo: skipped {len(examples) - len(kept)} of {len(examples)} pairs longer than "
        f"dpo.max_length={max_length} tokens (longest {max(lengths)})[/yellow]"
    )
    return kept, {"pairs_too_long": len(examples) - len(kept)}


def pair_length(example: dict[str, Any]) -> dict[str, int]:
    """A tokenized pair's length for length-grouped batches: its prompt and longer side, what the batch pads to."""
    return {"length": len(example["prompt_ids"]) + max(len(example["chosen_ids"]), len(example["rejected_ids"]))}


def dpo_trainer_class(open_ended: bool, grouped: bool = False) -> Any:
    """TRL's DPOTrainer, with what srlm's rows need.

    `open_ended`: an answer marked cut off is trained without an end of turn. The chat template
    closes every assistant message (end of turn / eos). For an answer that stopped at the token
    limit that would teach the model that the cut-off text is a finished answer, so the tokens of
    a side marked `<side>_truncated` are re-rendered with transformers' `continue_final_message`
    (the message left open) before the reference log-probs are computed.

    `grouped` (`dpo.group_by_length`): transformers' LengthGroupedSampler reads each pair's length
    from a `length` column, which TRL's tokenized pairs lack; it is added after tokenization and
    kept among the columns the trainer passes on (TRL's collator ignores it).
    """
    from trl import DPOTrainer

    if not open_ended and not grouped:
        return DPOTrainer
    flags = [f"{side}_truncated" for side in sorted(ANSWERS)]

    class SrlmDPOTrainer(DPOTrainer):
        def _set_signature_columns_if_needed(self) -> None:
            super()._set_signature_columns_if_needed()
            columns: list[str] = list(self._signature_columns or [])
            if grouped and "length" not in columns:
                self._signature_columns = [*columns, "length"]  # type: ignore[assignment]  # TRL declares it None

        def _prepare_dataset(self, dataset: Any, processing_class: Any, args: Any, dataset_name: str) -> Any:
            dataset = super()._prepare_dataset(dataset, processing_class, args, dataset_name)
            if open_ended:
                dataset = dataset.map(_open_ended(processing_class), remove_columns=flags)
            return dataset.map(pair_length) if grouped else dataset

    return SrlmDPOTrainer


def _open_ended(processing_class: Any) -> Any:
    def open_ended(example: dict[str, Any]) -> dict[str, Any]:
        for side in ANSWERS:
            if example[f"{side}_truncated"]:
                ids = processing_class.apply_chat_template(
                    example["prompt"] + example[side],
                    continue_final_message=True,
                    tokenize=True,
                    return_dict=False,
                )
                example[f"{side}_ids"] = ids[len(example["prompt_ids"]) :]
        return example

    return open_ended


def _train_args(cfg: Config, out_dir: Path, rows: int) -> dict[str, Any]:
    return common_args(
        cfg,
        out_dir,
        lr=cfg.dpo.learning_rate,
        min_lr=cfg.dpo.min_learning_rate,
        epochs=cfg.dpo.epochs,
        batch=cfg.dpo.batch_size,
        rows=rows,
        warmup=cfg.dpo.warmup_ratio,
    )


def consistency_args(cfg: Config, run: RunDir, t: int) -> dict[str, Any]:
    """DPOConfig loss fields for CREAM (empty: plain DPO, also in iteration 1)."""
    if not cfg.dpo.consistency or t < 2:
        return {}
    rows = read_rows(run.artifact(t, "consistency"), {"kendall_tau": float})
    weight = consistency_weight(row["kendall_tau"] for row in rows)
    console.print(f"iter{t} dpo: consistency C = {weight:.3f}, trained as C·DPO(y+,y-) + (1-C)·DPO(y-,y+)")
    return cream_dpo_args(weight)


def loss_args(cfg: Config, run: RunDir, t: int) -> dict[str, Any]:
    """DPOConfig loss fields: plain DPO, CREAM's pair of losses, plus `dpo.nll_weight` x NLL of the chosen answer."""
    args = consistency_args(cfg, run, t)
    if cfg.dpo.nll_weight > 0:
        types, weights = args.get("loss_type", ["sigmoid"]), args.get("loss_weights", [1.0])
        args |= {"loss_type": [*types, "sft"], "loss_weights": [*weights, cfg.dpo.nll_weight]}
    return args


def sft_best(cfg: Config, run: RunDir, t: int) -> Path:
    """M(t+1) = SFT(M(t), each pair's chosen answer): the paper's SFT-instead-of-DPO ablation."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    out_dir, label = run.model(t + 1), f"iter{t} sft_best"
    if already_done(out_dir, label):
        return out_dir
    begin(label)
    started = time.perf_counter()
    pairs_file = run.artifact(t, "pairs")
    rows = read_rows(pairs_file, PAIR_FIELDS, may_be_blank=ANSWERS)
    # A chosen answer cut off at the token limit (pairs.drop_truncated: false) is not trained as a finished one.
    complete = [row for row in rows if not _cut_sides(row)["chosen_truncated"]]
    examples = [_conversation(row["prompt"], completion=row["chosen"]) for row in complete]
    model, tokenizer = load_start(cfg, str(run.model(t)))
    examples, skipped = drop_too_long({"pairs": examples}, tokenizer, cfg.dpo.max_length, setting="dpo.max_length")
    if len(complete) < len(rows):
        skipped["chosen_truncated"] = len(rows) - len(complete)
    args = SFTConfig(**_train_args(cfg, out_dir, len(examples)), max_length=cfg.dpo.max_length)
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
        rows=len(examples),
        started=started,
        skipped=skipped,
        cfg=cfg,
        interpolate_from=(run.model(t), cfg.dpo.interpolation),
    )


def run(cfg: Config, run: RunDir, t: int) -> Path:
    from trl import DPOConfig

    if handed_to_launcher(cfg):  # train.launcher: accelerate
        return launch_stage(cfg, run, "dpo", run.model(t + 1), t)
    if cfg.dpo.method == "sft_best":
        return sft_best(cfg, run, t)
    out_dir = run.model(t + 1)
    if already_done(out_dir, f"iter{t} dpo"):
        return out_dir
    begin(f"iter{t} dpo")
    if cfg.dpo.select is not None and is_done(final_dir(run, t)):  # trained earlier: only the choice is left
        return select_checkpoint(cfg, run, t)
    started = time.perf_counter()
    inputs = [run.artifact(t, "pairs")] + ([run.artifact(t, "meta_pairs")] if cfg.loop.meta_judge else [])
    inputs += [run.artifact(t, "eft_pairs")] if cfg.loop.eft_replay else []
    inputs += [run.artifact(t, "verdict_pairs")] if cfg.loop.trains_verdict_pairs(t) else []
    rows = [row for path in inputs for row in read_rows(path, PAIR_FIELDS, may_be_blank=ANSWERS)]
    if cfg.dpo.consistency and t >= 2:
        inputs.append(run.artifact(t, "consistency"))
    model, tokenizer = load_start(cfg, str(run.model(t)))
    open_ended = not cfg.pairs.drop_truncated  # pairs may hold answers cut off at the token limit
    examples = [
        _conversation(row["prompt"], chosen=row["chosen"], rejected=row["rejected"])
        | (_cut_sides(row) if open_ended else {})
        for row in rows
    ]
    examples, skipped = drop_too_long_pairs(examples, tokenizer, cfg.dpo.max_length)
    args = DPOConfig(
        **(_train_args(cfg, out_dir, len(examples)) | saving_args(cfg, run, t, len(examples))),
        beta=cfg.dpo.beta,
        max_length=cfg.dpo.max_length,
        precompute_ref_log_probs=True,
        train_sampling_strategy="group_by_length" if cfg.dpo.group_by_length else "random",
        **loss_args(cfg, run, t),
    )
    dataset = shared_dataset(examples, args)
    trainer = dpo_trainer_class(open_ended, cfg.dpo.group_by_length)(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config(cfg),
    )
    trained = promote(
        trainer,
        tokenizer,
        out_dir if cfg.dpo.select is None else final_dir(run, t),  # dpo.select: the last step is one candidate
        stage=f"iter{t} dpo",
        config_hash=cfg.digest("model", "dpo"),
        inputs=[*inputs, run.model(t)],
        rows=len(examples),
        started=started,
        skipped=skipped,
        cfg=cfg,
        interpolate_from=(run.model(t), cfg.dpo.interpolation),
    )
    return trained if cfg.dpo.select is None else select_checkpoint(cfg, run, t)
