"""Meta-judge: which judgments are compared, and which verdicts become judge-preference pairs."""

from __future__ import annotations

from typing import Any

from srlm.method.judging.meta import JudgePair, JudgmentPair, MetaVerdicts, build_judge_pairs, select_judgment_pairs


def judged(cid: str, prompt_id: str, *scores: float | None) -> dict[str, Any]:
    return {
        "id": cid,
        "prompt_id": prompt_id,
        "samples": [{"text": f"{cid} j{i}", "score": s} for i, s in enumerate(scores)],
    }


def test_only_judgments_with_different_scores_are_compared() -> None:
    rows = [
        judged("a0", "a", 4, 4, 4),  # all agree: nothing to settle
        judged("a1", "a", 3, None, 3),  # agree once the unparsed one is left out
        judged("b0", "b", 2, None, None),  # one parsed judgment only
        judged("c0", "c", 1, 3, 2),  # spread 2
        judged("c1", "c", 5, 0, 5),  # spread 5: the most disputed answer of prompt c
        judged("c2", "c", 0, 5, 1),  # spread 5 too, but later: c1 wins the tie
    ]
    assert select_judgment_pairs(rows) == [JudgmentPair("c", "c1", high=0, low=1)]


def test_one_pair_per_prompt_in_first_appearance_order() -> None:
    rows = [judged("z0", "z", 1, 2), judged("y0", "y", 4, 1, 2), judged("z1", "z", 0, 4)]
    assert select_judgment_pairs(rows) == [JudgmentPair("z", "z1", 1, 0), JudgmentPair("y", "y0", 0, 1)]


def verdicts(high_first: str | None, high_second: str | None, cid: str = "c1") -> MetaVerdicts:
    return MetaVerdicts(
        pair=JudgmentPair("p", cid, high=2, low=0),
        judge_prompt="Rate this answer",
        texts=("generous. Score: 5", "strict. Score: 1"),
        scores=(5.0, 1.0),
        verdict_high_first=high_first,
        verdict_high_second=high_second,
    )


def test_agreeing_orders_pick_the_better_judgment() -> None:
    # The high-scored judgment shown as A wins, and shown as B wins too: it is chosen.
    pairs, counts = build_judge_pairs([verdicts("A", "B")])
    assert pairs == [
        JudgePair(
            prompt_id="p", candidate_id="c1", prompt="Rate this answer", chosen="generous. Score: 5",
            rejected="strict. Score: 1", chosen_sample=2, rejected_sample=0, score_chosen=5.0, score_rejected=1.0,
        )
    ]  # fmt: skip
    assert counts == {"kept": 1, "dropped_tie": 0, "dropped_unparsed": 0}
    # The low-scored judgment wins in both orders: it is chosen.
    (pair,), _ = build_judge_pairs([verdicts("B", "A")])
    assert (pair.chosen, pair.rejected, pair.chosen_sample, pair.score_chosen) == (
        "strict. Score: 1", "generous. Score: 5", 0, 1.0
    )  # fmt: skip


def test_position_bias_and_unparsed_verdicts_give_no_pair() -> None:
    items = [
        verdicts("A", "A", "first-shown"),  # always the one shown first: the orders disagree -> tie
        verdicts("B", "B", "second-shown"),
        verdicts(None, "B", "unparsed"),
        verdicts("A", None, "unparsed2"),
        verdicts("A", "B", "kept"),
    ]
    pairs, counts = build_judge_pairs(items)
    assert [p.candidate_id for p in pairs] == ["kept"]
    assert counts == {"kept": 1, "dropped_tie": 2, "dropped_unparsed": 2}
