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
- A pair whose chosen and rejected texts are identical teaches nothing and is dropped
  (``dropped_identical``); with ``drop_truncated`` responses cut off at the token limit never enter
  a pair (``dropped_truncated`` counts prompts left with fewer than two complete scored ones).

Beyond the paper (PAPER.md, "Follow-ups"):

- ``length_control_rho`` (Meta-Rewarding's rule against length exploitation): with Smax / Smin the
  highest / lowest score of a prompt, chosen = the *shortest* answer scoring in
  [(1-ρ)·Smax + ρ·Smin, Smax] and rejected = the *longest* in [Smin, (1-ρ)·Smin + ρ·Smax].
  Length is counted in characters; equal lengths go to the earlier candidate. ρ is kept below 0.5,
  so the two bands never overlap and chosen always scores above rejected; ρ = 0 keeps only the
  top / bottom score and picks among ties by length.
- ``pairwise_scores`` + ``build_pairwise_pairs``: pairs from both-order pairwise comparisons
  instead of pointwise scores. A candidate's score is its mean outcome over its comparisons
  (win 1, tie 0.5, loss 0; a disagreement between the two orders is a tie); the rules above then
  pick chosen / rejected, and a pair is kept only if chosen beat rejected in their own comparison.
- ``build_anchored_pairs`` (Temporal Self-Rewarding's *anchored rejection*, arXiv 2508.06026):
  chosen = the best of the current model's answers, rejected = the worst of a past model's
  answers to the same prompt (both scored by the current judge), so the two sides do not grow
  alike as the model improves. A prompt is kept only when chosen scores above rejected.

    pairs, counts = build_pairs(candidates, min_score_gap=0.5, length_control_rho=0.2)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

PAIR_COUNT_KEYS: tuple[str, ...] = (
    "kept",
    "dropped_tie",
    "dropped_too_few_scored",
    "dropped_small_gap",
    "dropped_identical",
    "dropped_truncated",
)
PAIRWISE_COUNT_KEYS: tuple[str, ...] = (*PAIR_COUNT_KEYS, "dropped_not_won_directly")


@dataclass(frozen=True)
class ScoredCandidate:
    """One sampled response to a prompt with its mean judge score (None: no sample parsed).

    ``truncated``: the response stopped at the token limit without an end of sequence.
    """

    id: str
    prompt_id: str
    prompt: str
    response: str
    score: float | None
    truncated: bool = False


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
    chosen_truncated: bool = False
    rejected_truncated: bool = False


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


def _length(candidate: ScoredCandidate) -> int:
    return len(candidate.response)


def _pair(prompt_id: str, chosen: ScoredCandidate, rejected: ScoredCandidate) -> Pair:
    return Pair(
        prompt_id=prompt_id,
        prompt=chosen.prompt,
        chosen=chosen.response,
        rejected=rejected.response,
        chosen_id=chosen.id,
        rejected_id=rejected.id,
        score_chosen=_score(chosen),
        score_rejected=_score(rejected),
        chosen_truncated=chosen.truncated,
        rejected_truncated=rejected.truncated,
    )


def _select(scored: list[ScoredCandidate], rho: float | None) -> tuple[ScoredCandidate, ScoredCandidate]:
    """(chosen, rejected) among scored candidates: best vs worst, or the ρ bands' short vs long."""
    # max/min return the first extreme element, which is the documented tie-break.
    best, worst = max(scored, key=_score), min(scored, key=_score)
    if rho is None:
        return best, worst
    spread = _score(best) - _score(worst)
    top = [c for c in scored if _score(c) >= _score(best) - rho * spread]
    bottom = [c for c in scored if _score(c) <= _score(worst) + rho * spread]
    return min(top, key=_length), max(bottom, key=_length)


def build_pairs(
    candidates: Iterable[ScoredCandidate],
    *,
    min_score_gap: float = 0.0,
    length_control_rho: float | None = None,
    drop_truncated: bool = False,
) -> tuple[list[Pair], dict[str, int]]:
    """Best-vs-worst pair per prompt, plus prompt counts by outcome (all of PAIR_COUNT_KEYS).

    With ``length_control_rho`` the pair is the shortest top-band vs the longest bottom-band answer.
    With ``drop_truncated`` cut-off responses are left out (``dropped_truncated``: fewer than two
    scored complete ones remained). A pair whose two texts are identical is dropped
    (``dropped_identical``): the judge scored the same answer twice, differently.
    """
    if min_score_gap < 0:
        raise ValueError(f"min_score_gap must be >= 0, got {min_score_gap}")
    if length_control_rho is not None and not 0 <= length_control_rho < 0.5:
        raise ValueError(f"length_control_rho must be in [0, 0.5), got {length_control_rho}")
    pairs: list[Pair] = []
    counts = dict.fromkeys(PAIR_COUNT_KEYS, 0)
    for prompt_id, group in _group_by_prompt(candidates).items():
        scored = [candidate for candidate in group if candidate.score is not None]
        if drop_truncated:
            complete = [candidate for candidate in scored if not candidate.truncated]
            if len(scored) >= 2 and len(complete) < 2:
                counts["dropped_truncated"] += 1
                continue
            scored = complete
        if len(scored) < 2:
            counts["dropped_too_few_scored"] += 1
            continue
        best, worst = _select(scored, length_control_rho)
        gap = _score(best) - _score(worst)
        if gap == 0:
            counts["dropped_tie"] += 1
        elif gap < min_score_gap:
            counts["dropped_small_gap"] += 1
        elif best.response == worst.response:
            counts["dropped_identical"] += 1
        else:
            counts["kept"] += 1
            pairs.append(_pair(prompt_id, best, worst))
    return pairs, counts


@dataclass(frozen=True)
class Comparison:
    """Candidates a and b of one prompt judged in both orders; a's outcome: 1 won, 0.5 tie, 0 lost, None unparsed."""

    a: str
    b: str
    outcome: float | None


def pairwise_scores(candidate_ids: Iterable[str], comparisons: Iterable[Comparison]) -> dict[str, float | None]:
    """Each candidate's mean outcome over its parsed comparisons (None when it has none).

    >>> pairwise_scores(["x", "y", "z"], [Comparison("x", "y", 1.0), Comparison("x", "z", 0.5)])
    {'x': 0.75, 'y': 0.0, 'z': 0.5}
    """
    outcomes: dict[str, list[float]] = {cid: [] for cid in candidate_ids}
    for comparison in comparisons:
        if comparison.a not in outcomes or comparison.b not in outcomes:
            raise ValueError(f"comparison {comparison.a!r} vs {comparison.b!r} names an unknown candidate")
        if comparison.outcome is not None:
            outcomes[comparison.a].append(comparison.outcome)
            outcomes[comparison.b].append(1.0 - comparison.outcome)
    return {cid: sum(values) / len(values) if values else None for cid, values in outcomes.items()}


def build_pairwise_pairs(
    candidates: Iterable[ScoredCandidate],
    comparisons: Iterable[Comparison],
    *,
    min_score_gap: float = 0.0,
    length_control_rho: float | None = None,
    drop_truncated: bool = False,
) -> tuple[list[Pair], dict[str, int]]:
    """Pairs from pairwise outcomes: pick by mean outcome, keep only direct wins (PAIRWISE_COUNT_KEYS)."""
    candidates, comparisons = list(candidates), list(comparisons)
    scores = pairwise_scores([c.id for c in candidates], comparisons)
    rescored = [replace(c, score=scores[c.id]) for c in candidates]
    pairs, counts = build_pairs(
        rescored, min_score_gap=min_score_gap, length_control_rho=length_control_rho, drop_truncated=drop_truncated
    )
    # Mean outcomes can rank chosen above rejected even when their own comparison was a tie (or a
    # loss, in a cycle); the judge never preferred chosen there, so such a pair is not kept.
    won = {(c.a, c.b) for c in comparisons if c.outcome == 1.0} | {(c.b, c.a) for c in comparisons if c.outcome == 0.0}
    kept = [pair for pair in pairs if (pair.chosen_id, pair.rejected_id) in won]
    counts["kept"] = len(kept)
    counts["dropped_not_won_directly"] = len(pairs) - len(kept)
    return kept, counts


ANCHORED_COUNT_KEYS: tuple[str, ...] = (*PAIR_COUNT_KEYS, "dropped_no_anchor", "dropped_anchor_better")


def build_anchored_pairs(
    candidates: Iterable[ScoredCandidate],
    anchors: Iterable[ScoredCandidate],
    *,
    min_score_gap: float = 0.0,
    drop_truncated: bool = False,
) -> tuple[list[Pair], dict[str, int]]:
    """Best current answer vs worst past (anchor) answer per prompt, plus counts (ANCHORED_COUNT_KEYS).

    A prompt needs a scored (complete, with ``drop_truncated``) answer on each side: none among the
    current answers counts as ``dropped_too_few_scored`` (``dropped_truncated`` when only cut-off ones
    were scored), none among the anchors as ``dropped_no_anchor``. Chosen must score strictly above
    rejected: a tie is ``dropped_tie``, a past answer scored above every current one
    ``dropped_anchor_better``; a positive gap below ``min_score_gap`` is ``dropped_small_gap``.

    >>> now = [ScoredCandidate("p-c0", "p", "q", "good", 4.0), ScoredCandidate("p-c1", "p", "q", "ok", 3.0)]
    >>> past = [ScoredCandidate("p-a0", "p", "q", "bad", 1.0), ScoredCandidate("p-a1", "p", "q", "meh", 2.0)]
    >>> pairs, counts = build_anchored_pairs(now, past)
    >>> (pairs[0].chosen, pairs[0].rejected, counts["kept"])
    ('good', 'bad', 1)
    """
    if min_score_gap < 0:
        raise ValueError(f"min_score_gap must be >= 0, got {min_score_gap}")
    past = _group_by_prompt(anchors)
    pairs: list[Pair] = []
    counts = dict.fromkeys(ANCHORED_COUNT_KEYS, 0)

    def usable(group: list[ScoredCandidate]) -> list[ScoredCandidate]:
        scored = [c for c in group if c.score is not None]
        return [c for c in scored if not c.truncated] if drop_truncated else scored

    for prompt_id, group in _group_by_prompt(candidates).items():
        current, anchor = usable(group), usable(past.get(prompt_id, []))
        if not current:
            cut = drop_truncated and any(c.score is not None for c in group)
            counts["dropped_truncated" if cut else "dropped_too_few_scored"] += 1
            continue
        if not anchor:
            counts["dropped_no_anchor"] += 1
            continue
        best, worst = max(current, key=_score), min(anchor, key=_score)
        if best.prompt != worst.prompt:
            raise ValueError(f"prompt_id {prompt_id!r} names different prompts in the candidates and the anchors")
        gap = _score(best) - _score(worst)
        if gap == 0:
            counts["dropped_tie"] += 1
        elif gap < 0:
            counts["dropped_anchor_better"] += 1
        elif gap < min_score_gap:
            counts["dropped_small_gap"] += 1
        elif best.response == worst.response:
            counts["dropped_identical"] += 1
        else:
            counts["kept"] += 1
            pairs.append(_pair(prompt_id, best, worst))
    return pairs, counts
