"""What SFT and DPO share: loading the start model, LoRA, trainer arguments, promoting the result.

Both stages are thin callers of TRL. With LoRA the adapters are merged into the saved model
after each stage, so every `m<t>/` is a plain model dir: the next iteration starts a fresh
adapter on it and uses it, merged, as the DPO reference (the paper's "reference = M_t").

Under `accelerate launch` (`train.launcher: accelerate`, see srlm/training/launch.py) every process runs
the same code; `sft.batch_size` / `dpo.batch_size` stay the global batch (the paper's 16), split
over processes and `train.gradient_accumulation_steps`, and only the main process writes the
model and its manifest. `SRLM_TRAIN_DUMP=DIR` makes each process write what it trained on
(`rank<i>.json`: example keys, losses, weight hash), which the multi-process test reads.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

from srlm.config import Config, ConfigError
from srlm.console import Bar, console, end, log
from srlm.models.card import write_card
from srlm.models.loading import check_vocab, default_device, load_model, load_tokenizer, save_atomically
from srlm.rundir import read_manifest, write_manifest
from srlm.training.interpolate import interpolate_dir


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


def per_device_batch(cfg: Config, batch: int) -> int:
    """The global batch split over processes (WORLD_SIZE, set by accelerate) and accumulation steps."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    split = world * cfg.train.gradient_accumulation_steps
    if batch % split:
        raise ConfigError(
            f"batch size {batch} does not split over {world} processes x "
            f"{cfg.train.gradient_accumulation_steps} accumulation steps; make it a multiple of {split}"
        )
    return batch // split


def common_args(
    cfg: Config,
    out_dir: Path,
    *,
    lr: float,
    min_lr: float,
    epochs: float,
    batch: int,
    rows: int,
    warmup: float = 0.0,
) -> dict[str, Any]:
    """TrainingArguments fields shared by SFTConfig and DPOConfig (`batch` is the global batch)."""
    steps = math.ceil(rows / batch) * epochs
    return {
        "output_dir": str(out_dir.with_name(out_dir.name + ".trainer")),
        "learning_rate": lr,
        "lr_scheduler_type": "cosine_with_min_lr",
        "lr_scheduler_kwargs": {"min_lr": min_lr},
        "warmup_steps": warmup,  # a float below 1 is a share of the steps
        "num_train_epochs": epochs,
        "per_device_train_batch_size": per_device_batch(cfg, batch),
        "gradient_accumulation_steps": cfg.train.gradient_accumulation_steps,
        "save_strategy": "no",
        "report_to": cfg.train.report_to or "none",  # trackers get the steps; srlm's console and logs/ always do
        "run_name": f"{Path(cfg.loop.run_dir).name}/{out_dir.name}",
        "project": cfg.train.project,
        "logging_steps": max(1, int(steps // 20)),
        "seed": cfg.loop.seed,
        "data_seed": cfg.loop.seed,
        "activation_checkpointing": cfg.model.gradient_checkpointing,
        "bf16": cfg.model.dtype == "bfloat16",
        "fp16": cfg.model.dtype == "float16",
        # On CPU, several launched processes then join a gloo group instead of each training alone.
        "use_cpu": default_device(cfg.backend.device) == "cpu",
    }


def shared_dataset(rows: list[dict[str, Any]], args: Any) -> Any:
    """The training rows as a Dataset; with several processes, one every process reads from the same files.

    TRL's main process writes the precomputed reference log-probs beside the dataset's cache files
    and the other processes read them from there; an in-memory Dataset has a private temporary
    cache per process, so they would look in the wrong place. (Multi-node: put the run dir on a
    shared filesystem.)
    """
    from datasets import Dataset, load_from_disk

    if args.world_size == 1:
        return Dataset.from_list(rows)
    path = Path(args.output_dir) / "train_dataset"
    with args.main_process_first(local=False, desc="training rows"):
        if args.process_index == 0:
            shutil.rmtree(path, ignore_errors=True)
            Dataset.from_list(rows).save_to_disk(str(path))
        return load_from_disk(str(path))


def losses(trainer: Any) -> list[float]:
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


DIAGNOSTICS = (
    "rewards/margins",
    "rewards/accuracies",
    "rewards/chosen",
    "rewards/rejected",
    "logps/chosen",
    "logps/rejected",
)


def diagnostics(log_history: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """First and last logged value of each DPO diagnostic TRL logs (margins, accuracies, log-probs).

    >>> diagnostics([{"loss": 0.69, "rewards/margins": 0.0}, {"loss": 0.5, "rewards/margins": 0.8}])
    {'rewards/margins': {'first': 0.0, 'last': 0.8}}
    """
    out = {}
    for key in DIAGNOSTICS:
        values = [float(entry[key]) for entry in log_history if key in entry and "loss" in entry]
        if values:
            out[key] = {"first": values[0], "last": values[-1]}
    return out


def stage_progress(label: str) -> Any:
    """A TrainerCallback in place of transformers' own bar and printed dicts: srlm's progress bar of the
    optimizer steps (rate, ETA, last loss), and every logged dict in the stage's log file."""
    from transformers import TrainerCallback

    class StageProgress(TrainerCallback):
        bar: Bar | None = None

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.is_local_process_zero:
                self.bar = Bar(label, state.max_steps, "steps")

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.bar is not None:
                self.bar.advance(1)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if not state.is_local_process_zero or not logs:
                return
            log.info("%s step %d/%d: %s", label, state.global_step, state.max_steps, json.dumps(logs))
            if self.bar is not None and isinstance(logs.get("loss"), int | float):
                self.bar.note(f"loss {logs['loss']:.3f}")

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return StageProgress()


def quiet_trainer(trainer: Any, label: str) -> None:
    """The trainer reports through srlm's console and logs, not its own tqdm bar or printed dicts.

    TensorBoard (`train.report_to`) writes to `<run_dir>/tensorboard/<model>/`, beside the loop's own
    numbers, instead of into the trainer's scratch dir, which is removed after training.
    """
    from transformers.integrations import TensorBoardCallback
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(stage_progress(label))
    scratch = Path(trainer.args.output_dir)
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, TensorBoardCallback) and callback.logging_dir is None:
            callback.logging_dir = str(scratch.parent / "tensorboard" / scratch.name.removesuffix(".trainer"))


def result_line(stage: str, out_dir: Path) -> str:
    """A training stage's result line, from its model's manifest: examples, loss first -> last, reward margin."""
    manifest = read_manifest(out_dir) or {}
    margin = (manifest.get("diagnostics") or {}).get("rewards/margins")
    extra = f", reward margin {margin['first']:.2f} -> {margin['last']:.2f}" if margin else ""
    if manifest.get("interpolation"):
        extra += f", interpolated toward the start at w = {manifest['interpolation']['weight']:g}"
    loss = f"loss {manifest.get('first_loss', math.nan):.3f} -> {manifest.get('last_loss', math.nan):.3f}"
    seconds = manifest.get("seconds", math.nan)
    return f"{stage}: {manifest.get('rows', '?')} examples, {loss}{extra} ({seconds:.1f} s) -> {out_dir}"


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
    cfg: Config | None = None,
    interpolate_from: tuple[Path, float] | None = None,
) -> Path:
    """Train, check the loss, merge LoRA, save atomically, write the manifest and, given `cfg`, the
    model card (main process only). `interpolate_from` = (start model dir, w < 1): the saved weights
    move back toward the start's (`dpo.interpolation`) before the manifest marks the model done."""
    dump_dir = os.environ.get("SRLM_TRAIN_DUMP")
    quiet_trainer(trainer, stage)
    seen = record_examples(trainer) if dump_dir else []
    result = trainer.train()
    history = losses(trainer)
    if not history or not all(math.isfinite(x) for x in [*history, result.training_loss]):
        raise TrainingError(f"{stage}: the training loss was not finite ({history[-5:]}); {out_dir} not written")
    if dump_dir:
        write_dump(Path(dump_dir), trainer, seen, history)
    save_trained(trainer, tokenizer, out_dir)
    if not trainer.accelerator.is_main_process:
        return out_dir
    shutil.rmtree(out_dir.with_name(out_dir.name + ".trainer"), ignore_errors=True)
    extra: dict[str, Any] = {}
    if interpolate_from is not None and interpolate_from[1] < 1:
        start, weight = interpolate_from
        moved = interpolate_dir(start, out_dir, weight)
        extra["interpolation"] = {"start": str(start), "weight": weight, "tensors": moved}
    seconds = round(time.perf_counter() - started, 2)
    found = diagnostics(trainer.state.log_history)
    write_manifest(
        out_dir,
        stage=stage,
        config_hash=config_hash,
        inputs=inputs,
        rows=rows,
        seconds=seconds,
        first_loss=history[0],
        last_loss=history[-1],
        diagnostics=found,
        skipped=skipped or {},
        **extra,
    )
    if cfg is not None:
        write_card(cfg, out_dir)
    console.print(result_line(stage, out_dir))
    end()
    return out_dir


def save_trained(trainer: Any, tokenizer: Any, out_dir: Path) -> None:
    """Write the trained model as a plain HF model dir (LoRA merged); only the main process writes."""
    accelerator = trainer.accelerator
    if accelerator.num_processes == 1 and not (trainer.is_deepspeed_enabled or trainer.is_fsdp_enabled):
        model = trainer.model
        if hasattr(model, "merge_and_unload"):
            model = model.merge_and_unload()
        save_atomically(model, tokenizer, out_dir)
        return
    # ZeRO-3 and FSDP shard the weights: save_model gathers them, so every process must call it.
    staged = out_dir.with_name(out_dir.name + ".gathered")
    trainer.save_model(str(staged))
    if accelerator.is_main_process:
        if (staged / "adapter_config.json").is_file():
            from peft import AutoPeftModelForCausalLM

            dtype = accelerator.unwrap_model(trainer.model).dtype
            model = AutoPeftModelForCausalLM.from_pretrained(staged, dtype=dtype).merge_and_unload()
        else:
            from transformers import AutoModelForCausalLM

            model = AutoModelForCausalLM.from_pretrained(staged, dtype="auto")
        save_atomically(model, tokenizer, out_dir)
        shutil.rmtree(staged, ignore_errors=True)
    accelerator.wait_for_everyone()


def record_examples(trainer: Any) -> list[str]:
    """Keys of the examples this process trains on, collected as its batches are collated."""
    seen: list[str] = []
    collate = trainer.data_collator

    def recording(examples: list[dict[str, Any]]) -> Any:
        for example in examples:
            ids = example["prompt_ids"] if "prompt_ids" in example else example["input_ids"]
            seen.append(hashlib.sha256(json.dumps(list(ids)).encode()).hexdigest()[:16])
        return collate(examples)

    trainer.data_collator = recording
    return seen


def weights_hash(model: Any) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def write_dump(dump_dir: Path, trainer: Any, seen: list[str], history: list[float]) -> None:
    """Per-process record for multi-process checks: examples seen, losses, weight hash."""
    accelerator = trainer.accelerator
    record = {
        "rank": accelerator.process_index,
        "world_size": accelerator.num_processes,
        "examples": seen,
        "losses": history,
        "weights_sha256": weights_hash(accelerator.unwrap_model(trainer.model)),
    }
    dump_dir.mkdir(parents=True, exist_ok=True)
    (dump_dir / f"rank{accelerator.process_index}.json").write_text(json.dumps(record), encoding="utf-8")
