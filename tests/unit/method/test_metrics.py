"""Judge-quality and head-to-head statistics on hand-worked numbers."""

from __future__ import annotations

import math

import pytest

from srlm.method.metrics import (
    JudgedPrompt,
    both_orders_outcome,
    exact_match,
    five_best,
    judge_quality,
    kendall_tau,
    length_controlled_win_rate,
    mean_ci95,
    pairwise_accuracy,
    pairwise_accuracy_difference,
    parse_failure_rate,
    score_histogram,
    spearman,
    win_tie_loss,
)

# Gold a > b > c; the judge swaps b and c.
SWAPPED = JudgedPrompt(gold=(3.0, 2.0, 1.0), judge=(5.0, 2.0, 3.0))
PERFECT = JudgedPrompt(gold=(3.0, 2.0, 1.0), judge=(5.0, 3.0, 1.0))
# The judge ties a and b.
JUDGE_TIE = JudgedPrompt(gold=(3.0, 2.0, 1.0), judge=(4.0, 4.0, 1.0))


def test_swap_of_two_answers() -> None:
    # Pairs (a,b) and (a,c) right, (b,c) wrong.
    assert pairwise_accuracy([SWAPPED]) == pytest.approx(2 / 3)
    assert exact_match([SWAPPED]) == 0.0
    # Kendall: 2 concordant, 1 discordant of 3 pairs. Spearman: d = (0, 1, 1), 1 - 6*2/(3*8).
    assert kendall_tau([SWAPPED]) == pytest.approx(1 / 3)
    assert spearman([SWAPPED]) == pytest.approx(0.5)


def test_perfect_judge() -> None:
    assert pairwise_accuracy([PERFECT]) == 1.0
    assert exact_match([PERFECT]) == 1.0
    assert kendall_tau([PERFECT]) == pytest.approx(1.0)
    assert spearman([PERFECT]) == pytest.approx(1.0)


def test_judge_tie_counts_half() -> None:
    assert pairwise_accuracy([JUDGE_TIE]) == pytest.approx(2.5 / 3)
    assert exact_match([JUDGE_TIE]) == 0.0
    # tau-b: (2 - 0) / sqrt(3 * (3 - 1)).
    assert kendall_tau([JUDGE_TIE]) == pytest.approx(2 / math.sqrt(6))


def test_pairs_are_pooled_over_prompts() -> None:
    two_answers = JudgedPrompt(gold=(2.0, 1.0), judge=(1.0, 2.0))  # one wrong pair
    assert pairwise_accuracy([SWAPPED, two_answers]) == pytest.approx(2 / 4)
    assert exact_match([PERFECT, SWAPPED, two_answers]) == pytest.approx(1 / 3)
    assert kendall_tau([PERFECT, SWAPPED]) == pytest.approx((1 + 1 / 3) / 2)


def test_gold_ties_are_skipped() -> None:
    item = JudgedPrompt(gold=(2.0, 2.0, 1.0), judge=(3.0, 5.0, 1.0))
    assert pairwise_accuracy([item]) == 1.0
    assert exact_match([item]) == 0.0  # the judge orders a pair gold leaves tied
    assert exact_match([JudgedPrompt(gold=(2.0, 2.0, 1.0), judge=(4.0, 4.0, 0.0))]) == 1.0


def test_constant_judge_counts_zero_and_constant_gold_is_skipped() -> None:
    constant_judge = JudgedPrompt(gold=(3.0, 2.0, 1.0), judge=(4.0, 4.0, 4.0))
    constant_gold = JudgedPrompt(gold=(1.0, 1.0), judge=(5.0, 1.0))
    assert kendall_tau([constant_judge, PERFECT]) == pytest.approx(0.5)
    assert spearman([constant_judge, PERFECT]) == pytest.approx(0.5)
    assert kendall_tau([constant_gold, PERFECT]) == pytest.approx(1.0)
    assert pairwise_accuracy([constant_judge]) == 0.5
    assert math.isnan(kendall_tau([constant_gold]))


def test_parse_failures_are_dropped_not_scored() -> None:
    item = JudgedPrompt(gold=(3.0, 2.0, 1.0), judge=(None, 2.0, 4.0))
    assert pairwise_accuracy([item]) == 0.0  # only (b, c) remains, and it is wrong
    assert parse_failure_rate([item, PERFECT]) == pytest.approx(1 / 6)
    lone = JudgedPrompt(gold=(2.0, 1.0), judge=(None, 5.0))
    assert math.isnan(pairwise_accuracy([lone]))
    assert math.isnan(exact_match([lone]))
    assert exact_match([lone, PERFECT]) == 1.0


def test_five_best() -> None:
    first = JudgedPrompt(gold=(3.0, 2.0, 1.0), judge=(5.0, 4.67, 1.0))  # the 5 is gold-best
    second = JudgedPrompt(gold=(3.0, 2.0, 1.0), judge=(4.0, 5.0, 5.0))  # two 5s, neither best
    tied_top = JudgedPrompt(gold=(2.0, 2.0), judge=(5.0, None))  # gold tie at the top counts
    assert five_best([first]) == 1.0
    assert five_best([first, second]) == pytest.approx(1 / 3)
    assert five_best([first, second, tied_top]) == pytest.approx(2 / 4)
    assert math.isnan(five_best([JUDGE_TIE]))


def test_from_ranking() -> None:
    item = JudgedPrompt.from_ranking(["best", "mid", "worst"], {"worst": 5.0, "best": 4.0, "mid": None})
    assert item == JudgedPrompt(gold=(3.0, 2.0, 1.0), judge=(4.0, None, 5.0))
    with pytest.raises(ValueError):
        JudgedPrompt(gold=(1.0,), judge=(1.0, 2.0))


def test_histogram_rounds_half_up() -> None:
    item = JudgedPrompt(gold=(6, 5, 4, 3, 2, 1), judge=(4.67, 4.5, 0.4, None, 5.0, 2.5))
    assert score_histogram([item]) == {"0": 1, "1": 0, "2": 0, "3": 1, "4": 0, "5": 3, "unparsed": 1}


def test_judge_quality_keys() -> None:
    report = judge_quality([SWAPPED, PERFECT])
    assert set(report) == {
        "pairwise_accuracy",
        "exact_match",
        "five_best",
        "spearman",
        "kendall_tau",
        "parse_failure_rate",
        "n_prompts",
        "n_answers",
        "score_histogram",
    }
    assert report["pairwise_accuracy"] == pytest.approx(5 / 6)
    assert report["five_best"] == 1.0
    assert (report["n_prompts"], report["n_answers"]) == (2, 6)
    assert report["parse_failure_rate"] == 0.0


def test_win_tie_loss_counts_and_ci() -> None:
    outcomes = [1, 1, 0.5, 0, 1]
    result = win_tie_loss(outcomes)
    assert (result["wins"], result["ties"], result["losses"], result["n"]) == (3, 1, 1, 5)
    assert result["win_rate"] == pytest.approx(0.7)
    low, high = result["win_rate_ci95"]
    assert low <= 0.7 <= high
    assert win_tie_loss(outcomes, seed=3) == win_tie_loss(outcomes, seed=3)
    big_low, big_high = win_tie_loss(outcomes * 40)["win_rate_ci95"]
    assert big_low <= 0.7 <= big_high
    assert big_high - big_low < high - low


@pytest.mark.parametrize("bad", [[], [1, 2], [0.25]])
def test_win_tie_loss_rejects_bad_outcomes(bad: list[float]) -> None:
    with pytest.raises(ValueError):
        win_tie_loss(bad)


def test_mean_ci95() -> None:
    assert mean_ci95([2.0, 2.0, 2.0]) == (2.0, 2.0)
    values = [0.1, 0.4, 0.35, 0.8, 0.5, 0.45]
    low, high = mean_ci95(values, seed=1)
    assert low < sum(values) / len(values) < high
    with pytest.raises(ValueError):
        mean_ci95([])


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [(1, 1, 1.0), (0, 0, 0.0), (0.5, 0.5, 0.5), (1, 0, 0.5), (0, 1, 0.5), (1, 0.5, 0.5), (None, 1, None)],
)
def test_both_orders_outcome(first: float | None, second: float | None, expected: float | None) -> None:
    assert both_orders_outcome(first, second) == expected


def test_both_orders_rejects_other_values() -> None:
    with pytest.raises(ValueError):
        both_orders_outcome(2, 1)


def test_lc_win_rate_equals_raw_when_lengths_equal() -> None:
    preferences = [1, 0, 1, 1, 0.5, 0, 1, 0.5]
    raw = sum(preferences) / len(preferences)
    lengths = [100] * len(preferences)
    assert length_controlled_win_rate(preferences, lengths, lengths) == pytest.approx(raw, abs=1e-6)


def test_lc_win_rate_discounts_a_length_advantage() -> None:
    # The longer answer always wins; a is longer on 7 of 10 prompts, so raw = 0.7.
    len_a = [300, 320, 280, 350, 310, 290, 330, 100, 120, 90]
    len_b = [100, 110, 90, 120, 100, 95, 105, 300, 310, 280]
    preferences = [1, 1, 1, 1, 1, 1, 1, 0, 0, 0]
    controlled = length_controlled_win_rate(preferences, len_a, len_b)
    # Perfect separation: only the L2 penalty pins the fit, so check the direction, not a value.
    assert 0.5 < controlled < 0.7 - 0.05
    swapped = length_controlled_win_rate([1 - p for p in preferences], len_b, len_a)
    assert swapped == pytest.approx(1 - controlled, abs=1e-6)  # b vs a is the mirror image


def test_lc_win_rate_edge_cases() -> None:
    assert length_controlled_win_rate([1, 1], [5, 9], [1, 1]) == 1.0
    with pytest.raises(ValueError):
        length_controlled_win_rate([1, 0], [1], [1, 2])
    with pytest.raises(ValueError):
        length_controlled_win_rate([2, 0], [1, 1], [1, 2])


def test_best_of_n_by_hand_with_ties_and_unscored_candidates() -> None:
    from srlm.method.metrics import best_of_n

    groups = [
        ([4.0, 4.0, 1.0, None], [5.0, 3.0, 1.0, 0.0]),  # top tie: (5 + 3) / 2 = 4; unscored c3 left out
        ([2.0, 3.0, 3.0, 1.0], [2.0, 2.0, 2.0, 2.0]),  # no headroom: every answer grades 2
        ([5.0, None, None, None], [5.0, 0.0, 0.0, 0.0]),  # one scored candidate: prompt skipped
    ]
    report = best_of_n(groups, n_resamples=100)
    assert report["prompts"] == 2
    assert report["judge_best"] == (4.0 + 2.0) / 2
    assert report["judge_worst"] == (1.0 + 2.0) / 2
    assert report["mean"] == (3.0 + 2.0) / 2
    assert report["reference_best"] == (5.0 + 2.0) / 2
    # gain (4 - 3) + (2 - 2) = 1 over headroom (5 - 3) + 0 = 2
    assert report["captured"] == 0.5
    perfect = best_of_n([([1.0, 2.0], [1.0, 2.0]), ([3.0, 0.0], [4.0, 1.0]), ([0.0, 1.0], [0.0, 3.0])])
    assert perfect["captured"] == 1.0
    assert best_of_n([])["prompts"] == 0


def test_paired_mean_difference_ci_excludes_zero_for_a_clear_shift() -> None:
    from srlm.method.metrics import paired_mean_difference

    a = [3.0 + 0.5 * (i % 3) for i in range(200)]
    b = [x - 0.4 for x in a]
    delta, (low, high) = paired_mean_difference(a, b, n_resamples=200)
    assert delta == pytest.approx(0.4) and low == pytest.approx(0.4) and high == pytest.approx(0.4)
    mixed = [((-1.0) ** i) for i in range(200)]
    delta, (low, high) = paired_mean_difference(mixed, [0.0] * 200, n_resamples=200)
    assert delta == 0.0 and low < 0 < high


def test_pairwise_accuracy_difference_is_paired_per_prompt() -> None:
    right = JudgedPrompt((3.0, 2.0, 1.0), (5.0, 3.0, 1.0))  # 3 of 3 pairs
    tie = JudgedPrompt((3.0, 2.0, 1.0), (5.0, 5.0, 1.0))  # 2 right, 1 tie: 2.5 of 3
    wrong = JudgedPrompt((3.0, 2.0, 1.0), (1.0, 3.0, 5.0))  # 0 of 3
    before = [right] * 10
    after = [tie] * 5 + [right] * 5
    delta, (low, high) = pairwise_accuracy_difference(before, after, n_resamples=200)
    assert delta == pytest.approx(pairwise_accuracy(after) - pairwise_accuracy(before)) == pytest.approx(-0.5 / 6)
    assert low <= delta <= high < 0  # five prompts lose half a pair each, none gains: clearly worse
    assert pairwise_accuracy_difference(before, before, n_resamples=50) == (0.0, (0.0, 0.0))
    mixed, (low, high) = pairwise_accuracy_difference([right, wrong] * 5, [wrong, right] * 5, n_resamples=200)
    assert mixed == 0.0 and low < 0 < high  # as many prompts lost as won
    with pytest.raises(ValueError, match="2 prompts judged before but 1 after"):
        pairwise_accuracy_difference([right, right], [right])
