"""Meta-judge (Meta-Rewarding, arXiv 2407.19594): the model compares two of its own judgments.

A judge is a prompt file plus a pure parser: ``meta_judge.txt`` shows the request, the answer and
two judgments of it, and asks for ``Winner: A`` or ``Winner: B`` (read by ``parse_winner``).

Which judgments are compared: per prompt, the candidate whose parsed judge scores spread the
most (the first one on ties) — its first highest-scored and its first lowest-scored judgment.
Two judgments with the same score are never compared: they agree on the verdict, and the meta-judge
is there to settle a disagreement. Unparsed judgments are never compared either.

Each comparison is asked in both orders. Both orders naming the same judgment make it chosen and
the other rejected; a disagreement between the orders is a tie (position bias, as in the paper's
pairwise protocol) and an unparsed verdict is a failure; both are dropped and counted. The pairs
train the judge with DPO: prompt = the judge prompt of that answer, chosen / rejected = the two
judgments.

Where this departs from Meta-Rewarding: one comparison per prompt (the most disputed answer),
not an Elo rating over all judgments of each answer; no length control on judgments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srlm.method.judging.pairwise import Verdict, outcome_for_a
from srlm.method.judging.template import load_template
from srlm.method.metrics import both_orders_outcome

META_TEMPLATE_NAME = "meta_judge.txt"
META_PLACEHOLDERS: tuple[str, ...] = ("prompt", "response", "judgment_a", "judgment_b")
META_COUNT_KEYS: tuple[str, ...] = ("kept", "dropped_tie", "dropped_unparsed")


@dataclass(frozen=True)
class JudgmentPair:
    """Two judgments of one candidate to compare: sample indices of the higher and lower score."""

    prompt_id: str
    candidate_id: str
    high: int
    low: int


@dataclass(frozen=True)
class MetaVerdicts:
    """A judgment pair with its texts, scores and the meta-judge's verdict in each order."""

    pair: JudgmentPair
    judge_prompt: str
    texts: tuple[str, str]  # (high, low)
    scores: tuple[float, float]
    verdict_high_first: Verdict | None  # the high-scored judgment shown as A
    verdict_high_second: Verdict | None  # … shown as B


@dataclass(frozen=True)
class JudgePair:
    """A DPO pair that trains judging: the better and the worse judgment of one answer."""

    prompt_id: str
    candidate_id: str
    prompt: str
    chosen: str
    rejected: str
    chosen_sample: int
    rejected_sample: int
    score_chosen: float
    score_rejected: float


def _spread(row: Mapping[str, Any]) -> tuple[float, int, int]:
    """(max - min score, first index of max, first index of min) over parsed samples; 0 when < 2."""
    parsed = [(s["score"], i) for i, s in enumerate(row.get("samples", [])) if s.get("score") is not None]
    if len(parsed) < 2:
        return 0.0, -1, -1
    high = max(parsed, key=lambda item: item[0])  # first of the maxima
    low = min(parsed, key=lambda item: item[0])
    return high[0] - low[0], high[1], low[1]


def select_judgment_pairs(judgment_rows: Iterable[Mapping[str, Any]]) -> list[JudgmentPair]:
    """Per prompt (first appearance order): the most disputed candidate's highest vs lowest judgment.

    >>> rows = [
    ...     {"id": "c0", "prompt_id": "p", "samples": [{"score": 3}, {"score": 3}]},
    ...     {"id": "c1", "prompt_id": "p", "samples": [{"score": 1}, {"score": None}, {"score": 4}]},
    ... ]
    >>> select_judgment_pairs(rows)
    [JudgmentPair(prompt_id='p', candidate_id='c1', high=2, low=0)]
    """
    best: dict[str, tuple[float, JudgmentPair]] = {}
    for row in judgment_rows:
        spread, high, low = _spread(row)
        if spread <= 0:
            continue
        current = best.get(row["prompt_id"])
        if current is None or spread > current[0]:
            best[row["prompt_id"]] = (spread, JudgmentPair(row["prompt_id"], row["id"], high, low))
    return [pair for _, pair in best.values()]


def build_judge_pairs(items: Iterable[MetaVerdicts]) -> tuple[list[JudgePair], dict[str, int]]:
    """Judge-preference pairs from both-order meta verdicts, plus counts (all of META_COUNT_KEYS)."""
    pairs: list[JudgePair] = []
    counts = dict.fromkeys(META_COUNT_KEYS, 0)
    for item in items:
        outcome = both_orders_outcome(
            outcome_for_a(item.verdict_high_first, a_shown_first=True),
            outcome_for_a(item.verdict_high_second, a_shown_first=False),
        )
        if outcome is None:
            counts["dropped_unparsed"] += 1
            continue
        if outcome == 0.5:
            counts["dropped_tie"] += 1
            continue
        # outcome is the high-scored judgment's: 1 = it is the better judgment.
        order = (0, 1) if outcome == 1.0 else (1, 0)
        indices = (item.pair.high, item.pair.low)
        counts["kept"] += 1
        pairs.append(
            JudgePair(
                prompt_id=item.pair.prompt_id,
                candidate_id=item.pair.candidate_id,
                prompt=item.judge_prompt,
                chosen=item.texts[order[0]],
                rejected=item.texts[order[1]],
                chosen_sample=indices[order[0]],
                rejected_sample=indices[order[1]],
                score_chosen=item.scores[order[0]],
                score_rejected=item.scores[order[1]],
            )
        )
    return pairs, counts


def load_meta_template(path: str | Path | None = None) -> str:
    """The meta-judge prompt at ``path`` (default: the shipped ``meta_judge.txt``).

    >>> all("{" + name + "}" in load_meta_template() for name in META_PLACEHOLDERS)
    True
    """
    return load_template(path, default=META_TEMPLATE_NAME, placeholders=META_PLACEHOLDERS, kind="meta-judge")
