"""Entry of each process `accelerate launch` starts: `python -m srlm.training RUN_DIR STAGE [-t T]`.

Reads RUN_DIR/config.yaml and runs that one training stage in-process (see srlm/training/launch.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from srlm.config import load_config
from srlm.rundir import RunDir
from srlm.training import dpo, sft
from srlm.training.launch import STAGES


def main(argv: list[str] | None = None) -> None:
    """Entry of each launched process: one stage, in-process, from RUN_DIR/config.yaml."""
    parser = argparse.ArgumentParser(prog="python -m srlm.training", description=main.__doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--iteration", "-t", type=int, default=1)
    args = parser.parse_args(argv)
    cfg = load_config(args.run_dir / "config.yaml")
    cfg.train.launcher = "inprocess"  # this process is the launched one
    run = RunDir(args.run_dir)
    if args.stage == "dpo":
        dpo.run(cfg, run, args.iteration)
    else:
        sft.run(cfg, run, ift_only=args.stage == "sft_baseline")


if __name__ == "__main__":
    main()
