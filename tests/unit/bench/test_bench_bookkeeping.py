"""`srlm bench` bookkeeping: interleaved rounds, ratio collection, stage seconds (no timing asserted)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from rich.console import Console

from srlm.bench.suite import collect_ratios, results_table, stage_seconds
from srlm.bench.timing import FULL, QUICK, line_fit, measure


def test_measure_warms_up_each_path_then_interleaves_the_rounds() -> None:
    calls: list[str] = []

    def path(name: str, words: int):  # type: ignore[no-untyped-def]
        return lambda: calls.append(name) or ["w"] * words

    timed = measure({"a": path("a", 2), "b": path("b", 5)}, repeats=3)
    assert calls == ["a", "b"] + ["a", "b"] * 3
    assert timed["a"]["new_tokens"] == 2 and timed["b"]["new_tokens"] == 5
    assert len(timed["a"]["runs"]) == 3 and timed["a"]["seconds"] >= 0


def test_collect_ratios_takes_only_the_sections_that_ran() -> None:
    part = {"engine_vs_naive": 9.0, "engine_vs_batched": 1.5, "shared_vs_separate": 1.2, "kernel_vs_other": 1.3}
    generation = {"combined": part, "candidates": part, "judge": part}
    assert collect_ratios({"training": {"dpo_vs_sft_seconds_per_token": 1.1}}) == {"dpo_vs_sft_seconds_per_token": 1.1}
    ratios = collect_ratios({"generation": generation})
    assert ratios["generation_engine_vs_naive"] == 9.0 and ratios["judge_shared_prefill_vs_separate"] == 1.2
    assert ratios["generation_kernel_vs_other"] == 1.3
    assert len(ratios) == 9


def test_stage_seconds_sums_every_manifest_by_stage(tmp_path: Path) -> None:
    (tmp_path / "iter1").mkdir()
    manifests = {
        "m1.manifest.json": {"stage": "sft", "seconds": 2.5},
        "iter1/judgments.jsonl.manifest.json": {"stage": "iter1 judge", "seconds": 1.25},
        "iter1/other.manifest.json": {"stage": "iter1 judge", "seconds": 0.25},
        "iter1/odd.manifest.json": {"stage": "no seconds"},
    }
    for name, manifest in manifests.items():
        (tmp_path / name).write_text(json.dumps(manifest))
    assert stage_seconds(tmp_path) == {"sft": 2.5, "iter1 judge": 1.5}


def test_line_fit_recovers_a_line_and_scores_noise_below_one() -> None:
    assert line_fit([1, 2, 4, 8], [0.5 + 0.25 * x for x in (1, 2, 4, 8)]) == {
        "slope": 0.25,
        "intercept": 0.5,
        "r2": 1.0,
    }
    noisy = line_fit([1, 2, 3, 4], [1.0, 2.5, 2.5, 4.0])
    assert noisy["slope"] == 0.9 and 0 < noisy["r2"] < 1
    assert math.isnan(line_fit([1, 2, 3], [2.0, 2.0, 2.0])["r2"])


def test_sweep_sizes_and_config_copies_keep_the_prompts() -> None:
    from srlm.bench.generation import make_workload, with_sizes
    from srlm.bench.suite import bench_config

    assert (FULL.sweep_prompts, FULL.sweep_n, FULL.sweep_k) == (8, (1, 2, 4, 8), (1, 2, 3, 6))
    assert (QUICK.sweep_prompts, QUICK.sweep_n, QUICK.sweep_k) == (2, (1, 2, 3, 4), (1, 2, 3, 4))
    cfg, _ = bench_config("world")
    n, k = cfg.candidates.n, cfg.judge.samples
    one = with_sizes(cfg, n=1, k=2)  # N = 1 is below the config's minimum: the copy is not re-validated
    assert (one.candidates.n, one.judge.samples) == (1, 2) and (cfg.candidates.n, cfg.judge.samples) == (n, k)
    small, large = make_workload(one, 2), make_workload(with_sizes(cfg, n=3, k=4), 2)
    assert small.prompts == large.prompts == make_workload(cfg, 2).prompts
    assert [len(rows) for rows in small.candidates] == [1, 1] and [len(rows) for rows in large.judge] == [12, 12]


def test_collect_ratios_adds_the_n_and_k_fits_when_swept() -> None:
    scaling = {"largest_vs_smallest": 0.9, "n": {"fit_r2": 0.99}, "k": {"fit_r2": 0.98}}
    assert collect_ratios({"scaling": scaling}) == {
        "scaling_seconds_per_prompt_largest_vs_smallest": 0.9,
        "scaling_n_fit_r2": 0.99,
        "scaling_k_fit_r2": 0.98,
    }
    assert collect_ratios({"scaling": {"largest_vs_smallest": 0.9}}) == {
        "scaling_seconds_per_prompt_largest_vs_smallest": 0.9
    }


def test_results_table_shows_the_n_and_k_curves() -> None:
    def sweep(x: str) -> dict[str, object]:
        return {"values": [1, 2], "seconds_per_row": [0.02, 0.015], "fit_r2": 0.97, "setup": f"seconds vs {x}"}

    machine = {"torch_threads": 1, "cpu_count": 2, "load_average_1min": 1.0, "load_average_1min_after": 1.0}
    scaling = {"prompts": [1, 2], "seconds_per_prompt": [0.3, 0.25], "fit_r2": 0.99, "setup": "per prompt"}
    results = {"model": "world", "machine": machine, "scaling": scaling | {"n": sweep("N"), "k": sweep("k")}}
    console = Console(width=300, record=True)
    console.print(results_table(results))
    text = console.export_text()
    assert "seconds per sequence vs N" in text and "N=1: 0.0200, N=2: 0.0150 (fit R² 0.970)" in text
    assert "seconds per sequence vs k" in text and "k=2: 0.0150" in text
