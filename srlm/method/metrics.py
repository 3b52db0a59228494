"""Evaluation statistics: judge quality on ranked answers, head-to-head win rates, CIs.

Judge quality (paper's table on the EFT eval split). Each ``JudgedPrompt`` holds gold values
(higher = better; a human ranking best->worst becomes n, n-1, ..., 1) and the judge's mean score
per answer (None = no judge sample parsed).

ONE tie and failure rule, used by every judge-quality metric:

- Parse failures are dropped, never scored: answers with a None judge score are removed before
  the rank metrics and reported as ``parse_failure_rate``. A prompt left with < 2 scored answers
  is skipped by the rank metrics.
- Pairs tied in gold carry no ordering and are skipped. A judge tie on a gold-ordered pair counts
  half (it is a coin flip for a pair builder), so a judge that always ties scores 0.5, not 1.0.
- ``exact_match``: the judge's weak order equals the gold weak order on every pair (a judge tie
  must match a gold tie), over prompts with >= 2 scored answers.
- ``spearman`` / ``kendall_tau`` (tau-b, scipy) are averaged over prompts. Prompts with constant
  gold are skipped (nothing to recover); a constant judge counts as 0 (no ordering expressed),
  matching the half-credit rule above.
- ``five_best``: among answers whose MEAN judge score is exactly 5.0 (every parsed sample said 5),
  the share that gold ranked first (gold == the prompt's best; gold ties at the top all count).
  NaN when the judge gave no 5.
- ``score_histogram``: judge mean scores rounded half up to 0..5, plus "unparsed".
Undefined metrics (no usable prompts) are NaN, never 0.

Head-to-head: an outcome is 1 (a wins), 0.5 (tie) or 0 (b wins) per prompt; ``win_rate`` counts
a tie as half. ``both_orders_outcome`` is the paper's GPT-4 rule (two orders, disagreement = tie).
CIs are percentile bootstraps over prompts (``scipy.stats.bootstrap``, seeded). scipy is imported
inside the functions that use it, so importing this module stays cheap.

``length_controlled_win_rate`` simplifies AlpacaEval's LC win rate to one model pair: a logistic
model P(a wins) = sigmoid(bias + w * tanh(len_diff / std(len_diff))) fit on fractional targets
(ties 0.5), with a small L2 penalty on w so a perfectly length-separated set still has an answer;
there is no instruction-difficulty term, so "predict at zero length difference and average" is
sigmoid(bias).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

SCORE_BINS: tuple[str, ...] = ("0", "1", "2", "3", "4", "5", "unparsed")


@dataclass(frozen=True)
class JudgedPrompt:
    """Gold values (higher = better) and judge mean scores for the answers to one prompt."""

    gold: tuple[float, ...]
    judge: tuple[float | None, ...]

    def __post_init__(self) -> None:
        if len(self.gold) != len(self.judge):
            raise ValueError(f"{len(self.gold)} gold values but {len(self.judge)} judge scores")

    @classmethod
    def from_ranking(cls, ranked_ids: Sequence[str], judge_scores: Mapping[str, float | None]) -> JudgedPrompt:
        """From answer ids ordered best -> worst and the judge's score per id."""
        n_answers = len(ranked_ids)
        gold = tuple(float(n_answers - position) for position in range(n_answers))
        return cls(gold=gold, judge=tuple(judge_scores[answer_id] for answer_id in ranked_ids))

    def scored(self) -> tuple[np.ndarray, np.ndarray]:
        """Gold and judge arrays restricted to the answers the judge scored."""
        keep = [i for i, score in enumerate(self.judge) if score is not None]
        return (
            np.array([self.gold[i] for i in keep], dtype=float),
            np.array([self.judge[i] for i in keep], dtype=float),
        )


def _gold_ordered_pairs(gold: np.ndarray, judge: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signs of gold and judge differences over all pairs i < j."""
    upper_i, upper_j = np.triu_indices(len(gold), k=1)
    return np.sign(gold[upper_i] - gold[upper_j]), np.sign(judge[upper_i] - judge[upper_j])


def pairwise_credit(item: JudgedPrompt) -> tuple[float, int]:
    """One prompt's gold-ordered scored pairs the judge orders the same way (judge tie = 1/2), and their count."""
    gold_sign, judge_sign = _gold_ordered_pairs(*item.scored())
    ordered = gold_sign != 0
    credit = float(np.sum(judge_sign[ordered] == gold_sign[ordered])) + 0.5 * float(np.sum(judge_sign[ordered] == 0))
    return credit, int(np.sum(ordered))


def pairwise_accuracy(items: Sequence[JudgedPrompt]) -> float:
    """Share of gold-ordered scored pairs the judge orders the same way (judge tie = 1/2)."""
    per_prompt = [pairwise_credit(item) for item in items]
    total = sum(n for _, n in per_prompt)
    return sum(c for c, _ in per_prompt) / total if total else math.nan


def exact_match(items: Sequence[JudgedPrompt]) -> float:
    """Share of prompts (>= 2 scored answers) whose judge order equals gold on every pair."""
    matches = []
    for item in items:
        gold, judge = item.scored()
        if len(gold) >= 2:
            gold_sign, judge_sign = _gold_ordered_pairs(gold, judge)
            matches.append(bool(np.all(gold_sign == judge_sign)))
    return float(np.mean(matches)) if matches else math.nan


def five_best(items: Sequence[JudgedPrompt]) -> float:
    """Of the answers whose mean judge score is exactly 5, the share gold ranked first."""
    best_flags = []
    for item in items:
        top = max(item.gold)
        best_flags += [gold == top for gold, score in zip(item.gold, item.judge, strict=True) if score == 5.0]
    return float(np.mean(best_flags)) if best_flags else math.nan


def _mean_rank_correlation(items: Sequence[JudgedPrompt], statistic: str) -> float:
    from scipy import stats

    values = []
    for item in items:
        gold, judge = item.scored()
        if len(gold) < 2 or np.all(gold == gold[0]):
            continue  # nothing to recover
        if np.all(judge == judge[0]):
            values.append(0.0)  # the judge expressed no ordering
        elif statistic == "spearman":
            values.append(float(stats.spearmanr(gold, judge).statistic))
        else:
            values.append(float(stats.kendalltau(gold, judge).statistic))
    return float(np.mean(values)) if values else math.nan


def spearman(items: Sequence[JudgedPrompt]) -> float:
    """Spearman's rho between gold and judge per prompt, averaged over prompts."""
    return _mean_rank_correlation(items, "spearman")


def kendall_tau(items: Sequence[JudgedPrompt]) -> float:
    """Kendall's tau-b between gold and judge per prompt, averaged over prompts."""
    return _mean_rank_correlation(items, "kendall")


def parse_failure_rate(items: Sequence[JudgedPrompt]) -> float:
    """Share of answers with no parsed judge score."""
    scores = [score for item in items for score in item.judge]
    return sum(score is None for score in scores) / len(scores) if scores else math.nan


def score_histogram(items: Sequence[JudgedPrompt]) -> dict[str, int]:
    """Counts of judge mean scores rounded half up to 0..5, plus "unparsed"."""
    histogram = dict.fromkeys(SCORE_BINS, 0)
    for item in items:
        for score in item.judge:
            histogram["unparsed" if score is None else str(math.floor(score + 0.5))] += 1
    return histogram


class JudgeQuality(TypedDict):
    pairwise_accuracy: float
    exact_match: float
    five_best: float
    spearman: float
    kendall_tau: float
    parse_failure_rate: float
    n_prompts: int
    n_answers: int
    score_histogram: dict[str, int]


def judge_quality(items: Sequence[JudgedPrompt]) -> JudgeQuality:
    """All judge-quality metrics at once (fractions in [0, 1], correlations in [-1, 1])."""
    return JudgeQuality(
        pairwise_accuracy=pairwise_accuracy(items),
        exact_match=exact_match(items),
        five_best=five_best(items),
        spearman=spearman(items),
        kendall_tau=kendall_tau(items),
        parse_failure_rate=parse_failure_rate(items),
        n_prompts=len(items),
        n_answers=sum(len(item.judge) for item in items),
        score_histogram=score_histogram(items),
    )


def mean_ci95(values: Sequence[float], seed: int = 0, n_resamples: int = 2000) -> tuple[float, float]:
    """Percentile-bootstrap 95 % CI of the mean (percentile, because BCa is NaN on constant data)."""
    from scipy import stats

    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("mean_ci95 needs at least one value")
    if np.all(data == data[0]):
        return float(data[0]), float(data[0])
    result = stats.bootstrap(
        (data,),
        np.mean,
        n_resamples=n_resamples,
        confidence_level=0.95,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


class WinTieLoss(TypedDict):
    wins: int
    ties: int
    losses: int
    n: int
    win_rate: float
    win_rate_ci95: tuple[float, float]


def win_tie_loss(outcomes: Sequence[float], seed: int = 0, n_resamples: int = 2000) -> WinTieLoss:
    """Counts and tie-as-half win rate of a over b, with a bootstrap CI over prompts."""
    data = np.asarray(outcomes, dtype=float)
    if data.size == 0:
        raise ValueError("win_tie_loss needs at least one outcome")
    if not np.all(np.isin(data, (0.0, 0.5, 1.0))):
        raise ValueError("outcomes must be 1 (a wins), 0.5 (tie) or 0 (b wins)")
    return WinTieLoss(
        wins=int(np.sum(data == 1.0)),
        ties=int(np.sum(data == 0.5)),
        losses=int(np.sum(data == 0.0)),
        n=int(data.size),
        win_rate=float(np.mean(data)),
        win_rate_ci95=mean_ci95(data.tolist(), seed=seed, n_resamples=n_resamples),
    )


def both_orders_outcome(first: float | None, second: float | None) -> float | None:
    """Outcome for a from two judgments of one prompt, shown as (a, b) and then as (b, a).

    Both arguments are already from a's point of view: 1 = a preferred, 0.5 = tie, 0 = b
    preferred (the caller flips the verdict of the swapped order). Agreement keeps the verdict,
    any disagreement is a tie (paper's rule), and an unparsed judgment (None) gives None so the
    prompt is dropped and counted rather than scored.

    >>> both_orders_outcome(1, 1), both_orders_outcome(1, 0), both_orders_outcome(0, 0.5)
    (1.0, 0.5, 0.5)
    >>> both_orders_outcome(1, None) is None
    True
    """
    if first is None or second is None:
        return None
    for value in (first, second):
        if value not in (0.0, 0.5, 1.0):
            raise ValueError(f"a judgment must be 0, 0.5 or 1, got {value}")
    return float(first) if first == second else 0.5


def length_controlled_win_rate(
    preferences: Sequence[float],
    len_a: Sequence[float],
    len_b: Sequence[float],
    length_penalty: float = 0.01,
) -> float:
    """AlpacaEval-style length-controlled win rate of a over b (single model pair, see module doc)."""
    from scipy import optimize, special

    target = np.asarray(preferences, dtype=float)
    if target.size == 0 or not len(preferences) == len(len_a) == len(len_b):
        raise ValueError("need equally long, non-empty preferences and lengths")
    length_difference = np.asarray(len_a, dtype=float) - np.asarray(len_b, dtype=float)
    if np.any((target < 0) | (target > 1)):
        raise ValueError("preferences must lie in [0, 1]")
    if np.all(target == target[0]):
        return float(target[0])  # nothing for the model to explain; the fit would diverge
    # Scale by the spread but do not centre: zero must keep meaning "equally long".
    scale = float(np.std(length_difference)) or float(np.max(np.abs(length_difference))) or 1.0
    feature = np.tanh(length_difference / scale)

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        logits = theta[0] + theta[1] * feature
        # -[y log p + (1 - y) log(1 - p)] written with logaddexp for stability.
        nll = target * np.logaddexp(0.0, -logits) + (1.0 - target) * np.logaddexp(0.0, logits)
        residual = special.expit(logits) - target
        loss = float(np.mean(nll)) + length_penalty * theta[1] ** 2
        gradient = np.array([np.mean(residual), np.mean(residual * feature) + 2 * length_penalty * theta[1]])
        return loss, gradient

    fit = optimize.minimize(loss_and_gradient, x0=np.zeros(2), jac=True, method="BFGS", options={"gtol": 1e-10})
    return float(special.expit(fit.x[0]))


class BestOfN(TypedDict):
    prompts: int
    judge_best: float
    judge_worst: float
    mean: float
    reference_best: float
    headroom: float
    captured: float
    captured_ci95: tuple[float, float]


def best_of_n(
    groups: Sequence[tuple[Sequence[float | None], Sequence[float]]], seed: int = 0, n_resamples: int = 2000
) -> BestOfN:
    """The generator–verifier gap: what the judge's best-of-N pick is worth by a reference grade.

    Each group is one prompt's candidates: (judge scores, reference grades), in the same order;
    candidates the judge could not score are left out, and a prompt needs two scored ones. Per
    prompt: the reference grade of the judge's top pick (ties averaged: the expected grade of a
    random tie-break), of its bottom pick, the mean of the N, and the reference's own best. The
    share of the headroom captured is mean(judge pick - mean of N) / mean(reference best - mean
    of N): 0 for a judge at chance, 1 for one that always finds the best; its CI is a paired
    bootstrap over prompts.

    >>> report = best_of_n([([5, 1], [4, 2]), ([3, 3], [5, 1])], n_resamples=50)
    >>> report["judge_best"], report["mean"], report["reference_best"], report["captured"]
    (3.5, 3.0, 4.5, 0.3333333333333333)
    """
    from scipy import stats

    best, worst, mean, top = [], [], [], []
    for judge, reference in groups:
        if len(judge) != len(reference):
            raise ValueError("each group needs one reference grade per judge score")
        scored = [(float(j), float(r)) for j, r in zip(judge, reference, strict=True) if j is not None]
        if len(scored) < 2:
            continue
        high, low = max(j for j, _ in scored), min(j for j, _ in scored)
        best.append(float(np.mean([r for j, r in scored if j == high])))
        worst.append(float(np.mean([r for j, r in scored if j == low])))
        mean.append(float(np.mean([r for _, r in scored])))
        top.append(max(r for _, r in scored))
    if not best:
        nan = math.nan
        return BestOfN(prompts=0, judge_best=nan, judge_worst=nan, mean=nan, reference_best=nan,
                       headroom=nan, captured=nan, captured_ci95=(nan, nan))  # fmt: skip
    gain = np.asarray(best) - np.asarray(mean)
    room = np.asarray(top) - np.asarray(mean)

    def share(g: np.ndarray, r: np.ndarray, axis: int = -1) -> np.ndarray:
        total = np.sum(r, axis=axis)
        return np.where(total > 0, np.sum(g, axis=axis) / np.where(total > 0, total, 1.0), np.nan)

    captured = float(share(gain, room)) if room.sum() > 0 else math.nan
    low = high = math.nan
    if len(best) > 1 and room.sum() > 0 and not np.all(gain == gain[0]):
        ci = stats.bootstrap(
            (gain, room), share, paired=True, vectorized=True, n_resamples=n_resamples,
            confidence_level=0.95, method="percentile", rng=np.random.default_rng(seed),
        ).confidence_interval  # fmt: skip
        low, high = float(ci.low), float(ci.high)
    return BestOfN(
        prompts=len(best),
        judge_best=float(np.mean(best)),
        judge_worst=float(np.mean(worst)),
        mean=float(np.mean(mean)),
        reference_best=float(np.mean(top)),
        headroom=float(np.mean(room)),
        captured=captured,
        captured_ci95=(low, high),
    )


def paired_mean_difference(
    a: Sequence[float], b: Sequence[float], seed: int = 0, n_resamples: int = 2000
) -> tuple[float, tuple[float, float]]:
    """Mean of a - b over paired items (prompts) and its 95 % percentile-bootstrap CI.

    >>> paired_mean_difference([3.0, 4.0, 5.0], [3.0, 3.0, 3.0], n_resamples=50)[0]
    1.0
    """
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if diff.size == 0:
        raise ValueError("paired_mean_difference needs at least one pair")
    return float(diff.mean()), mean_ci95(diff.tolist(), seed, n_resamples)


def pairwise_accuracy_difference(
    before: Sequence[JudgedPrompt], after: Sequence[JudgedPrompt], seed: int = 0, n_resamples: int = 2000
) -> tuple[float, tuple[float, float]]:
    """Pairwise accuracy of `after` minus `before` on the same prompts (paired), with a 95 % CI.

    The two lists hold the same prompts in the same order, judged by two judges. The CI is a
    percentile bootstrap over prompts, each resample taking a prompt's pairs for both judges:
    the spread of the difference, not of either accuracy alone.

    >>> same = [JudgedPrompt((2.0, 1.0), (5.0, 3.0)), JudgedPrompt((2.0, 1.0), (4.0, 4.0))]
    >>> worse = [JudgedPrompt((2.0, 1.0), (3.0, 5.0)), JudgedPrompt((2.0, 1.0), (4.0, 4.0))]
    >>> pairwise_accuracy_difference(same, worse, n_resamples=50)[0]
    -0.5
    """
    from scipy import stats

    if len(before) != len(after):
        raise ValueError(f"{len(before)} prompts judged before but {len(after)} after")
    credit = np.array([[*pairwise_credit(b), *pairwise_credit(a)] for b, a in zip(before, after, strict=True)])
    if credit.size == 0:
        return math.nan, (math.nan, math.nan)

    def difference(credit_before: np.ndarray, n_before: np.ndarray, credit_after: np.ndarray, n_after: np.ndarray,
                   axis: int = -1) -> np.ndarray:  # fmt: skip
        with np.errstate(divide="ignore", invalid="ignore"):  # a resample with no pairs: NaN
            after = np.sum(credit_after, axis=axis) / np.sum(n_after, axis=axis)
            return after - np.sum(credit_before, axis=axis) / np.sum(n_before, axis=axis)

    columns = tuple(credit.T)
    delta = float(difference(*columns))
    if len(credit) < 2 or math.isnan(delta):
        return delta, (math.nan, math.nan)
    ci = stats.bootstrap(
        columns, difference, paired=True, vectorized=True, n_resamples=n_resamples,
        confidence_level=0.95, method="percentile", rng=np.random.default_rng(seed),
    ).confidence_interval  # fmt: skip
    return delta, (float(ci.low), float(ci.high))
