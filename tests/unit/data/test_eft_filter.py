"""The EFT filter's pure pieces: agreement with human ranks, thinning, the prompt split."""

from __future__ import annotations

from collections import Counter

import pytest

from srlm.data.eft_filter import (
    JudgedAnswer,
    agreeing_rows,
    agrees_with_ranking,
    judge_eval_row,
    split_by_prompt,
    thin_most_common,
)


@pytest.mark.parametrize(
    ("ranks", "scores", "agrees"),
    [
        ([0, 1, 2], [5, 4, 1], True),
        ([2, 0, 1], [1, 5, 4], True),  # listed out of rank order
        ([0, 1, 2], [5, 1, 4], False),  # 2nd and 3rd swapped
        ([0, 1], [3, 3], False),  # tie on an ordered pair
        ([0, 1], [2.5, 2.0], True),  # averaged scores
        ([0, 1, 1], [5, 2, 2], True),  # equal human ranks may tie
        ([0, 1, 1], [5, 2, 6], False),
    ],
)
def test_agreement(ranks: list[int], scores: list[float], agrees: bool) -> None:
    assert agrees_with_ranking(ranks, scores) is agrees


def test_agreement_needs_one_score_per_answer() -> None:
    with pytest.raises(ValueError, match="3 ranks but 2 scores"):
        agrees_with_ranking([0, 1, 2], [1, 2])


def test_thinning_caps_the_most_common_score_at_the_second() -> None:
    rows = [{"id": i, "score": s} for i, s in enumerate([4, 4, 4, 4, 4, 3, 3, 3, 5, 2])]
    kept = thin_most_common(rows, seed=0)
    assert Counter(r["score"] for r in kept) == {4: 3, 3: 3, 5: 1, 2: 1}
    assert [r["id"] for r in kept] == sorted(r["id"] for r in kept)  # order kept
    assert thin_most_common(rows, seed=0) == kept  # seeded
    assert any(thin_most_common(rows, seed=s) != kept for s in range(1, 20))  # the seed picks which go


def test_thinning_rounds_averaged_scores_and_leaves_one_score_alone() -> None:
    rows = [{"score": s} for s in (3.7, 4.0, 4.2, 2.0)]  # 4, 4, 4, 2 after rounding
    assert len(thin_most_common(rows, seed=0)) == 2
    same = [{"score": 5}] * 3
    assert thin_most_common(same, seed=0) == same


def test_split_is_disjoint_seeded_and_sized() -> None:
    ids = [f"q{i}" for i in range(40)]
    train, evals = split_by_prompt(ids, 0.25, seed=0)
    assert len(evals) == 10 and len(train) == 30 and not set(train) & set(evals)
    assert set(train) | set(evals) == set(ids)
    assert split_by_prompt(ids, 0.25, seed=0) == (train, evals)
    assert split_by_prompt(ids, 0.25, seed=1)[1] != evals
    assert split_by_prompt(ids, 0.0, seed=0) == (ids, [])


def test_agreeing_rows_counts_by_hand() -> None:
    def answers(pid: str, scores: list[float | None]) -> list[JudgedAnswer]:
        return [JudgedAnswer(f"{pid}-a{j}", f"answer {j}", j, f"Score: {s}", s) for j, s in enumerate(scores)]

    prompts = [
        ("q1", "prompt 1", answers("q1", [5, 3, 1])),  # agrees
        ("q2", "prompt 2", answers("q2", [4, None])),  # a parse failure
        ("q3", "prompt 3", answers("q3", [2, 4])),  # disagrees
    ]
    rows, counts = agreeing_rows(prompts)
    assert [r["id"] for r in rows] == ["q1-a0", "q1-a1", "q1-a2"]
    assert rows[1] == {
        "id": "q1-a1",
        "prompt_id": "q1",
        "prompt": "prompt 1",
        "response": "answer 1",
        "judgment": "Score: 3",
        "score": 3,
        "human_rank": 1,
    }
    assert counts == {
        "prompts_judged": 3,
        "answers_judged": 7,
        "parse_failures": 1,
        "prompts_with_parse_failure": 1,
        "prompts_disagreeing": 1,
        "prompts_agreeing": 1,
        "answers_agreeing": 3,
    }


def test_judge_eval_row_orders_best_first_with_gold_scores() -> None:
    row = judge_eval_row("q", "prompt", ["worst", "best", "middle"], [2, 0, 1])
    assert row == {"id": "q", "prompt": "prompt", "responses": ["best", "middle", "worst"], "scores": [2.0, 1.0, 0.0]}
