"""The loop's numbers for experiment trackers, and `train.report_to` as a setting."""

from __future__ import annotations

import pytest

from srlm.config import ConfigError, config_from_dict
from srlm.report.trackers import iteration_scalars

METRICS = {
    "iterations": [
        {
            "iteration": 1,
            "prompts": 10,
            "pairs": 6,
            "parse_failure_rate": 0.25,
            "score_histogram": {"3": 4, "unparsed": 1},
            "pair_oracle": {"precision": 0.5},
            "best_of_n": {"captured": None},
            "alarms": ["a"],
            "dpo": {"loss": {"first": 0.69, "last": 0.4}, "rewards_margins": {"first": 0.0, "last": 1.2}, "alarms": []},
        },
        {"iteration": 2, "prompts": 10, "pairs": 0, "parse_failure_rate": float("nan"), "alarms": []},
    ],
    "models": {
        "m1": {"oracle_score_mean": 2.9, "sampled": {"oracle_score_mean": 2.7}, "judge": {"pairwise_accuracy": 0.7}},
        "m2": {"oracle_score_mean": 3.0, "self_judge_score_mean": None},
        "sft_baseline": {"oracle_score_mean": 2.5},
    },
}


def test_each_iteration_and_each_model_becomes_one_step() -> None:
    steps = iteration_scalars(METRICS)
    assert steps[1] == {
        "loop/prompts": 10.0,
        "loop/pairs": 6.0,
        "loop/alarms": 1.0,
        "judge/parse_failure_rate": 0.25,
        "pairs/precision": 0.5,
        "judge/score_histogram/3": 4.0,
        "judge/score_histogram/unparsed": 1.0,
        "dpo/loss_first": 0.69,
        "dpo/loss_last": 0.4,
        "dpo/rewards_margins_first": 0.0,
        "dpo/rewards_margins_last": 1.2,
        "eval/oracle_score_mean": 2.9,
        "eval/sampled_oracle_score_mean": 2.7,
        "eval/judge_pairwise_accuracy": 0.7,
    }
    assert steps[2] == {"loop/prompts": 10.0, "loop/pairs": 0.0, "loop/alarms": 0.0, "eval/oracle_score_mean": 3.0}
    assert set(steps) == {1, 2}  # no baseline step; missing and NaN numbers are left out


def test_report_to_defaults_to_none_and_takes_one_name_or_a_list() -> None:
    base = {"model": {"path": "m"}, "data": {"ift": "i.jsonl"}}
    assert config_from_dict(base).train.report_to == []
    assert config_from_dict(base | {"train": {"report_to": "tensorboard"}}).train.report_to == ["tensorboard"]
    assert config_from_dict(base | {"train": {"report_to": ["none"]}}).train.report_to == []
    both = config_from_dict(base | {"train": {"report_to": ["tensorboard", "wandb"]}})
    assert both.train.report_to == ["tensorboard", "wandb"]
    with pytest.raises(ConfigError, match="report_to"):
        config_from_dict(base | {"train": {"report_to": ["none", "wandb"]}})
