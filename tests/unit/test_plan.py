"""`srlm plan` arithmetic on a tiny config, checked against numbers worked by hand."""

from __future__ import annotations

import pytest

from srlm.config import config_from_dict
from srlm.plan import THROUGHPUTS, DataCounts, estimate

DATA = DataCounts(sft_rows=100, sft_tokens_per_row=50, prompt_tokens=12, judge_template_tokens=100, basis="by hand")


def tiny(**prompts: object) -> object:
    return config_from_dict(
        {
            "model": {"path": "m0"},
            "data": {"ift": "ift.jsonl"},
            "sft": {"epochs": 2},
            "prompts": {"n": 10, "max_new_tokens": 20, **prompts},
            "candidates": {"n": 4, "max_new_tokens": 30},
            "judge": {"samples": 3, "max_new_tokens": 10},
            "dpo": {"epochs": 1},
        }
    )


def test_token_counts_match_the_hand_worked_numbers() -> None:
    plan = estimate(tiny(), DATA)  # type: ignore[arg-type]
    tokens = plan["tokens"]
    assert tokens["prompt_generation"] == 10 * 20 == 200
    assert plan["counts"]["candidates"] == 40 and tokens["candidates"] == 40 * 30 == 1200
    # judge prompt = template 100 + prompt 12 + answer 30 = 142 tokens, then 10 generated; 40 x 3 samples
    assert tokens["judge_total"] == 120 * (142 + 10) == 18_240
    assert tokens["judge_generated"] == 120 * 10 == 1200
    assert tokens["generated_total"] == 200 + 1200 + 1200 == 2600
    # at most 10 pairs x 2 sequences x (12 + 30) tokens, 1 epoch; the reference pass reads the same
    assert tokens["dpo_training"] == tokens["dpo_reference"] == 10 * 2 * 42 == 840
    assert tokens["sft_training"] == 100 * 2 * 50 == 10_000


def test_gpu_hours_follow_the_stated_throughputs() -> None:
    hours = estimate(tiny(), DATA)["gpu_hours"]  # type: ignore[arg-type]
    seven, seventy = THROUGHPUTS["7B"], THROUGHPUTS["70B"]
    assert hours["7B"]["generation"] == pytest.approx(2600 / seven.generation_tokens_per_s / 3600)
    assert hours["70B"]["generation"] == pytest.approx(2600 / seventy.generation_tokens_per_s * 4 / 3600)
    # training counts the reference forward pass as a third of a training token
    assert hours["7B"]["dpo"] == pytest.approx((840 + 840 / 3) / seven.training_tokens_per_s_per_gpu / 3600)
    assert hours["70B"]["sft_once"] == pytest.approx(10_000 / seventy.training_tokens_per_s_per_gpu / 3600)
    assert hours["7B"]["iteration"] == pytest.approx(hours["7B"]["generation"] + hours["7B"]["dpo"])


def test_a_fixed_prompt_pool_generates_no_prompt_tokens() -> None:
    plan = estimate(tiny(source="file", path="pool.jsonl"), DATA)  # type: ignore[arg-type]
    assert plan["tokens"]["prompt_generation"] == 0
    assert plan["tokens"]["generated_total"] == 1200 + 1200
