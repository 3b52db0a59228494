"""CREAM's consistency weight: hand-worked Kendall τ per prompt, C, and the TRL loss weights."""

from __future__ import annotations

import math

import pytest

from srlm.method.consistency import ROBUST_LABEL_SMOOTHING, consistency_weight, cream_dpo_args, prompt_consistency


def test_worked_example() -> None:
    # Prompt 1: one swapped neighbour pair of 4 -> 5 concordant, 1 discordant of 6: τ = 4/6.
    tau1 = prompt_consistency([4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 1.0, 2.0])
    # Prompt 2: the previous judge ranked the three answers in reverse: τ = -1.
    tau2 = prompt_consistency([5.0, 1.0, 3.0], [1.0, 5.0, 3.0])
    # Prompt 3: the current judge tied both answers: τ undefined, counted as 0.
    tau3 = prompt_consistency([2.0, 2.0], [1.0, 3.0])
    assert (tau1, tau2, tau3) == pytest.approx((2 / 3, -1.0, 0.0))
    c = consistency_weight([tau1, tau2, tau3])
    assert c == pytest.approx(((2 / 3 + 1) / 2 + 0.0 + 0.5) / 3)  # = 4/9
    assert c == pytest.approx(4 / 9)


def test_unscored_candidates_are_left_out() -> None:
    assert prompt_consistency([3.0, None, 1.0, 2.0], [2.0, 5.0, 0.0, 1.0]) == pytest.approx(1.0)
    assert prompt_consistency([3.0, None], [None, 1.0]) == 0.0  # nothing scored by both
    with pytest.raises(ValueError, match="previous"):
        prompt_consistency([1.0, 2.0], [1.0])


def test_weight_bounds() -> None:
    assert consistency_weight([1.0, 1.0]) == 1.0 and consistency_weight([-1.0]) == 0.0
    with pytest.raises(ValueError, match="at least one"):
        consistency_weight([])
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        consistency_weight([1.5])


@pytest.mark.parametrize("c", [0.0, 0.3, 4 / 9, 1.0])
def test_loss_weights_give_the_cream_loss(c: float) -> None:
    """TRL's documented per-pair losses, combined with our weights, equal C·DPO(+,-) + (1-C)·DPO(-,+)."""
    args = cream_dpo_args(c)
    assert args["loss_type"] == ["sigmoid", "robust"] and args["label_smoothing"] == ROBUST_LABEL_SMOOTHING
    eps = args["label_smoothing"]
    for z in (-3.0, -0.4, 0.0, 0.7, 2.5):  # z = β·Δ (chosen minus rejected log-ratio)
        a, b = -math.log1p(math.exp(-z)), -math.log1p(math.exp(z))  # log σ(z), log σ(-z)
        sigmoid = -a
        robust = (-(1 - eps) * a + eps * b) / (1 - 2 * eps)
        combined = args["loss_weights"][0] * sigmoid + args["loss_weights"][1] * robust
        assert combined == pytest.approx(c * -a + (1 - c) * -b)
    with pytest.raises(ValueError, match="consistency"):
        cream_dpo_args(1.2)
