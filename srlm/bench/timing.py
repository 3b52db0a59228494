"""Timing primitives of `srlm bench`: how much work each section does, interleaved rounds, ratios."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from statistics import median
from typing import Any


@dataclass(frozen=True)
class BenchSizes:
    """How much work each section does (`--quick`: a CI-sized run)."""

    prompts: int  # generation workload: prompts × N candidates, then × N answers × k judge samples
    naive_prompts: int  # the naive path runs on the first few prompts only; its cost per sequence is fixed
    scaling: tuple[int, ...]  # prompt counts for the scaling curve
    sweep_prompts: int  # fixed prompt count of the N and k sweeps
    sweep_n: tuple[int, ...]  # candidates per prompt (N) for the N sweep, k = judge.samples
    sweep_k: tuple[int, ...]  # judge samples per candidate (k) for the k sweep, N = candidates.n
    train_pairs: int  # preference pairs (DPO) = chosen answers (SFT) per training run
    repeats: int = 3


# 21 prompts × 4 answers × 3 judge samples = 252 rows: one full engine batch (default batch_size 256).
FULL = BenchSizes(
    prompts=21,
    naive_prompts=2,
    scaling=(4, 8, 16, 32),
    sweep_prompts=8,
    sweep_n=(1, 2, 4, 8),
    sweep_k=(1, 2, 3, 6),
    train_pairs=64,
)
QUICK = BenchSizes(
    prompts=4,
    naive_prompts=1,
    scaling=(1, 2, 3, 4),
    sweep_prompts=2,
    sweep_n=(1, 2, 3, 4),
    sweep_k=(1, 2, 3, 4),
    train_pairs=32,
)


def measure(
    paths: dict[str, Callable[[], Any]], repeats: int, amount: Callable[[Any], int] = len
) -> dict[str, dict[str, Any]]:
    """Warm each path up, then time `repeats` interleaved rounds; `amount(result)` (uncounted time) is its work."""
    for run in paths.values():
        run()
    runs: dict[str, list[float]] = {name: [] for name in paths}
    work: dict[str, int] = {}
    for _ in range(repeats):
        for name, run in paths.items():
            started = time.perf_counter()
            result = run()
            runs[name].append(time.perf_counter() - started)
            work[name] = amount(result)
    return {
        name: {"seconds": median(seconds), "runs": [round(s, 4) for s in seconds], "new_tokens": work[name]}
        for name, seconds in runs.items()
    }


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3) if denominator > 0 else float("nan")


def line_fit(xs: list[int], ys: list[float]) -> dict[str, float]:
    """Least-squares line `ys ≈ slope · xs + intercept` and its R² (nan when every y is the same)."""
    from scipy.stats import linregress

    fit = linregress(xs, ys)
    r2 = float(fit.rvalue) ** 2 if len(set(ys)) > 1 else float("nan")
    return {"slope": round(float(fit.slope), 4), "intercept": round(float(fit.intercept), 4), "r2": round(r2, 4)}
