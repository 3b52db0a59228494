"""`srlm plan CONFIG`: what one iteration costs, in tokens and GPU-hours, before anything runs.

    srlm plan srlm/configs/paper-llama2-70b.yaml [--set prompts.n=5000] [--json]

Token counts follow from the config (prompts.n, candidates.n, judge.samples, max_new_tokens)
and from the data: rows are counted in the IFT/EFT files and their tokens with the model's
tokenizer when it loads offline, else estimated as words x 1.3 (and the output says so).
Every count is an upper bound where generation may stop early (max_new_tokens) or pairs are
dropped (ties). GPU-hours use the throughputs in THROUGHPUTS, whose sources and assumptions
are written in docs/scaling.md; they are planning figures, not measurements of srlm.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from srlm.config import Config

WORDS_TO_TOKENS = 1.3  # rough English ratio for BPE tokenizers, used only without a tokenizer


@dataclass(frozen=True)
class Throughput:
    """Planning throughputs for one model size on H100 80 GB (see docs/scaling.md for each figure)."""

    generation_tokens_per_s: float  # generated tokens/s of one vLLM server
    gpus_per_server: int  # tensor-parallel size of that server
    training_tokens_per_s_per_gpu: float  # trained tokens/s per GPU, accelerate + DeepSpeed ZeRO-3


THROUGHPUTS = {
    "7B": Throughput(generation_tokens_per_s=12_500, gpus_per_server=1, training_tokens_per_s_per_gpu=9_400),
    "70B": Throughput(generation_tokens_per_s=3_000, gpus_per_server=4, training_tokens_per_s_per_gpu=700),
}


@dataclass(frozen=True)
class DataCounts:
    """What the estimate needs from the data, and how each figure was obtained."""

    sft_rows: int  # IFT (+ EFT) examples
    sft_tokens_per_row: float  # mean prompt + answer tokens of an SFT example
    prompt_tokens: float  # mean tokens of a prompt (IFT prompts stand in for generated ones)
    judge_template_tokens: float  # the judge prompt without the prompt and answer filled in
    basis: str  # "tokenizer: DIR" or "estimate: words x 1.3"


def estimate(cfg: Config, data: DataCounts) -> dict[str, Any]:
    """Token counts of one iteration (and of SFT, once) and GPU-hours per model size."""
    n_prompts = cfg.prompts.n
    prompt_generation = n_prompts * cfg.prompts.max_new_tokens if cfg.prompts.source == "self_instruct" else 0
    n_candidates = n_prompts * cfg.candidates.n
    candidate_tokens = n_candidates * cfg.candidates.max_new_tokens
    judge_prompt_tokens = data.judge_template_tokens + data.prompt_tokens + cfg.candidates.max_new_tokens
    judge_tokens = n_candidates * cfg.judge.samples * (judge_prompt_tokens + cfg.judge.max_new_tokens)
    judge_generated = n_candidates * cfg.judge.samples * cfg.judge.max_new_tokens
    generated = prompt_generation + candidate_tokens + judge_generated
    pairs = n_prompts  # at most one (best, worst) pair per prompt
    dpo_tokens = pairs * cfg.dpo.epochs * 2 * (data.prompt_tokens + cfg.candidates.max_new_tokens)
    reference_tokens = pairs * 2 * (data.prompt_tokens + cfg.candidates.max_new_tokens)  # one forward pass
    sft_tokens = data.sft_rows * cfg.sft.epochs * data.sft_tokens_per_row
    # A forward pass is ~1/3 of a training step's FLOPs (2N of 6N per token).
    iteration_training = dpo_tokens + reference_tokens / 3
    gpu_hours = {
        size: {
            "generation": generated / rate.generation_tokens_per_s * rate.gpus_per_server / 3600,
            "dpo": iteration_training / rate.training_tokens_per_s_per_gpu / 3600,
            "sft_once": sft_tokens / rate.training_tokens_per_s_per_gpu / 3600,
        }
        for size, rate in THROUGHPUTS.items()
    }
    for hours in gpu_hours.values():
        hours["iteration"] = hours["generation"] + hours["dpo"]
    return {
        "tokens": {
            "prompt_generation": prompt_generation,
            "candidates": candidate_tokens,
            "judge_total": judge_tokens,
            "judge_generated": judge_generated,
            "generated_total": generated,
            "dpo_training": dpo_tokens,
            "dpo_reference": reference_tokens,
            "sft_training": sft_tokens,
        },
        "counts": {"prompts": n_prompts, "candidates": n_candidates, "max_pairs": pairs, "sft_rows": data.sft_rows},
        "data": asdict(data),
        "gpu_hours": gpu_hours,
        "throughputs": {size: asdict(rate) for size, rate in THROUGHPUTS.items()},
    }


def _token_counter(cfg: Config) -> tuple[Any, str]:
    """Count tokens with the model's tokenizer when it loads without the network, else words x 1.3."""
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(cfg.model.path, local_files_only=True)
    except Exception:  # whatever keeps it from loading offline, the estimate below applies
        return (lambda text: len(text.split()) * WORDS_TO_TOKENS), "estimate: words x 1.3 (tokenizer not loadable)"
    return (lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])), f"tokenizer: {cfg.model.path}"


def _rows(path: str | None) -> list[dict[str, Any]]:
    if not path or not Path(path).is_file():
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def measure(cfg: Config) -> DataCounts:
    """Rows and mean token lengths from the config's data files (the paper's sizes when absent)."""
    from srlm.method.judging import load_template

    count, basis = _token_counter(cfg)
    ift, eft = _rows(cfg.data.ift), [] if cfg.loop.ift_only else _rows(cfg.data.eft)
    template = load_template(cfg.judge.template)
    template_tokens = count(template.replace("{prompt}", "").replace("{response}", ""))
    if not ift:
        # Without data: the paper's seed sizes and answers as long as candidates.max_new_tokens.
        rows = 3_200 + (0 if cfg.loop.ift_only else 1_630)
        prompt_tokens = float(cfg.prompts.max_new_tokens)
        return DataCounts(
            sft_rows=rows,
            sft_tokens_per_row=prompt_tokens + cfg.candidates.max_new_tokens,
            prompt_tokens=prompt_tokens,
            judge_template_tokens=template_tokens,
            basis=basis + "; data files not found: paper sizes (3,200 IFT + 1,630 EFT), prompts of "
            "prompts.max_new_tokens and answers of candidates.max_new_tokens tokens",
        )
    prompt_tokens = sum(count(r["prompt"]) for r in ift) / len(ift)
    sft_lengths = [count(r["prompt"]) + count(r["response"]) for r in ift]
    sft_lengths += [template_tokens + count(r["prompt"]) + count(r["response"]) + count(r["judgment"]) for r in eft]
    return DataCounts(
        sft_rows=len(sft_lengths),
        sft_tokens_per_row=sum(sft_lengths) / len(sft_lengths),
        prompt_tokens=prompt_tokens,
        judge_template_tokens=template_tokens,
        basis=basis,
    )


def print_plan(plan: dict[str, Any]) -> None:
    """Rich tables: tokens per iteration, then GPU-hours per model size."""
    from rich.table import Table

    from srlm.console import console

    tokens = Table(title="tokens per iteration (upper bounds)")
    tokens.add_column("what")
    tokens.add_column("tokens", justify="right")
    for name, value in plan["tokens"].items():
        tokens.add_row(name.replace("_", " "), f"{value:,.0f}")
    console.print(tokens)
    console.print(f"counts: {plan['counts']}")
    console.print(f"token counts from {plan['data']['basis']}")
    hours = Table(title="GPU-hours on H100 80 GB (planning throughputs, docs/scaling.md)")
    for column in ("model", "generation", "DPO", "iteration", "SFT (once)"):
        hours.add_column(column, justify="right")
    for size, row in plan["gpu_hours"].items():
        cells = (row["generation"], row["dpo"], row["iteration"], row["sft_once"])
        hours.add_row(size, *(f"{value:,.1f}" for value in cells))
    console.print(hours)
