"""Pairwise judging (the paper's GPT-4 protocol): which of two answers is better, in both orders.

A judge is a prompt file plus a pure parser: ``pairwise.txt`` asks for a final line ``Winner: A`` or
``Winner: B``; ``parse_winner`` reads only the judge's own continuation. The LAST ``Winner`` mention
decides (the justification may quote the format earlier). An explicit ``Winner: tie`` is a tie
(1/2 for each side). Anything else — ``Winner: both``, no mention — is None: a parse failure,
counted and dropped, never a verdict.

Each prompt is judged twice, once with a's answer shown as A and once as B; ``outcome_for_a`` turns
each verdict into a's point of view, and ``srlm.method.metrics.both_orders_outcome`` makes a disagreement a
tie (this removes position bias from the verdict, as the paper did with GPT-4).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from srlm.method.judging.template import load_template

PAIRWISE_TEMPLATE_NAME = "pairwise.txt"
PAIRWISE_PLACEHOLDERS: tuple[str, ...] = ("prompt", "response_a", "response_b")

Verdict = Literal["A", "B", "tie"]

# "Winner" then optional markdown/punctuation, then a label that is A or B (optionally written as
# "Answer A" / "Response B") which must not run on into a longer word ("Winner: Answer" is no label).
_MENTION = re.compile(
    r"(?<![A-Za-z0-9])winner(?![A-Za-z0-9])[\s*_]*(?:[:=]|\bis\b)?[\s*_]*"
    r"(?:(?:answer|response)\s+)?(?P<label>[A-Za-z]+)?",
    re.IGNORECASE,
)


def parse_winner(judge_text: str) -> Verdict | None:
    """The verdict of the last ``Winner`` mention (A, B or tie), or None when it names none of them.

    >>> parse_winner("A is more direct.\\nWinner: A")
    'A'
    >>> parse_winner("**Winner:** b")
    'B'
    >>> parse_winner("Winner: Answer B")
    'B'
    >>> parse_winner("The format is 'Winner: A'. Here B is better.\\nWinner: B")
    'B'
    >>> parse_winner("Winner: tie"), parse_winner("**Winner:** Tie.")
    ('tie', 'tie')
    >>> parse_winner("Both are fine.") is None
    True
    """
    last: str | None = None
    seen = False
    for match in _MENTION.finditer(judge_text):
        seen = True
        last = match.group("label")
    if not seen or last is None:
        return None
    if last.lower() == "tie":
        return "tie"
    label = last.upper()
    return label if label in ("A", "B") else None  # type: ignore[return-value]


def outcome_for_a(verdict: Verdict | None, a_shown_first: bool) -> float | None:
    """1.0 when model a's answer won, 0.0 when it lost, 0.5 for a tie, None for an unparsed verdict.

    >>> outcome_for_a("A", True), outcome_for_a("A", False), outcome_for_a("B", False), outcome_for_a("tie", True)
    (1.0, 0.0, 1.0, 0.5)
    >>> outcome_for_a(None, True) is None
    True
    """
    if verdict is None:
        return None
    if verdict == "tie":
        return 0.5
    a_label = "A" if a_shown_first else "B"
    return 1.0 if verdict == a_label else 0.0


def load_pairwise_template(path: str | Path | None = None) -> str:
    """The pairwise judge prompt at ``path`` (default: the shipped ``pairwise.txt``).

    >>> all("{" + name + "}" in load_pairwise_template() for name in PAIRWISE_PLACEHOLDERS)
    True
    """
    return load_template(
        path, default=PAIRWISE_TEMPLATE_NAME, placeholders=PAIRWISE_PLACEHOLDERS, kind="pairwise judge"
    )
