"""`srlm bench --quick` on the world's tiny model: every ratio is measured and written (never timed)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

RATIOS = {
    "generation_engine_vs_naive",
    "generation_engine_vs_batched",
    "candidates_engine_vs_naive",
    "candidates_engine_vs_batched",
    "judge_engine_vs_naive",
    "judge_engine_vs_batched",
    "judge_shared_prefill_vs_separate",
    "candidates_shared_prefill_vs_separate",
    "generation_kernel_vs_other",
    "dpo_vs_sft_seconds_per_token",
    "scaling_seconds_per_prompt_largest_vs_smallest",
    "scaling_n_fit_r2",
    "scaling_k_fit_r2",
}


def test_bench_quick_writes_every_ratio(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    # One thread: on a CPU shared with other jobs, two OpenMP threads can be far slower than one.
    args = [sys.executable, "-m", "srlm", "bench", "--quick", "--threads", "1", "--out", str(out)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(out.read_text())
    assert set(results["ratios"]) == RATIOS
    for name, value in results["ratios"].items():
        assert math.isfinite(value) and value > 0, name
    generation = results["generation"]
    for part in ("candidates", "judge"):
        assert all(tokens > 0 for tokens in generation[part]["new_tokens"].values()), part
    scaling = results["scaling"]
    assert len(scaling["prompts"]) == 4
    n_sweep, k_sweep = scaling["n"], scaling["k"]  # QUICK: 2 prompts, N = 1..4 at the config's k, k = 1..4 at its N
    assert n_sweep["values"] == k_sweep["values"] == [1, 2, 3, 4] and n_sweep["prompts"] == k_sweep["prompts"] == 2
    assert n_sweep["rows"] == [2 * n * (1 + n_sweep["k"]) for n in n_sweep["values"]]  # candidates + judge rows
    assert k_sweep["rows"] == [2 * k_sweep["n"] * (1 + k) for k in k_sweep["values"]]
    for x, sweep in (("n", n_sweep), ("k", k_sweep)):
        assert len(sweep["seconds"]) == len(sweep["seconds_per_row"]) == 4, x
        assert all(s > 0 for s in sweep["seconds"]) and all(s > 0 for s in sweep["seconds_per_row"]), x
        assert math.isfinite(sweep["fit_r2"]) and sweep["fit_r2"] <= 1, x
        assert math.isfinite(sweep["fit_slope_seconds"]) and math.isfinite(sweep["fit_intercept_seconds"]), x
    assert "srlm bench" in proc.stdout and "engine ÷ naive" in proc.stdout
