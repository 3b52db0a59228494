"""The judge on the ranked judge-eval answers: how one iteration's judge compares with another's."""

from __future__ import annotations

from typing import Any

import pytest

from srlm.stages.judge_eval_metrics import judge_changes


def judged(reversed_prompts: int) -> list[dict[str, Any]]:
    """Judge-eval rows of 40 prompts with three answers each; the scores upside down on the first prompts."""
    return [
        {"id": f"p{i}-a{j}", "prompt_id": f"p{i}", "gold": gold, "score": 6 - gold if i < reversed_prompts else gold}
        for i in range(40)
        for j, gold in enumerate((5.0, 3.0, 1.0))
    ]


def test_judge_changes_compare_two_judges_on_the_same_answers() -> None:
    rows = {"m1": judged(0), "m2": judged(30), "m3": judged(30)}  # m2 and m3 upside down on 30 of 40 prompts
    changes = judge_changes(rows, [("m2", "m1"), ("m3", "m2"), ("m3", "m1")], seed=0, n_resamples=300)
    assert [(c["a"], c["b"]) for c in changes] == [("m2", "m1"), ("m3", "m2"), ("m3", "m1")]
    m2, m3, last = changes
    assert m2["delta"] == pytest.approx(-0.75) and m2["verdict"] == "worse" and m2["prompts"] == 40
    assert m2["delta_ci95"][0] <= -0.75 <= m2["delta_ci95"][1] < 0
    assert m3["delta"] == 0.0 and m3["verdict"].startswith("no clear difference")
    assert last["delta"] == pytest.approx(-0.75)


def test_judge_changes_pair_only_the_prompts_both_judges_saw() -> None:
    rows = {"m1": judged(0), "m2": [row for row in judged(40) if row["prompt_id"] in {"p0", "p1"}]}
    (change,) = judge_changes(rows, [("m2", "m1")], seed=0, n_resamples=100)
    assert change["prompts"] == 2 and change["delta"] == pytest.approx(-1.0) and change["verdict"] == "worse"
