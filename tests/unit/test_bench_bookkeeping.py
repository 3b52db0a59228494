"""`srlm bench` bookkeeping: interleaved rounds, ratio collection, stage seconds (no timing asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from srlm.bench import collect_ratios, measure, stage_seconds


def test_measure_warms_up_each_path_then_interleaves_the_rounds() -> None:
    calls: list[str] = []

    def path(name: str, words: int):  # type: ignore[no-untyped-def]
        return lambda: calls.append(name) or ["w"] * words

    timed = measure({"a": path("a", 2), "b": path("b", 5)}, repeats=3)
    assert calls == ["a", "b"] + ["a", "b"] * 3
    assert timed["a"]["new_tokens"] == 2 and timed["b"]["new_tokens"] == 5
    assert len(timed["a"]["runs"]) == 3 and timed["a"]["seconds"] >= 0


def test_collect_ratios_takes_only_the_sections_that_ran() -> None:
    part = {"engine_vs_naive": 9.0, "engine_vs_batched": 1.5, "shared_vs_separate": 1.2}
    generation = {"combined": part, "candidates": part, "judge": part}
    assert collect_ratios({"training": {"dpo_vs_sft_seconds_per_token": 1.1}}) == {"dpo_vs_sft_seconds_per_token": 1.1}
    ratios = collect_ratios({"generation": generation})
    assert ratios["generation_engine_vs_naive"] == 9.0 and ratios["judge_shared_prefill_vs_separate"] == 1.2
    assert len(ratios) == 8


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
