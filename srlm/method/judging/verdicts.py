"""Verdict pairs (`loop.verdict_pairs`): judge data kept in the DPO iterations, with no generation.

The paper trains judging once, in M1's SFT; DPO then trains answers only, and the judge's
verdicts drift. Each iteration, n rows of the EFT seed set become pairs: prompt = the judge
prompt, chosen = the seed judgment, rejected = the same judgment with one verdict flipped (a line
ending `, yes` ends `, no`, and the other way). The two sides share every word up to the flipped
one, so DPO teaches the verdict that the line's own evidence implies, and the NLL term
(`dpo.nll_weight`) trains the seed judgment whole. Which line is flipped is drawn per row.

A judgment without such a line (in the world: an empty answer's `answer empty / score : 0`) is
kept with both sides equal. DPO's term is then constant (zero gradient) and only the NLL term
trains it, so the judgments the NLL term trains keep the seed set's mix. Dropping them made the
world's judge forget empty answers (docs/world.md).

Pure logic: which lines carry a verdict, and the flipped judgment.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

FLIPPED = {"yes": "no", "no": "yes"}
_VERDICT = re.compile(r",\s*(yes|no)\s*$")  # `end with fish : last fish , yes`


@dataclass(frozen=True)
class VerdictPair:
    id: str
    prompt: str
    chosen: str
    rejected: str
    line: int | None  # the flipped line, counted from 0; None: no verdict line, both sides equal
    verdict: str | None  # its verdict in the seed judgment


def verdict_lines(judgment: str) -> list[int]:
    """The indices of the lines that end in a verdict after a comma (`… , yes` or `… , no`).

    >>> verdict_lines("topic sea : sea , yes\\nmet one of two\\nclean : yes\\nextra : tree , no\\nscore : 3")
    [0, 3]
    """
    return [i for i, line in enumerate(judgment.split("\n")) if _VERDICT.search(line)]


def flip_line(judgment: str, index: int) -> str:
    """The judgment with line `index`'s verdict flipped; every other character unchanged.

    >>> flip_line("end with fish : last fish , yes\\nscore : 5", 0)
    'end with fish : last fish , no\\nscore : 5'
    """
    lines = judgment.split("\n")
    match = _VERDICT.search(lines[index])
    if match is None:
        raise ValueError(f"line {index} has no verdict: {lines[index]!r}")
    start, end = match.span(1)
    lines[index] = lines[index][:start] + FLIPPED[match.group(1)] + lines[index][end:]
    return "\n".join(lines)


def verdict_pairs(rows: Sequence[tuple[str, str, str]], seed: int) -> tuple[list[VerdictPair], dict[str, int]]:
    """(pairs, counts) from (row id, judge prompt, seed judgment) rows: one pair per row.

    The flipped line is drawn per row from `seed` and the row id, so a row flips the same line
    whatever other rows are drawn. counts: `rows`, `pairs`, `flipped_yes` and `flipped_no` (the
    seed verdicts that were flipped), `no_verdict_line` (kept with both sides equal: NLL only).
    """
    pairs: list[VerdictPair] = []
    counts = dict.fromkeys(("rows", "pairs", "flipped_yes", "flipped_no", "no_verdict_line"), 0)
    for row_id, prompt, judgment in rows:
        counts["rows"] += 1
        candidates = verdict_lines(judgment)
        if not candidates:
            counts["no_verdict_line"] += 1
            pairs.append(VerdictPair(row_id, prompt, judgment, judgment, None, None))
            continue
        index = random.Random(f"{seed}/{row_id}").choice(candidates)
        match = _VERDICT.search(judgment.split("\n")[index])
        assert match is not None  # verdict_lines found it
        verdict = match.group(1)
        counts[f"flipped_{verdict}"] += 1
        pairs.append(VerdictPair(row_id, prompt, judgment, flip_line(judgment, index), index, verdict))
    counts["pairs"] = len(pairs)
    return pairs, counts
