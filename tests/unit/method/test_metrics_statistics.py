"""Statistical behaviour of the metrics on synthetic data with a known truth (seeded, deterministic).

- The percentile-bootstrap 95 % CI (``mean_ci95`` and ``win_tie_loss``'s ``win_rate_ci95``) covers
  the true mean at about the nominal rate.
- ``length_controlled_win_rate`` recovers the zero-length-difference win rate of preferences
  simulated from its own logistic model, where the raw win rate is inflated by length.
- The rank correlations agree with scipy on a worked example with ties.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import special, stats

from srlm.method.metrics import JudgedPrompt, kendall_tau, length_controlled_win_rate, mean_ci95, spearman, win_tie_loss

REPETITIONS = 200
N = 100
RESAMPLES = 500  # enough for a 95 % percentile interval, and a few seconds for the whole file


def _coverage(draw: Callable[[np.random.Generator], np.ndarray], truth: float, use_win_tie_loss: bool = False) -> float:
    rng = np.random.default_rng(1234)
    covered = 0
    for repetition in range(REPETITIONS):
        sample = draw(rng)
        if use_win_tie_loss:
            low, high = win_tie_loss(sample.tolist(), seed=repetition, n_resamples=RESAMPLES)["win_rate_ci95"]
        else:
            low, high = mean_ci95(sample.tolist(), seed=repetition, n_resamples=RESAMPLES)
        assert low <= float(np.mean(sample)) <= high  # a percentile CI always contains the estimate
        covered += low <= truth <= high
    return covered / REPETITIONS


def test_mean_ci95_coverage_normal() -> None:
    coverage = _coverage(lambda rng: rng.normal(3.0, 2.0, N), truth=3.0)
    assert 0.88 <= coverage <= 0.99


def test_mean_ci95_coverage_bernoulli() -> None:
    coverage = _coverage(lambda rng: (rng.random(N) < 0.3).astype(float), truth=0.3)
    assert 0.88 <= coverage <= 0.99


def test_win_rate_ci95_coverage_with_ties() -> None:
    # P(win, tie, loss) = (0.5, 0.2, 0.3): true tie-as-half win rate 0.5 + 0.2 / 2 = 0.6.
    coverage = _coverage(
        lambda rng: rng.choice([1.0, 0.5, 0.0], size=N, p=[0.5, 0.2, 0.3]), truth=0.6, use_win_tie_loss=True
    )
    assert 0.88 <= coverage <= 0.99


def test_ci_width_shrinks_like_one_over_sqrt_n() -> None:
    rng = np.random.default_rng(7)
    small = rng.normal(0.0, 1.0, 100)
    large = rng.normal(0.0, 1.0, 1600)
    small_width = np.subtract(*mean_ci95(small.tolist(), n_resamples=RESAMPLES)[::-1])
    large_width = np.subtract(*mean_ci95(large.tolist(), n_resamples=RESAMPLES)[::-1])
    # 2 * 1.96 * sigma / sqrt(n): about 0.39 and 0.098; the ratio is about 4.
    assert small_width == pytest.approx(2 * 1.96 / 10, rel=0.25)
    assert small_width / large_width == pytest.approx(4.0, rel=0.25)


def _length_biased_preferences(truth: float, seed: int, n: int = 4000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Preferences from the function's own model: P(a wins) = sigmoid(logit(truth) + 2 * tanh(d / std(d))),
    where a's answers are longer on average (d = len_a - len_b ~ N(100, 100) words)."""
    rng = np.random.default_rng(seed)
    len_b = rng.integers(50, 400, n).astype(float)
    difference = rng.normal(100.0, 100.0, n)
    feature = np.tanh(difference / np.std(difference))
    p_a_wins = special.expit(special.logit(truth) + 2.0 * feature)
    preferences = (rng.random(n) < p_a_wins).astype(float)
    return preferences, len_b + difference, len_b


@pytest.mark.parametrize("truth", [0.5, 0.7])
@pytest.mark.parametrize("seed", [0, 1])
def test_length_controlled_win_rate_recovers_known_length_effect(truth: float, seed: int) -> None:
    preferences, len_a, len_b = _length_biased_preferences(truth, seed)
    raw = float(np.mean(preferences))
    assert raw - truth > 0.12  # length inflates the raw win rate (about +0.22 and +0.14)
    # Without the L2 penalty the fit is the generating model's MLE: it recovers the truth.
    unpenalised = length_controlled_win_rate(preferences.tolist(), len_a.tolist(), len_b.tolist(), length_penalty=0.0)
    assert unpenalised == pytest.approx(truth, abs=0.05)
    # The default penalty (0.01 on w^2, per the docstring) shrinks the length weight, so part of the
    # length effect leaks into the bias: the estimate moves most of the way from raw to the truth but
    # stays biased towards raw (about +0.04 to +0.08 here, independent of n). Documented tolerance: 0.1.
    default = length_controlled_win_rate(preferences.tolist(), len_a.tolist(), len_b.tolist())
    assert truth - 0.01 <= default <= truth + 0.1
    assert abs(default - truth) < abs(raw - truth) / 2


def test_length_controlled_win_rate_without_length_effect_equals_raw() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    len_a, len_b = rng.integers(50, 400, n).astype(float), rng.integers(50, 400, n).astype(float)
    preferences = (rng.random(n) < 0.65).astype(float)
    raw = float(np.mean(preferences))
    assert length_controlled_win_rate(preferences.tolist(), len_a.tolist(), len_b.tolist()) == pytest.approx(
        raw, abs=0.02
    )


def test_rank_correlations_match_scipy_on_a_worked_example() -> None:
    # Gold with a tie and a judge with a tie and a parse failure (dropped before scipy sees it).
    first = JudgedPrompt(gold=(5.0, 4.0, 4.0, 2.0, 1.0), judge=(4.5, 4.0, 2.0, 2.0, 3.0))
    second = JudgedPrompt(gold=(4.0, 3.0, 2.0, 1.0), judge=(1.0, None, 3.0, 2.0))
    gold_1, judge_1 = np.array(first.gold), np.array(first.judge, dtype=float)
    gold_2, judge_2 = np.array([4.0, 2.0, 1.0]), np.array([1.0, 3.0, 2.0])
    expected_rho = (stats.spearmanr(gold_1, judge_1).statistic + stats.spearmanr(gold_2, judge_2).statistic) / 2
    expected_tau = (stats.kendalltau(gold_1, judge_1).statistic + stats.kendalltau(gold_2, judge_2).statistic) / 2
    assert spearman([first, second]) == pytest.approx(expected_rho)
    assert kendall_tau([first, second]) == pytest.approx(expected_tau)
    # By hand for the second prompt: judge ranks (1, 3, 2) vs gold (3, 2, 1): rho = -0.5, tau = -1/3.
    assert spearman([second]) == pytest.approx(-0.5)
    assert kendall_tau([second]) == pytest.approx(-1 / 3)
