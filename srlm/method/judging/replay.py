"""EFT replay (`loop.eft_replay`): judge data kept in the DPO iterations, as preference pairs.

The paper trains judging once, in M1's SFT; DPO then trains answers only, and the judge is left
to drift. With replay, each iteration M_t judges n rows of its own EFT seed set again (k samples,
the judge's settings). Where a sample's score differs from the seed judgment's, the row becomes
a pair: prompt = the judge prompt, chosen = the seed judgment, rejected = the model's own
judgment furthest from it (an unparsed one counts as furthest). Rows the model judges right in
every sample give no pair. Nothing here needs more than the seed set the run started with.

Pure logic: which rows are replayed, and which of the model's judgments is rejected.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from srlm.method.judging.parse import MAX_SCORE, MIN_SCORE


@dataclass(frozen=True)
class Replayed:
    """One EFT row and the model's k judgments of it."""

    row_id: str
    judge_prompt: str
    seed_judgment: str
    seed_score: float | None
    samples: Sequence[tuple[str, float | None]]  # (text, parsed score)


@dataclass(frozen=True)
class ReplayPair:
    id: str
    prompt: str
    chosen: str
    rejected: str
    seed_score: float
    rejected_score: float | None


def choose_rows(ids: Sequence[str], n: int, seed: int) -> list[str]:
    """`n` of the EFT row ids (all when there are fewer), drawn without replacement by `seed`."""
    unique = list(dict.fromkeys(ids))
    if n >= len(unique):
        return unique
    return sorted(random.Random(seed).sample(unique, n), key=unique.index)


def replay_pairs(items: Sequence[Replayed]) -> tuple[list[ReplayPair], dict[str, int]]:
    """(pairs, counts): a pair per row the model misjudged in at least one sample.

    counts: `rows`, `samples`, `samples_right` (score equal to the seed's), `samples_unparsed`,
    `rows_all_right` (no pair), `seed_unparsed` (a seed judgment without a score: skipped), `pairs`.
    """
    worst = MAX_SCORE - MIN_SCORE + 1  # an unparsed sample is further off than any score
    pairs: list[ReplayPair] = []
    counts = dict.fromkeys(("rows", "samples", "samples_right", "samples_unparsed", "rows_all_right"), 0)
    counts["seed_unparsed"] = 0
    for item in items:
        counts["rows"] += 1
        if item.seed_score is None:
            counts["seed_unparsed"] += 1
            continue
        seed_score = item.seed_score
        counts["samples"] += len(item.samples)
        counts["samples_right"] += sum(score == seed_score for _, score in item.samples)
        counts["samples_unparsed"] += sum(score is None for _, score in item.samples)

        def distance(sample: tuple[str, float | None], target: float = seed_score) -> float:
            return worst if sample[1] is None else abs(sample[1] - target)

        off = max(item.samples, key=distance, default=None)  # the first of equally distant ones
        if off is None or distance(off) == 0:
            counts["rows_all_right"] += 1
            continue
        pairs.append(ReplayPair(item.row_id, item.judge_prompt, item.seed_judgment, off[0], seed_score, off[1]))
    counts["pairs"] = len(pairs)
    return pairs, counts
