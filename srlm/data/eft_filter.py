"""The paper's EFT filter, as pure functions: agreement with the human ranking, score thinning.

The SFT baseline judges every (prompt, answer) of the EFT training prompts once. A prompt's
judgments are kept only when their scores order the answers as the humans ranked them; the kept
judgments are then thinned so the most common score is no more frequent than the second most
common (the paper thinned score 4: "sub-sampled to balance the score distribution").

Decisions the paper leaves open:
- Agreement is strict: for every two answers the humans ranked differently, the better one must
  get the higher score. A judge tie does not express the human order, so it does not agree.
  Answers with equal human ranks may be scored in any order.
- A prompt with any unparsed judgment is dropped whole (its order cannot be checked); the failure
  is counted, never scored.
- Train and eval are split by prompt before judging. The eval split keeps the human ranks only,
  unfiltered: filtered by the SFT judge's own agreement, it would score that judge 100 % by
  construction (the paper reports 65.1 % pairwise accuracy for the SFT baseline).
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def agrees_with_ranking(ranks: Sequence[int], scores: Sequence[float]) -> bool:
    """Whether the scores order every differently ranked pair as the ranks do (rank 0 = best).

    >>> agrees_with_ranking([0, 1, 2], [5, 3, 1])
    True
    >>> agrees_with_ranking([0, 1, 2], [5, 5, 1])  # a judge tie on a human-ordered pair
    False
    >>> agrees_with_ranking([0, 1], [2, 4])
    False
    >>> agrees_with_ranking([0, 0, 1], [3, 4, 2])  # equal human ranks: either order
    True
    """
    if len(ranks) != len(scores):
        raise ValueError(f"{len(ranks)} ranks but {len(scores)} scores")
    return all(
        scores[i] > scores[j]
        for i in range(len(ranks))
        for j in range(len(ranks))
        if ranks[i] < ranks[j]  # i was ranked better than j
    )


def split_by_prompt(ids: Sequence[str], eval_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train ids, eval ids): the first `eval_fraction` of the ids in a seeded hash order are eval.

    The split depends on the seed and the set of ids, not on their order; each side keeps the input order.

    >>> train, evals = split_by_prompt(["a", "b", "c", "d"], 0.5, seed=0)
    >>> (set(train), set(evals)) == tuple(map(set, split_by_prompt(["d", "c", "b", "a"], 0.5, seed=0)))
    True
    >>> len(split_by_prompt(["a", "b", "c", "d"], 0.25, seed=0)[1])
    1
    """
    if not 0 <= eval_fraction < 1:
        raise ValueError(f"eval_fraction must be in [0, 1), got {eval_fraction}")
    ordered = sorted(ids, key=lambda i: hashlib.sha256(f"{seed}/eft-split/{i}".encode()).hexdigest())
    n_eval = round(eval_fraction * len(ordered))
    eval_ids = set(ordered[:n_eval])
    return [i for i in ids if i not in eval_ids], [i for i in ids if i in eval_ids]


def thin_most_common(rows: Sequence[dict[str, Any]], seed: int, key: str = "score") -> list[dict[str, Any]]:
    """Drop rows of the most common (rounded) score, at random, down to the second most common count.

    Row order is kept. With a single score value there is nothing to balance against: all are kept.

    >>> rows = [{"score": s} for s in (4, 4, 4, 4, 3, 3, 5)]
    >>> [r["score"] for r in thin_most_common(rows, seed=0)]
    [4, 4, 3, 3, 5]
    """
    scores = [round(float(row[key])) for row in rows]
    counts = Counter(scores).most_common()
    if len(counts) < 2:
        return list(rows)
    top, cap = counts[0][0], counts[1][1]
    top_rows = [i for i, score in enumerate(scores) if score == top]
    drop = set(random.Random(f"{seed}/eft-thin").sample(top_rows, len(top_rows) - cap))
    return [row for i, row in enumerate(rows) if i not in drop]


@dataclass(frozen=True)
class JudgedAnswer:
    id: str
    response: str
    rank: int
    judgment: str
    score: float | None


FILTER_COUNTS = (
    "prompts_judged",
    "answers_judged",
    "parse_failures",
    "prompts_with_parse_failure",
    "prompts_disagreeing",
    "prompts_agreeing",
    "answers_agreeing",
)
JudgedPrompt = tuple[str, str, Sequence[JudgedAnswer]]  # (prompt id, prompt, judged answers)


def agreeing_rows(prompts: Sequence[JudgedPrompt]) -> tuple[list[dict[str, Any]], Counter[str]]:
    """EFT training rows of the prompts whose judgments agree with the human ranking, and counts
    (`FILTER_COUNTS`; parse_failures counts answers)."""
    counts: Counter[str] = Counter(dict.fromkeys(FILTER_COUNTS, 0))  # zeros are reported too
    rows: list[dict[str, Any]] = []
    for prompt_id, prompt, answers in prompts:
        counts["prompts_judged"] += 1
        counts["answers_judged"] += len(answers)
        failures = sum(1 for a in answers if a.score is None)
        counts["parse_failures"] += failures
        if failures:
            counts["prompts_with_parse_failure"] += 1
            continue
        scores = [float(a.score) for a in answers if a.score is not None]
        if not agrees_with_ranking([a.rank for a in answers], scores):
            counts["prompts_disagreeing"] += 1
            continue
        counts["prompts_agreeing"] += 1
        counts["answers_agreeing"] += len(answers)
        rows += [
            {
                "id": a.id,
                "prompt_id": prompt_id,
                "prompt": prompt,
                "response": a.response,
                "judgment": a.judgment,
                "score": a.score,
                "human_rank": a.rank,
            }
            for a in answers
        ]
    return rows, counts


def judge_eval_row(prompt_id: str, prompt: str, responses: Sequence[str], ranks: Sequence[int]) -> dict[str, Any]:
    """A ranked judge-eval row {id, prompt, responses, scores}: best first, gold score = worst rank - rank.

    >>> judge_eval_row("p", "q", ["b", "a"], [1, 0])["scores"]
    [1.0, 0.0]
    """
    ordered = sorted(zip(ranks, responses, strict=True), key=lambda pair: pair[0])
    worst = max(ranks)
    return {
        "id": prompt_id,
        "prompt": prompt,
        "responses": [response for _, response in ordered],
        "scores": [float(worst - rank) for rank, _ in ordered],
    }
