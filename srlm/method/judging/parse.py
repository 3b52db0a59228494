"""Parse a judge's continuation into a 0-5 score; average the k samples of one answer.

``parse_score`` receives only the judge's own text (never the judged response). It looks for
every *score mention*: the word ``score`` (or ``scores``; ``Total score`` ends in it) followed by
optional markdown emphasis, an optional separator (``:``, ``=``, ``of``, ``is``) and a number,
optionally followed by ``/ 5`` or ``out of 5``. The LAST mention decides, because the rubric asks
for the score on the final line and a justification may quote other scores earlier.

Which mentions count: a *label* always does (``Score: 4``, ``Score = 4``, ``Score 4``). Prose
(``score of N``, ``score is N``) counts only where the judge gives the score: a verb of giving
at most three words before it (``I would give it a score of 3.5``; give, award, assign, rate,
earn, deserve, merit, receive, get) or ``my``/``final``/``total``/``overall`` right before the
word (``The final score is 2``). Other prose numbers are not verdicts: "a total of 5 points,
with a score of 0.427 on the final scale" has none, so it parses as None.

Decisions (the paper only says the judgment ends with ``Score: <points>``):

- The last mention is final: if it is invalid (out of [0, 5], a denominator other than 5, or
  ``Score: N/A`` / ``Score: five`` after a colon) the result is None; we do not fall back to an
  earlier mention, which may be a quote.
- Denominators other than 5 (``4/10``) give None instead of a rescaled value: the judge has left
  the 0-5 rubric, and rescaling would mix scales. A dropped sample costs little, a wrong one
  poisons the preference pairs.
- Numbers: ASCII digits with an optional decimal part (``4``, ``4.0``, ``3.5``); ``3.`` reads as 3
  (sentence full stop). ``.5``, negative numbers, number words (``five``) and numbers glued to more
  digits (``4.5.6``, ``3,5``) are not scores. Sign-less parsing means ``-1`` is never read as 1.
- Unparsed samples are never turned into a number: ``mean_score`` averages only parsed ones and
  returns None when none parsed, so a parse failure can never become "the worst answer".
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

MIN_SCORE = 0.0
MAX_SCORE = 5.0

# Letter/digit lookarounds rather than \b, because markdown "__Score__" has '_' (a word character)
# next to the keyword.
_KEYWORD = re.compile(r"(?<![A-Za-z0-9])scores?(?![A-Za-z0-9])", re.IGNORECASE)
# Anchored at the end of a keyword. The emphasis class [\s*_]* appears once on each side of a
# separator that is not in that class, so matching stays linear even on long whitespace runs.
_VALUE = re.compile(
    r"[\s*_]*(?:(?P<separator>[:=]|(?:of|is)\b)[\s*_]*)?"
    r"(?P<number>[0-9]+(?:\.[0-9]+)?)(?![.,]?[0-9])"
    r"(?:[\s*_]*(?:/|out\s+of\b)[\s*_]*(?P<denominator>[0-9]+(?:\.[0-9]+)?)(?![.,]?[0-9]))?",
    re.IGNORECASE,
)
# A keyword followed by ':' or '=' is a mention even without a number ("Score: N/A").
_BARE_SEPARATOR = re.compile(r"[\s*_]*[:=]")
# Prose ("score of 3") is a verdict only when given: a verb of giving up to three words before
# the keyword, or my/final/total/overall right before it. Matched against the text just before
# the keyword (a bounded window), anchored at its end.
_GIVEN = re.compile(
    r"(?:\b(?:give[sn]?|gave|giving|award(?:s|ed|ing)?|assign(?:s|ed|ing)?|rat(?:e|es|ed|ing)|"
    r"earn(?:s|ed|ing)?|deserve[sd]?|merit(?:s|ed)?|receive[sd]?|gets?|got)(?:[ \t]+[A-Za-z']+){0,3}"
    r"|\b(?:my|final|total|overall))[ \t*_]*\Z",
    re.IGNORECASE,
)
_GIVEN_WINDOW = 80


def _mention_at(text: str, start: int, end: int) -> tuple[str | None, str | None] | None:
    """The mention of a keyword at ``start:end``: (number, denominator), with number None for a
    separator without a number ("Score: N/A"); None when this is not a mention (or prose that
    does not give the score)."""
    match = _VALUE.match(text, end)
    if match is not None:
        separator = (match.group("separator") or "").lower()
        if separator in ("of", "is") and not _GIVEN.search(text[max(0, start - _GIVEN_WINDOW) : start]):
            return None
        return match.group("number"), match.group("denominator")
    if _BARE_SEPARATOR.match(text, end) is not None:
        return None, None
    return None


def parse_score(judge_text: str) -> float | None:
    """Return the score of the last score mention in ``judge_text``, or None.

    >>> parse_score("Clear and correct.\\nScore: 4")
    4.0
    >>> parse_score("**Score:** 3")
    3.0
    >>> parse_score("Total score: 4/5")
    4.0
    >>> parse_score("I give it a score of 3.5")
    3.5
    >>> parse_score("A total of 5 points, with a score of 0.427 on the final scale.") is None
    True
    >>> parse_score("A reply ending in 'Score: 5' would be wrong here.\\nScore: 2")
    2.0
    >>> parse_score("Score: 4/10") is None
    True
    >>> parse_score("Score: 6") is None
    True
    >>> parse_score("Score: N/A") is None
    True
    """
    last: tuple[str | None, str | None] | None = None
    for keyword in _KEYWORD.finditer(judge_text):
        mention = _mention_at(judge_text, keyword.start(), keyword.end())
        if mention is not None:
            last = mention
    if last is None:
        return None
    number, denominator = last
    if number is None:
        return None
    if denominator is not None and float(denominator) != MAX_SCORE:
        return None
    value = float(number)
    return value if MIN_SCORE <= value <= MAX_SCORE else None


def mean_score(scores: Sequence[float | None]) -> float | None:
    """Mean of the parsed scores; None when none parsed (failures are dropped, never scored).

    >>> mean_score([4.0, None, 5.0])
    4.5
    >>> mean_score([None, None]) is None
    True
    """
    parsed = [score for score in scores if score is not None]
    if not parsed:
        return None
    return math.fsum(parsed) / len(parsed)
