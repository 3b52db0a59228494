"""CREAM's consistency-weighted DPO (arXiv 2410.12735): how far to trust this iteration's labels.

For every prompt that gave a training pair, the current judge M_t and the previous iteration's
judge M_(t-1) each score the same candidates; τ = Kendall τ-b (scipy) between the two rankings.
The consistency C is the mean of (τ + 1) / 2 over those prompts, in [0, 1], and DPO trains on

    C·DPO(y+, y-) + (1 - C)·DPO(y-, y+)

so a judge that disagrees with its predecessor pulls the update towards "no preference".

Where this departs from / adds to CREAM:

- A prompt whose τ is undefined (fewer than two candidates scored by both judges, or one judge
  giving them all the same score) counts as τ = 0: no evidence of agreement, weight 0.5.
- Iteration 1 has no previous self-rewarding judge (M0 never learned to judge), so the stage
  applies from iteration 2 on; iteration 1 trains plain DPO.

TRL 1.16 reads ``label_smoothing`` only in its 'robust', 'exo_pair' and 'aot' losses, not in
'sigmoid' (plain DPO), so ``label_smoothing = 1 - C`` alone would silently train plain DPO. With
a = log σ(βΔ) and b = log σ(-βΔ), TRL's 'robust' loss at label_smoothing 1/3 is -2a + b and
'sigmoid' is -a, hence exactly, for every C in [0, 1]:

    C·(-a) + (1 - C)·(-b) = (2 - C)·sigmoid - (1 - C)·robust(1/3)

which ``cream_dpo_args`` expresses with TRL's own ``loss_type`` / ``loss_weights``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from scipy import stats

ROBUST_LABEL_SMOOTHING = 1 / 3


def prompt_consistency(current: Sequence[float | None], previous: Sequence[float | None]) -> float:
    """Kendall τ-b between two judges' scores of one prompt's candidates (0 when undefined).

    Candidates either judge failed to score are left out.

    >>> prompt_consistency([4.0, 2.0, 1.0], [5.0, 3.0, 0.0])
    1.0
    >>> prompt_consistency([4.0, 2.0, None], [3.0, 3.0, 1.0])
    0.0
    """
    if len(current) != len(previous):
        raise ValueError(f"{len(current)} current scores but {len(previous)} previous ones")
    both = [(x, y) for x, y in zip(current, previous, strict=True) if x is not None and y is not None]
    if len(both) < 2:
        return 0.0
    tau = float(stats.kendalltau([x for x, _ in both], [y for _, y in both]).statistic)
    return 0.0 if math.isnan(tau) else tau


def consistency_weight(taus: Iterable[float]) -> float:
    """C = mean of (τ + 1) / 2 over prompts.

    >>> consistency_weight([1.0, 0.0, -1 / 3])
    0.6111111111111112
    """
    values = list(taus)
    if not values:
        raise ValueError("consistency_weight needs at least one prompt")
    if any(not -1.0 <= tau <= 1.0 for tau in values):
        raise ValueError(f"Kendall τ lies in [-1, 1], got {values}")
    return sum((tau + 1.0) / 2.0 for tau in values) / len(values)


def cream_dpo_args(consistency: float) -> dict[str, Any]:
    """DPOConfig fields for C·DPO(y+, y-) + (1 - C)·DPO(y-, y+) with TRL's own losses.

    >>> cream_dpo_args(1.0)["loss_weights"]
    [1.0, -0.0]
    """
    if not 0.0 <= consistency <= 1.0:
        raise ValueError(f"consistency must be in [0, 1], got {consistency}")
    return {
        "loss_type": ["sigmoid", "robust"],
        "loss_weights": [2.0 - consistency, -(1.0 - consistency)],
        "label_smoothing": ROBUST_LABEL_SMOOTHING,
    }
