"""`srlm plan` arithmetic on a tiny config, checked against numbers worked by hand.

The tiny config: P = 10 prompts, N = 4 candidates of A = 30 tokens, k = 3 judgments of J = 10
tokens, prompts of 12 tokens, a judge template of 100; one iteration generates 200 prompt + 1,200
candidate + 1,200 judge tokens = 2,600, and DPO trains at most 10 pairs x 2 x (12 + 30) = 840.
Each switch's test works out by hand what it adds to that, from the config's numbers alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from srlm import plan as plan_module
from srlm.config import Config, config_from_dict, default_config_path, load_config
from srlm.plan import THROUGHPUTS, DataCounts, estimate, measure

DATA = DataCounts(
    sft_rows=100,
    sft_tokens_per_row=50,
    prompt_tokens=12,
    judge_template_tokens=100,
    basis="by hand",
    pairwise_template_tokens=80,
    meta_template_tokens=90,
    eft_judge_prompt_tokens=150,
    eft_judgment_tokens=40,
)
SEVEN, SEVENTY = THROUGHPUTS["7B"], THROUGHPUTS["70B"]
BASE_GENERATED = 2600
BASE_DPO = 840
TOKEN_KEYS = [
    "prompt_generation",
    "candidates",
    "judge_total",
    "judge_generated",
    "generated_total",
    "dpo_training",
    "dpo_reference",
    "sft_training",
]
HOUR_KEYS = {"generation", "dpo", "sft_once", "iteration"}


def tiny(**sections: dict[str, Any]) -> Config:
    """The tiny config, with `sections` merged over its sections."""
    data: dict[str, Any] = {
        "model": {"path": "m0"},
        "data": {"ift": "ift.jsonl"},
        "sft": {"epochs": 2},
        "prompts": {"n": 10, "max_new_tokens": 20},
        "candidates": {"n": 4, "max_new_tokens": 30},
        "judge": {"samples": 3, "max_new_tokens": 10},
        "dpo": {"epochs": 1},
    }
    for name, values in sections.items():
        data[name] = data.get(name, {}) | values
    return config_from_dict(data)


def generation_hours(tokens: float, rate: Any) -> float:
    return tokens / rate.generation_tokens_per_s * rate.gpus_per_server / 3600


def dpo_hours(training: float, reference: float, rate: Any) -> float:
    return (training + reference / 3) / rate.training_tokens_per_s_per_gpu / 3600


def test_token_counts_match_the_hand_worked_numbers() -> None:
    plan = estimate(tiny(), DATA)
    tokens = plan["tokens"]
    assert tokens["prompt_generation"] == 10 * 20 == 200
    assert plan["counts"]["candidates"] == 40 and tokens["candidates"] == 40 * 30 == 1200
    # judge prompt = template 100 + prompt 12 + answer 30 = 142 tokens, then 10 generated; 40 x 3 samples
    assert tokens["judge_total"] == 120 * (142 + 10) == 18_240
    assert tokens["judge_generated"] == 120 * 10 == 1200
    assert tokens["generated_total"] == 200 + 1200 + 1200 == BASE_GENERATED
    # at most 10 pairs x 2 sequences x (12 + 30) tokens, 1 epoch; the reference pass reads the same
    assert tokens["dpo_training"] == tokens["dpo_reference"] == 10 * 2 * 42 == BASE_DPO
    assert tokens["sft_training"] == 100 * 2 * 50 == 10_000
    assert list(tokens) == TOKEN_KEYS and plan["switches"] == {}


def test_gpu_hours_follow_the_stated_throughputs() -> None:
    hours = estimate(tiny(), DATA)["gpu_hours"]
    assert hours["7B"]["generation"] == pytest.approx(2600 / SEVEN.generation_tokens_per_s / 3600)
    assert hours["70B"]["generation"] == pytest.approx(2600 / SEVENTY.generation_tokens_per_s * 4 / 3600)
    # training counts the reference forward pass as a third of a training token
    assert hours["7B"]["dpo"] == pytest.approx((840 + 840 / 3) / SEVEN.training_tokens_per_s_per_gpu / 3600)
    assert hours["70B"]["sft_once"] == pytest.approx(10_000 / SEVENTY.training_tokens_per_s_per_gpu / 3600)
    assert hours["7B"]["iteration"] == pytest.approx(hours["7B"]["generation"] + hours["7B"]["dpo"])
    assert set(hours["7B"]) == set(hours["70B"]) == HOUR_KEYS


def test_a_fixed_prompt_pool_generates_no_prompt_tokens() -> None:
    plan = estimate(tiny(prompts={"source": "file", "path": "pool.jsonl"}), DATA)
    assert plan["tokens"]["prompt_generation"] == 0
    assert plan["tokens"]["generated_total"] == 1200 + 1200


# world prompts (none generated); 1,000 prompts x 4 answers of 24 tokens; k = 3 judgments of 64;
# judge prompt 100 + 12 + 24; 3 DPO epochs; 6 SFT epochs
DEFAULT = {
    "prompt_generation": 0,
    "candidates": 4000 * 24,
    "judge_total": 12_000 * (100 + 12 + 24 + 64),
    "judge_generated": 12_000 * 64,
    "generated_total": 4000 * 24 + 12_000 * 64,
    "dpo_training": 1000 * 3 * 2 * (12 + 24),
    "dpo_reference": 1000 * 2 * (12 + 24),
    "sft_training": 100 * 6 * 50,
}
# 20,000 self-instructed prompts of 128 tokens x 4 answers of 1,024; k = 3 judgments of 512
PAPER = {
    "prompt_generation": 20_000 * 128,
    "candidates": 80_000 * 1024,
    "judge_total": 240_000 * (100 + 12 + 1024 + 512),
    "judge_generated": 240_000 * 512,
    "generated_total": 20_000 * 128 + 80_000 * 1024 + 240_000 * 512,
    "dpo_training": 20_000 * 1 * 2 * (12 + 1024),
    "dpo_reference": 20_000 * 2 * (12 + 1024),
    "sft_training": 100 * 3 * 50,
}


@pytest.mark.parametrize(("shipped", "expected"), [("default.yaml", DEFAULT), ("paper-llama2-70b.yaml", PAPER)])
def test_the_shipped_configs_count_what_they_did_before_the_switches(shipped: str, expected: dict[str, int]) -> None:
    plan = estimate(load_config(default_config_path().parent / shipped), DATA)
    assert {key: plan["tokens"][key] for key in TOKEN_KEYS} == pytest.approx(expected)
    for size, rate in THROUGHPUTS.items():
        hours = plan["gpu_hours"][size]
        assert set(hours) >= HOUR_KEYS
        assert hours["generation"] == pytest.approx(generation_hours(expected["generated_total"], rate))
        assert hours["dpo"] == pytest.approx(dpo_hours(expected["dpo_training"], expected["dpo_reference"], rate))


def test_the_paper_config_has_no_switch_and_the_world_default_adds_judge_pairs_from_iteration_2() -> None:
    paper = estimate(load_config(default_config_path().parent / "paper-llama2-70b.yaml"), DATA)
    assert paper["switches"] == {} and list(paper["tokens"]) == TOKEN_KEYS
    plan = estimate(load_config(default_config_path()), DATA)
    assert list(plan["switches"]) == ["loop.verdict_pairs"]  # dpo.interpolation costs no tokens
    switch = plan["switches"]["loop.verdict_pairs"]
    assert switch["applies"] == "iterations >= 2" and switch["dpo_pairs"] == 2000 and switch["generations"] == 0
    # 2,000 pairs: (EFT judge prompt 150 + seed judgment 40) twice, 3 epochs, beside the answer pairs
    tokens = plan["tokens"]
    assert tokens["dpo_training_from_iteration_2"] == DEFAULT["dpo_training"] + 2000 * 3 * 2 * (150 + 40)
    assert tokens["dpo_reference_from_iteration_2"] == DEFAULT["dpo_reference"] + 2000 * 2 * (150 + 40)
    assert tokens["generated_total_from_iteration_2"] == DEFAULT["generated_total"]  # nothing generated


def test_pairwise_judging_replaces_the_k_scores_with_every_two_answers_in_both_orders() -> None:
    # N = 5 answers: 10 comparisons x 2 orders = 20 generations per prompt (pointwise: 5 x 3 = 15)
    pointwise = estimate(tiny(candidates={"n": 5}), DATA)["tokens"]
    plan = estimate(tiny(candidates={"n": 5}, pairs={"mode": "pairwise"}), DATA)
    tokens = plan["tokens"]
    assert tokens["judge_generated"] == 10 * 20 * 10 == 2000
    # pairwise prompt: template 80 + prompt 12 + two answers of 30, then 10 generated
    assert tokens["judge_total"] == 200 * (80 + 12 + 2 * 30 + 10) == 32_400
    assert pointwise["judge_generated"] == 10 * 15 * 10 == 1500
    assert tokens["generated_total"] == pointwise["generated_total"] - 1500 + 2000 == 200 + 1500 + 2000
    assert tokens["dpo_training"] == pointwise["dpo_training"]  # still one pair per prompt
    switch = plan["switches"]["pairs.mode: pairwise"]
    assert switch["generations"] == 200 and switch["applies"] == "every iteration"
    # one sample per order: judge.samples changes nothing
    one_sample = estimate(tiny(candidates={"n": 5}, pairs={"mode": "pairwise"}, judge={"samples": 1}), DATA)
    assert one_sample["tokens"] == tokens


def test_anchored_rejection_adds_m1_answers_and_their_judging_from_iteration_2() -> None:
    plan = estimate(tiny(pairs={"anchored_rejection": True}), DATA)
    tokens, hours = plan["tokens"], plan["gpu_hours"]
    assert tokens["generated_total"] == BASE_GENERATED  # iteration 1 runs without it
    # M1: 10 prompts x 4 answers of 30 tokens; M_t: 40 answers x 3 judgments of 10 tokens
    assert tokens["generated_total_from_iteration_2"] == BASE_GENERATED + 40 * 30 + 120 * 10 == 5000
    assert tokens["dpo_training"] == BASE_DPO and tokens["dpo_reference"] == BASE_DPO
    switch = plan["switches"]["pairs.anchored_rejection"]
    assert switch["applies"] == "iterations >= 2"
    assert switch["generations"] == 40 + 120 and switch["judge_total"] == 120 * (142 + 10)
    for size, rate in THROUGHPUTS.items():
        assert hours[size]["generation"] == pytest.approx(generation_hours(2600, rate))
        assert hours[size]["generation_from_iteration_2"] == pytest.approx(generation_hours(5000, rate))
        assert hours[size]["iteration_from_iteration_2"] == pytest.approx(
            generation_hours(5000, rate) + dpo_hours(840, 840, rate)
        )


def test_consistency_adds_the_previous_model_judging_every_candidate_from_iteration_2() -> None:
    plan = estimate(tiny(dpo={"epochs": 1, "consistency": True}), DATA)
    tokens = plan["tokens"]
    assert tokens["generated_total"] == BASE_GENERATED
    # M(t-1): 40 candidates x 3 judgments of 10 tokens; DPO trains the same pairs
    assert tokens["generated_total_from_iteration_2"] == BASE_GENERATED + 120 * 10 == 3800
    assert tokens["dpo_training"] == BASE_DPO
    switch = plan["switches"]["dpo.consistency"]
    assert switch["applies"] == "iterations >= 2" and switch["judge_total"] == 120 * (142 + 10)
    assert plan["gpu_hours"]["70B"]["iteration_from_iteration_2"] == pytest.approx(
        generation_hours(3800, SEVENTY) + dpo_hours(840, 840, SEVENTY)
    )


def test_select_with_the_oracle_adds_only_the_checkpoints_answers() -> None:
    select = {"checkpoints": 3, "n_prompts": 7}
    plan = estimate(tiny(world={}, dpo={"epochs": 1, "select": select}, eval={"max_new_tokens": 40}), DATA)
    # 3 checkpoints x 7 prompts x 40 tokens; the oracle grades without generating
    assert plan["tokens"]["generated_total"] == BASE_GENERATED + 3 * 7 * 40 == 3440
    assert "generated_total_from_iteration_2" not in plan["tokens"]
    assert plan["switches"]["dpo.select"]["judge_total"] == 0
    assert plan["gpu_hours"]["7B"]["generation"] == pytest.approx(generation_hours(3440, SEVEN))


def test_select_with_a_judge_model_adds_m_t_answers_and_both_order_verdicts() -> None:
    select = {"checkpoints": 3, "n_prompts": 7, "judge": "judge_model", "prompts": "select.jsonl"}
    eval_settings = {"max_new_tokens": 40, "judge_model": "judge"}
    plan = estimate(tiny(dpo={"epochs": 1, "select": select}, eval=eval_settings), DATA)
    # answers: (3 checkpoints + M_t) x 7 prompts x 40; verdicts: 3 x 7 x 2 orders x 10 tokens
    assert plan["tokens"]["generated_total"] == BASE_GENERATED + 4 * 7 * 40 + 42 * 10 == 4140
    switch = plan["switches"]["dpo.select"]
    assert switch["generations"] == 28 + 42 and switch["applies"] == "every iteration"
    # verdict prompt: pairwise template 80 + prompt 12 + two answers of 40, then 10 generated
    assert switch["judge_total"] == 42 * (80 + 12 + 80 + 10)
    assert plan["tokens"]["dpo_training"] == BASE_DPO


def test_meta_judge_adds_two_verdicts_per_prompt_and_a_judgment_pair_per_prompt() -> None:
    plan = estimate(tiny(loop={"meta_judge": True}), DATA)
    tokens = plan["tokens"]
    # 10 prompts x 2 orders x 10 tokens
    assert tokens["generated_total"] == BASE_GENERATED + 10 * 2 * 10 == 2800
    # up to 10 pairs x 2 sequences x (judge prompt 142 + a judgment of 10), 1 epoch
    assert tokens["dpo_training"] == tokens["dpo_reference"] == BASE_DPO + 10 * 2 * 152 == 3880
    switch = plan["switches"]["loop.meta_judge"]
    # meta prompt: template 90 + prompt 12 + answer 30 + two judgments of 10, then 10 generated
    assert switch["judge_total"] == 20 * (90 + 12 + 30 + 20 + 10) and switch["dpo_pairs"] == 10
    assert plan["gpu_hours"]["7B"]["dpo"] == pytest.approx(dpo_hours(3880, 3880, SEVEN))
    # one judgment per answer: no two judgments to compare, nothing added
    single = estimate(tiny(loop={"meta_judge": True}, judge={"samples": 1}), DATA)["tokens"]
    assert single == estimate(tiny(judge={"samples": 1}), DATA)["tokens"]


def test_eft_replay_adds_k_judgments_per_row_and_a_judgment_pair_per_row() -> None:
    config = tiny(data={"ift": "ift.jsonl", "eft": "eft.jsonl"}, dpo={"epochs": 2}, loop={"eft_replay": 6})
    plan = estimate(config, DATA)
    tokens = plan["tokens"]
    # 6 rows x 3 judgments x 10 tokens
    assert tokens["generated_total"] == BASE_GENERATED + 6 * 3 * 10 == 2780
    # up to 6 pairs: (EFT judge prompt 150 + seed judgment 40) + (150 + the model's, up to 10); 2 epochs
    assert tokens["dpo_training"] == 2 * BASE_DPO + 6 * 2 * (150 + 40 + 150 + 10) == 5880
    assert tokens["dpo_reference"] == BASE_DPO + 6 * (150 + 40 + 150 + 10) == 2940
    switch = plan["switches"]["loop.eft_replay"]
    assert switch["judge_total"] == 18 * (150 + 10) and switch["dpo_pairs"] == 6


def test_verdict_pairs_generate_nothing_and_add_a_judgment_pair_per_row() -> None:
    config = tiny(data={"ift": "ift.jsonl", "eft": "eft.jsonl"}, dpo={"epochs": 2}, loop={"verdict_pairs": 6})
    plan = estimate(config, DATA)
    tokens = plan["tokens"]
    assert tokens["generated_total"] == BASE_GENERATED  # the pairs come from the seed set
    # up to 6 pairs: (EFT judge prompt 150 + seed judgment 40) twice, the second with one verdict flipped; 2 epochs
    assert tokens["dpo_training"] == 2 * BASE_DPO + 6 * 2 * 2 * (150 + 40) == 6240
    assert tokens["dpo_reference"] == BASE_DPO + 6 * 2 * (150 + 40) == 3120
    switch = plan["switches"]["loop.verdict_pairs"]
    assert switch["judge_total"] == 0 and switch["dpo_pairs"] == 6 and switch["applies"] == "every iteration"


def test_verdict_pairs_from_iteration_2_are_counted_in_the_later_iterations_only() -> None:
    loop = {"verdict_pairs": 6, "verdict_pairs_from": 2}
    config = tiny(data={"ift": "ift.jsonl", "eft": "eft.jsonl"}, dpo={"epochs": 2}, loop=loop)
    plan = estimate(config, DATA)
    assert plan["switches"]["loop.verdict_pairs"]["applies"] == "iterations >= 2"
    tokens = plan["tokens"]
    assert tokens["generated_total_from_iteration_2"] == tokens["generated_total"] == BASE_GENERATED
    assert tokens["dpo_training"] == 2 * BASE_DPO and tokens["dpo_reference"] == BASE_DPO  # iteration 1: answers only
    assert tokens["dpo_training_from_iteration_2"] == 6240 and tokens["dpo_reference_from_iteration_2"] == 3120
    hours = plan["gpu_hours"]["7B"]
    assert hours["iteration_from_iteration_2"] > hours["iteration"]  # the same generation, more DPO


def test_switches_add_up() -> None:
    config = tiny(pairs={"anchored_rejection": True}, loop={"meta_judge": True}, dpo={"consistency": True})
    tokens = estimate(config, DATA)["tokens"]
    assert tokens["generated_total"] == BASE_GENERATED + 200
    assert tokens["generated_total_from_iteration_2"] == BASE_GENERATED + 200 + 2400 + 1200


def test_measure_reads_the_templates_and_the_eft_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    words = lambda text: float(len(text.split()))  # noqa: E731
    monkeypatch.setattr(plan_module, "_token_counter", lambda cfg: (words, "words"))
    ift, eft = tmp_path / "ift.jsonl", tmp_path / "eft.jsonl"
    ift.write_text('{"prompt": "a b", "response": "c d e"}\n', encoding="utf-8")
    eft.write_text(
        '{"prompt": "p q r", "response": "s", "judgment": "j j j j"}\n'
        '{"prompt": "p", "response": "s t u", "judgment": "j j"}\n',
        encoding="utf-8",
    )
    data = measure(tiny(data={"ift": str(ift), "eft": str(eft)}))
    shipped = Path(plan_module.__file__).parent / "method" / "judging"

    def blank(name: str, *placeholders: str) -> float:
        text = (shipped / name).read_text(encoding="utf-8")
        for placeholder in placeholders:
            text = text.replace("{" + placeholder + "}", "")
        return words(text)

    rubric = blank("rubric.txt", "prompt", "response")
    assert data.judge_template_tokens == rubric
    assert data.pairwise_template_tokens == blank("pairwise.txt", "prompt", "response_a", "response_b")
    assert data.meta_template_tokens == blank("meta_judge.txt", "prompt", "response", "judgment_a", "judgment_b")
    assert data.eft_judge_prompt_tokens == rubric + 4 and data.eft_judgment_tokens == 3
    assert data.sft_rows == 3 and data.sft_tokens_per_row == pytest.approx((5 + 2 * (rubric + 4) + 6) / 3)
