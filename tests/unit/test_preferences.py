"""build_pairs: hand-worked best-vs-worst selection, drop reasons and tie-breaking."""

from __future__ import annotations

import pytest

from srlm.preferences import PAIR_COUNT_KEYS, Pair, ScoredCandidate, build_pairs


def cand(cid: str, prompt_id: str, score: float | None) -> ScoredCandidate:
    return ScoredCandidate(
        id=cid, prompt_id=prompt_id, prompt=f"prompt {prompt_id}", response=f"answer {cid}", score=score
    )


def counts(kept: int = 0, tie: int = 0, few: int = 0, gap: int = 0) -> dict[str, int]:
    return {"kept": kept, "dropped_tie": tie, "dropped_too_few_scored": few, "dropped_small_gap": gap}


def test_best_vs_worst() -> None:
    pairs, n = build_pairs([cand("a", "p", 3.0), cand("b", "p", 4.67), cand("c", "p", 1.33), cand("d", "p", 2)])
    assert pairs == [
        Pair(
            prompt_id="p",
            prompt="prompt p",
            chosen="answer b",
            rejected="answer c",
            chosen_id="b",
            rejected_id="c",
            score_chosen=4.67,
            score_rejected=1.33,
        )
    ]
    assert n == counts(kept=1)


def test_all_keys_always_present() -> None:
    pairs, n = build_pairs([])
    assert pairs == []
    assert n == counts()
    assert tuple(n) == PAIR_COUNT_KEYS


def test_tie_between_best_and_worst_is_dropped() -> None:
    pairs, n = build_pairs([cand("a", "p", 5.0), cand("b", "p", 5.0), cand("c", "p", 5.0)])
    assert pairs == []
    assert n == counts(tie=1)


def test_ties_inside_best_and_worst_first_candidate_wins() -> None:
    group = [cand("a", "p", 2.0), cand("b", "p", 5.0), cand("c", "p", 2.0), cand("d", "p", 5.0)]
    pairs, _ = build_pairs(group)
    assert (pairs[0].chosen_id, pairs[0].rejected_id) == ("b", "a")
    pairs_reversed, _ = build_pairs(list(reversed(group)))
    assert (pairs_reversed[0].chosen_id, pairs_reversed[0].rejected_id) == ("d", "c")


def test_none_scores_never_chosen_or_rejected() -> None:
    pairs, n = build_pairs([cand("a", "p", None), cand("b", "p", 4.0), cand("c", "p", None), cand("d", "p", 1.0)])
    assert (pairs[0].chosen_id, pairs[0].rejected_id) == ("b", "d")
    assert n == counts(kept=1)


@pytest.mark.parametrize(
    "group",
    [
        [cand("a", "p", 4.0)],
        [cand("a", "p", None), cand("b", "p", None)],
        [cand("a", "p", None), cand("b", "p", 3.0), cand("c", "p", None)],
    ],
    ids=["single", "all_none", "one_scored"],
)
def test_too_few_scored(group: list[ScoredCandidate]) -> None:
    pairs, n = build_pairs(group)
    assert pairs == []
    assert n == counts(few=1)


def test_gap_filter() -> None:
    candidates = [
        cand("a1", "a", 4.0),
        cand("a2", "a", 3.67),  # gap 0.33 < 0.5: dropped
        cand("b1", "b", 4.0),
        cand("b2", "b", 3.5),  # gap 0.5 == min gap: kept
        cand("c1", "c", 3.0),
        cand("c2", "c", 3.0),  # gap 0: a tie, not a small gap
    ]
    pairs, n = build_pairs(candidates, min_score_gap=0.5)
    assert [p.prompt_id for p in pairs] == ["b"]
    assert n == counts(kept=1, tie=1, gap=1)
    pairs_default, n_default = build_pairs(candidates)
    assert [p.prompt_id for p in pairs_default] == ["a", "b"]
    assert n_default == counts(kept=2, tie=1)


def test_interleaved_prompts_keep_first_appearance_order() -> None:
    candidates = [
        cand("z1", "z", 1.0),
        cand("y1", "y", 2.0),
        cand("x1", "x", 5.0),
        cand("z2", "z", 3.0),
        cand("y2", "y", 2.0),
        cand("x2", "x", 0.0),
        cand("w1", "w", None),
    ]
    pairs, n = build_pairs(iter(candidates))  # any iterable, consumed once
    assert [(p.prompt_id, p.chosen_id, p.rejected_id) for p in pairs] == [
        ("z", "z2", "z1"),
        ("x", "x1", "x2"),
    ]
    assert [(p.score_chosen, p.score_rejected) for p in pairs] == [(3.0, 1.0), (5.0, 0.0)]
    assert n == counts(kept=2, tie=1, few=1)


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="min_score_gap"):
        build_pairs([], min_score_gap=-1)
    with pytest.raises(ValueError, match="NaN"):
        build_pairs([cand("a", "p", float("nan"))])
    clash = ScoredCandidate(id="b", prompt_id="p", prompt="other text", response="r", score=1.0)
    with pytest.raises(ValueError, match="two different prompts"):
        build_pairs([cand("a", "p", 2.0), clash])
