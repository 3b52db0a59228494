"""Preference pairs from self-judged candidates: the paper's AIFT(M_t) data for DPO.

For each prompt, chosen = the candidate with the highest mean judge score and rejected = the one
with the lowest; the prompt is dropped when they tie (paper, step 4 of the loop).

Where this departs from / adds to the paper:

- Candidates whose score is None (every judge sample failed to parse) are left out, never scored
  as the worst answer; a prompt needs at least two scored candidates.
- Ties *inside* the best (or worst) score are broken by candidate order: the first one wins.
  This keeps the output a pure function of the input order, with no random state to thread.
- ``min_score_gap`` (default 0, the paper's behaviour) optionally drops pairs whose gap is
  positive but small, a common guard against noisy-judge pairs.
- Every dropped prompt is counted by reason, so a collapsed judge (always 5) shows up as a wall of
  ``dropped_tie`` rather than a silently tiny dataset.

    pairs, counts = build_pairs(candidates, min_score_gap=0.5)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

PAIR_COUNT_KEYS: tuple[str, ...] = ("kept", "dropped_tie", "dropped_too_few_scored", "dropped_small_gap")


@dataclass(frozen=True)
class ScoredCandidate:
    """One sampled response to a prompt with its mean judge score (None: no sample parsed)."""

    id: str
    prompt_id: str
    prompt: str
    response: str
    score: float | None


@dataclass(frozen=True)
class Pair:
    """A DPO training pair: the best and the worst scored response to one prompt."""

    prompt_id: str
    prompt: str
    chosen: str
    rejected: str
    chosen_id: str
    rejected_id: str
    score_chosen: float
    score_rejected: float


def _group_by_prompt(candidates: Iterable[ScoredCandidate]) -> dict[str, list[ScoredCandidate]]:
    """Candidates per prompt_id, prompts in order of first appearance (dicts keep insertion order)."""
    groups: dict[str, list[ScoredCandidate]] = {}
    for candidate in candidates:
        if candidate.score is not None and math.isnan(candidate.score):
            raise ValueError(f"candidate {candidate.id!r} has a NaN score; use None for unscored")
        group = groups.setdefault(candidate.prompt_id, [])
        if group and group[0].prompt != candidate.prompt:
            raise ValueError(f"prompt_id {candidate.prompt_id!r} is used for two different prompts")
        group.append(candidate)
    return groups


def _score(candidate: ScoredCandidate) -> float:
    assert candidate.score is not None  # only called on scored candidates
    return candidate.score


def build_pairs(
    candidates: Iterable[ScoredCandidate], *, min_score_gap: float = 0.0
) -> tuple[list[Pair], dict[str, int]]:
    """Best-vs-worst pair per prompt, plus prompt counts by outcome (all of PAIR_COUNT_KEYS)."""
    if min_score_gap < 0:
        raise ValueError(f"min_score_gap must be >= 0, got {min_score_gap}")
    pairs: list[Pair] = []
    counts = dict.fromkeys(PAIR_COUNT_KEYS, 0)
    for prompt_id, group in _group_by_prompt(candidates).items():
        scored = [candidate for candidate in group if candidate.score is not None]
        if len(scored) < 2:
            counts["dropped_too_few_scored"] += 1
            continue
        # max/min return the first extreme element, which is the documented tie-break.
        best = max(scored, key=_score)
        worst = min(scored, key=_score)
        gap = _score(best) - _score(worst)
        if gap == 0:
            counts["dropped_tie"] += 1
        elif gap < min_score_gap:
            counts["dropped_small_gap"] += 1
        else:
            counts["kept"] += 1
            pairs.append(
                Pair(
                    prompt_id=prompt_id,
                    prompt=best.prompt,
                    chosen=best.response,
                    rejected=worst.response,
                    chosen_id=best.id,
                    rejected_id=worst.id,
                    score_chosen=_score(best),
                    score_rejected=_score(worst),
                )
            )
    return pairs, counts
