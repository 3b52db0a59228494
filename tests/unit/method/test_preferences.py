"""build_pairs: hand-worked best-vs-worst selection, drop reasons and tie-breaking; anchored and pairwise pairs."""

from __future__ import annotations

import pytest

from srlm.method.preferences import (
    ANCHORED_COUNT_KEYS,
    PAIR_COUNT_KEYS,
    PAIRWISE_COUNT_KEYS,
    Comparison,
    Pair,
    ScoredCandidate,
    build_anchored_pairs,
    build_pairs,
    build_pairwise_pairs,
    pairwise_scores,
)


def cand(cid: str, prompt_id: str, score: float | None) -> ScoredCandidate:
    return ScoredCandidate(
        id=cid, prompt_id=prompt_id, prompt=f"prompt {prompt_id}", response=f"answer {cid}", score=score
    )


def counts(
    kept: int = 0, tie: int = 0, few: int = 0, gap: int = 0, identical: int = 0, truncated: int = 0
) -> dict[str, int]:
    return {
        "kept": kept,
        "dropped_tie": tie,
        "dropped_too_few_scored": few,
        "dropped_small_gap": gap,
        "dropped_identical": identical,
        "dropped_truncated": truncated,
    }


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


# Length control (Meta-Rewarding's ρ rule) and pairwise pairs: hand-worked cases.


def sized(cid: str, score: float | None, chars: int, prompt_id: str = "p") -> ScoredCandidate:
    return ScoredCandidate(id=cid, prompt_id=prompt_id, prompt=f"prompt {prompt_id}", response="x" * chars, score=score)


LENGTHS = [sized("a", 5.0, 30), sized("b", 4.5, 10), sized("c", 4.0, 5), sized("d", 2.0, 50), sized("e", 1.0, 20),
           sized("f", 1.5, 40)]  # fmt: skip


@pytest.mark.parametrize(
    ("rho", "chosen", "rejected"),
    [
        (None, "a", "e"),  # the paper: best vs worst
        (0.0, "a", "e"),  # bands hold only Smax / Smin
        (0.125, "b", "f"),  # top [4.5, 5] = {a, b}: shortest b; bottom [1, 1.5] = {e, f}: longest f
        (0.25, "c", "d"),  # top [4, 5] = {a, b, c}: shortest c; bottom [1, 2] = {d, e, f}: longest d
    ],
)
def test_length_control_picks_short_top_and_long_bottom(rho: float | None, chosen: str, rejected: str) -> None:
    pairs, n = build_pairs(LENGTHS, length_control_rho=rho)
    assert [(p.chosen_id, p.rejected_id) for p in pairs] == [(chosen, rejected)]
    assert n == counts(kept=1)


def test_length_control_ties_in_length_and_score() -> None:
    group = [sized("a", 5.0, 9), sized("b", 5.0, 3), sized("c", 5.0, 3), sized("d", 0.0, 4), sized("e", 0.0, 4)]
    pairs, _ = build_pairs(group, length_control_rho=0.0)
    assert (pairs[0].chosen_id, pairs[0].rejected_id) == ("b", "d")  # equal lengths: the earlier one
    all_equal = [sized("a", 3.0, 2), sized("b", 3.0, 8)]
    assert build_pairs(all_equal, length_control_rho=0.25) == ([], counts(tie=1))


def test_length_control_gap_is_the_selected_pairs_gap() -> None:
    # rho 0.25 selects c (4.0) vs d (2.0): gap 2 < 3, while best vs worst has gap 4.
    assert build_pairs(LENGTHS, min_score_gap=3.0, length_control_rho=0.25) == ([], counts(gap=1))
    assert len(build_pairs(LENGTHS, min_score_gap=3.0)[0]) == 1


@pytest.mark.parametrize("rho", [-0.1, 0.5, 0.7])
def test_length_control_rho_out_of_range(rho: float) -> None:
    with pytest.raises(ValueError, match="length_control_rho"):
        build_pairs(LENGTHS, length_control_rho=rho)


def pairwise(counts_: dict[str, int], not_won: int = 0) -> dict[str, int]:
    return {**counts_, "dropped_not_won_directly": not_won}


def test_pairwise_scores_are_mean_outcomes() -> None:
    comparisons = [
        Comparison("x", "y", 1.0),
        Comparison("x", "z", 1.0),
        Comparison("x", "w", 0.5),
        Comparison("y", "z", 0.5),
        Comparison("y", "w", 0.0),
        Comparison("z", "w", None),  # unparsed: counts for neither
    ]
    scores = pairwise_scores(["x", "y", "z", "w"], comparisons)
    assert scores == pytest.approx({"x": 2.5 / 3, "y": 0.5 / 3, "z": 0.25, "w": 0.75})
    group = [cand(c, "p", None) for c in "xyzw"]
    pairs, n = build_pairwise_pairs(group, comparisons)
    assert [(p.chosen_id, p.rejected_id) for p in pairs] == [("x", "y")]
    assert (pairs[0].score_chosen, pairs[0].score_rejected) == pytest.approx((2.5 / 3, 0.5 / 3))
    assert n == pairwise(counts(kept=1))
    assert tuple(n) == PAIRWISE_COUNT_KEYS


def test_pairwise_needs_a_direct_win() -> None:
    # a ranks first (0.75) and b last (0.25), but a vs b was a tie between the two orders.
    group = [cand(c, "q", None) for c in "abc"]
    comparisons = [Comparison("a", "b", 0.5), Comparison("a", "c", 1.0), Comparison("b", "c", 0.0)]
    assert build_pairwise_pairs(group, comparisons) == ([], pairwise(counts(), not_won=1))
    # The same ranking with a direct win, recorded from b's side (outcome 0.0 = the second one won).
    won = [Comparison("b", "a", 0.0), Comparison("a", "c", 1.0), Comparison("b", "c", 0.0)]
    pairs, n = build_pairwise_pairs(group, won)
    assert [(p.chosen_id, p.rejected_id) for p in pairs] == [("a", "b")] and n["kept"] == 1


def test_pairwise_cycle_ties_and_unparsed() -> None:
    cycle = [Comparison("a", "b", 1.0), Comparison("b", "c", 1.0), Comparison("c", "a", 1.0)]
    group = [cand(c, "r", None) for c in "abc"]
    assert build_pairwise_pairs(group, cycle) == ([], pairwise(counts(tie=1)))
    unparsed = [Comparison("a", "b", None), Comparison("a", "c", None), Comparison("b", "c", None)]
    assert build_pairwise_pairs(group, unparsed) == ([], pairwise(counts(few=1)))
    with pytest.raises(ValueError, match="unknown candidate"):
        build_pairwise_pairs(group, [Comparison("a", "zz", 1.0)])


def test_pairwise_with_length_control() -> None:
    # a beats all; b beats c and d; c beats d. Mean outcomes a 1, b 2/3, c 1/3, d 0.
    group = [sized("a", None, 40, "s"), sized("b", None, 5, "s"), sized("c", None, 50, "s"), sized("d", None, 3, "s")]
    comparisons = [Comparison(x, y, 1.0) for x, y in ["ab", "ac", "ad", "bc", "bd", "cd"]]
    pairs, _ = build_pairwise_pairs(group, comparisons)
    assert [(p.chosen_id, p.rejected_id) for p in pairs] == [("a", "d")]
    # rho 0.4: top band [0.6, 1] = {a, b}: shortest b; bottom [0, 0.4] = {c, d}: longest c; b beat c.
    pairs, _ = build_pairwise_pairs(group, comparisons, length_control_rho=0.4)
    assert [(p.chosen_id, p.rejected_id) for p in pairs] == [("b", "c")]


def test_identical_chosen_and_rejected_texts_are_dropped_and_counted() -> None:
    same = [
        ScoredCandidate("a", "p", "prompt p", "the same answer", 4.0),
        ScoredCandidate("b", "p", "prompt p", "the same answer", 1.0),
    ]
    assert build_pairs(same) == ([], counts(identical=1))
    assert build_pairs([*same, cand("c", "q", 5.0), cand("d", "q", 2.0)])[1] == counts(kept=1, identical=1)


def test_truncated_answers_stay_out_of_pairs_when_asked() -> None:
    group = [
        ScoredCandidate("a", "p", "prompt p", "cut off", 5.0, truncated=True),
        cand("b", "p", 3.0),
        cand("c", "p", 1.0),
    ]
    pairs, n = build_pairs(group, drop_truncated=True)
    assert [(p.chosen_id, p.rejected_id) for p in pairs] == [("b", "c")] and n == counts(kept=1)
    pairs, _ = build_pairs(group)  # the switch off: the cut-off answer may win, and the pair says so
    assert (pairs[0].chosen_id, pairs[0].chosen_truncated, pairs[0].rejected_truncated) == ("a", True, False)
    # One complete answer left: the prompt is dropped and counted as such.
    assert build_pairs(group[:2], drop_truncated=True) == ([], counts(truncated=1))


def anchored_counts(no_anchor: int = 0, anchor_better: int = 0, **rest: int) -> dict[str, int]:
    return counts(**rest) | {"dropped_no_anchor": no_anchor, "dropped_anchor_better": anchor_better}


def test_anchored_pairs_take_the_best_current_answer_and_the_worst_past_one() -> None:
    current = [cand("p-c0", "p", 3.0), cand("p-c1", "p", 4.5), cand("p-c2", "p", 2.0)]
    # The past model's worst (1.0) is worse than the current model's worst (2.0): it is the rejected side.
    past = [cand("p-a0", "p", 2.5), cand("p-a1", "p", 1.0), cand("p-a2", "p", 1.0)]
    pairs, n = build_anchored_pairs(current, past)
    assert [(p.chosen_id, p.rejected_id, p.score_chosen, p.score_rejected) for p in pairs] == [
        ("p-c1", "p-a1", 4.5, 1.0)  # ties inside the worst: the first one
    ]
    assert n == anchored_counts(kept=1)
    assert tuple(n) == ANCHORED_COUNT_KEYS


def test_anchored_pairs_drop_and_count_every_other_case() -> None:
    current = [
        cand("tie-c0", "tie", 2.0),
        cand("better-c0", "better", 2.0),
        cand("none-c0", "none", None),
        cand("lonely-c0", "lonely", 4.0),
        cand("small-c0", "small", 3.0),
        cand("ok-c0", "ok", 1.5),  # one current answer is enough: the other side is the past model's
    ]
    past = [
        cand("tie-a0", "tie", 2.0),
        cand("better-a0", "better", 3.0),
        cand("none-a0", "none", 1.0),
        cand("lonely-a0", "lonely", None),  # no scored past answer
        cand("small-a0", "small", 2.5),
        cand("ok-a0", "ok", 0.0),
    ]
    pairs, n = build_anchored_pairs(current, past, min_score_gap=1.0)
    assert [p.prompt_id for p in pairs] == ["ok"]
    assert n == anchored_counts(kept=1, tie=1, anchor_better=1, few=1, no_anchor=1, gap=1)


def test_anchored_pairs_with_cut_off_and_identical_answers() -> None:
    cut = ScoredCandidate("p-c0", "p", "prompt p", "cut off", 5.0, truncated=True)
    past = [cand("p-a0", "p", 1.0)]
    assert build_anchored_pairs([cut], past, drop_truncated=True) == ([], anchored_counts(truncated=1))
    pairs, _ = build_anchored_pairs([cut], past)  # the switch off: the pair says which side was cut
    assert (pairs[0].chosen_truncated, pairs[0].rejected_truncated) == (True, False)
    same = [ScoredCandidate("q-c0", "q", "prompt q", "same words", 4.0)]
    old = [ScoredCandidate("q-a0", "q", "prompt q", "same words", 1.0)]
    assert build_anchored_pairs(same, old) == ([], anchored_counts(identical=1))


def test_anchored_pairs_refuse_a_prompt_id_that_names_two_prompts() -> None:
    past = [ScoredCandidate("p-a0", "p", "another prompt", "x", 1.0)]
    with pytest.raises(ValueError, match="different prompts"):
        build_anchored_pairs([cand("p-c0", "p", 3.0)], past)
    with pytest.raises(ValueError, match="min_score_gap"):
        build_anchored_pairs([], [], min_score_gap=-1)
