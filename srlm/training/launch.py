"""Run one training stage (SFT or DPO) under `accelerate launch`, from the run dir's stored config.

    train: {launcher: accelerate, accelerate_config: zero3-offload, num_processes: 8}

With `train.launcher: accelerate`, `sft.run` and `dpo.run` do not train in the calling process:
they start

    accelerate launch --config_file CONFIG [--num_processes N] -m srlm.training RUN_DIR STAGE [-t T]

wait for it, and raise `TrainingError` when it exits non-zero. Each launched process reads
RUN_DIR/config.yaml and runs the same stage in-process (TRL shards the data and synchronises
gradients); only the main process writes the model and its manifest, so a stage that died is
redone on the next `srlm run` exactly as an in-process one would be. The caller's process holds
no model while the stage runs, so every GPU is free for training.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

from srlm.config import Config, ConfigError, load_config
from srlm.console import begin, console, end, stage_log_file
from srlm.rundir import RunDir, is_done
from srlm.training.common import TrainingError, result_line

SHIPPED = ("zero2", "zero3", "zero3-offload", "fsdp", "cpu-2proc")
STAGES = ("sft", "sft_baseline", "dpo")


def handed_to_launcher(cfg: Config) -> bool:
    """True when a training stage should run under `accelerate launch` rather than here."""
    return cfg.train.launcher == "accelerate"


def accelerate_config_path(name: str) -> Path:
    """A config file path as given, or one of the shipped configs (srlm/configs/accelerate/NAME.yaml)."""
    if name in SHIPPED:
        return Path(str(resources.files("srlm") / "configs" / "accelerate" / f"{name}.yaml"))
    path = Path(name)
    if not path.is_file():
        raise ConfigError(f"train.accelerate_config: {name} is neither a file nor a shipped config {SHIPPED}")
    return path


def launch_command(cfg: Config, run_dir: Path, stage: str, iteration: int | None = None) -> list[str]:
    """The `accelerate launch` command line that runs one stage of RUN_DIR."""
    assert cfg.train.accelerate_config is not None  # the config validator guarantees it
    accelerate = shutil.which("accelerate") or str(Path(sys.executable).with_name("accelerate"))
    command = [accelerate, "launch", "--config_file", str(accelerate_config_path(cfg.train.accelerate_config))]
    if cfg.train.num_processes is not None:
        command += ["--num_processes", str(cfg.train.num_processes)]
    command += ["-m", "srlm.training", str(run_dir), stage]
    return command + (["--iteration", str(iteration)] if iteration is not None else [])


def check_stored_config(cfg: Config, run: RunDir) -> None:
    """The launched processes read RUN_DIR/config.yaml; it must be the config this stage was called with."""
    if not run.config_file.is_file():
        raise ConfigError(f"{run.config_file} not found: launched stages read the run's stored config")
    stored = load_config(run.config_file)
    if stored.digest() != cfg.digest():
        raise ConfigError(f"{run.config_file} differs from the config this stage was called with")


def launch_stage(cfg: Config, run: RunDir, stage: str, out_dir: Path, iteration: int | None = None) -> Path:
    """Run a stage under `accelerate launch` unless its model is already complete; return the model dir."""
    label = stage if iteration is None else f"iter{iteration} {stage}"
    if is_done(out_dir):
        console.print(f"[dim]{label}: done earlier, skipped[/dim]")
        return out_dir
    check_stored_config(cfg, run)
    command = launch_command(cfg, run.root, stage, iteration)
    begin(label, " ".join(command))
    output = stage_log_file()  # the launched processes' own output goes to the stage's log (shown with -v)
    with output.open("a", encoding="utf-8") if output else contextlib.nullcontext() as sink:
        returncode = subprocess.run(command, check=False, stdout=sink, stderr=subprocess.STDOUT if sink else None)
    if returncode.returncode != 0:
        where = f"its output is in {output}" if output else "its output is above"
        raise TrainingError(
            f"{label}: `accelerate launch` exited with status {returncode.returncode} ({where}); "
            f"{out_dir} not written; rerun to retry the stage"
        )
    if not is_done(out_dir):
        raise TrainingError(f"{label}: `accelerate launch` finished but {out_dir} is not complete")
    console.print(result_line(label, out_dir))
    end()
    return out_dir
