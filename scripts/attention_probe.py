"""Eager against SDPA attention for judge generation: seconds and whether the texts match.

    python scripts/attention_probe.py runs/default/m1 runs/default/iter2/verdict_pairs.jsonl --prompts 256

Judges the first `--prompts` judge prompts of a JSONL file (any rows with a `prompt` field; a
run's `verdict_pairs.jsonl` has the EFT judge prompts) k = 3 times each with srlm's HFEngine and
the default config's sampling, once per kernel, alternated `--rounds` times in one process (the
setting `backend.attn_implementation`). Prints each round's seconds and how many texts of the
two kernels are the same.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from srlm.backends.base import GenItem, SamplingParams, user
from srlm.backends.hf import HFEngine
from srlm.config import load_config

DEFAULT = Path(__file__).resolve().parents[1] / "srlm" / "configs" / "default.yaml"


def main(
    model: Path,
    prompts_file: Path,
    prompts: Annotated[int, typer.Option(help="judge prompts, each judged k = 3 times")] = 256,
    rounds: Annotated[int, typer.Option(help="alternations of the two kernels")] = 2,
    threads: Annotated[int, typer.Option(help="torch threads")] = 1,
) -> None:
    import torch

    torch.set_num_threads(threads)
    cfg = load_config(DEFAULT)
    lines = prompts_file.read_text(encoding="utf-8").splitlines()[:prompts]
    texts = [json.loads(line)["prompt"] for line in lines]
    items = [GenItem(f"p{i}-{k}", user(text), 1000 + 3 * i + k) for i, text in enumerate(texts) for k in range(3)]
    params = SamplingParams(cfg.judge.temperature, cfg.judge.top_p, cfg.judge.max_new_tokens)
    engine = HFEngine(str(model), cfg.model, cfg.backend)
    written: dict[str, list[str]] = {}
    for _ in range(rounds):
        for kernel in ("sdpa", "eager"):
            engine.model.set_attn_implementation(kernel)
            started = time.perf_counter()
            out = [text for batch in engine.plan_batches(items) for text in engine.generate_batch(batch, params)]
            print(f"{kernel}: {time.perf_counter() - started:.1f} s for {len(items)} judgments")
            written[kernel] = out
    same = sum(a == b for a, b in zip(written["sdpa"], written["eager"], strict=True))
    print(f"the same text from both kernels: {same} of {len(items)}")


if __name__ == "__main__":
    typer.run(main)
