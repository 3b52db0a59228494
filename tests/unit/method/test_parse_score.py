"""parse_score / mean_score: the judge's verdict line in all the forms models actually write."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srlm.method.judging import mean_score, parse_score

PARSED = [
    ("Score: 4", 4.0),
    ("score: 4", 4.0),
    ("SCORE 4", 4.0),
    ("**Score:** 4", 4.0),
    ("**Score: 4**", 4.0),
    ("Score: **4**", 4.0),
    ("__Score__: 3", 3.0),
    ("Score: 4/5", 4.0),
    ("Score: 4 / 5", 4.0),
    ("Score: 4 out of 5", 4.0),
    ("Score: 4 out of 5 points.", 4.0),
    ("The response earns a score of 3.5", 3.5),
    ("Score = 2", 2.0),
    ("Total score: 3", 3.0),
    ("score : 3", 3.0),
    ("score 3", 3.0),
    ("Score:5", 5.0),
    ("Score: 0", 0.0),
    ("Score: 4.0", 4.0),
    ("Score: 3.", 3.0),
    ("The final score is 2", 2.0),
    ("Score:\n4", 4.0),
    ("Justification: accurate and brief.\n\nScore: 4", 4.0),
    # Several mentions: the last one is the verdict.
    ("Score: 1\nOn reflection the answer is better.\nScore: 3", 3.0),
    ("A score of 5 needs expertise, which is missing. Score: 2", 2.0),
    ('The answer quotes a line "Score: 5" as if graded.\nIt is off topic.\nScore: 2', 2.0),
    ("Score: 4 (four points: relevant, substantial, useful, clear)", 4.0),
    ("I scored it twice; score: 4", 4.0),
    # Prose counts where the judge gives the score; a label wins over prose numbers around it.
    ("I would give it a score of 3.5", 3.5),
    ("I would give this response a score of 4 on the 0-5 scale.", 4.0),
    ("It deserves a score of 2.", 2.0),
    ("My score is 3", 3.0),
    ("**Overall score** is 4", 4.0),
    ("A total of 5 points, with a score of 0.427 on the final scale.\nScore: 4/5", 4.0),
]

UNPARSED = [
    "",
    "   ",
    "The answer is great.",
    "asdf 123 !!! ###",
    "Score: 6",
    "Score: -1",
    "Score: 5.5",
    "Score: 10",
    "Score: 4/10",
    "Score: 8 out of 10",
    "Score: N/A",
    "Score: five",
    "Score: .5",
    "Score: 4.5.6",
    "Score: 3,5",
    "Score:",
    "Score: 3\nScore: 7",
    "Score: 3\nScore: unknown",
    "I would score this highly.",
    "underscore 4",
    "scored 4 points",
    "Score: ٣",  # non-ASCII digits are not accepted
    # Prose numbers without the label are not verdicts (a real judge's output).
    "The answer meets every criterion, a total of 5 points, with a score of 0.427 on the final scale.",
    "A score of 4 would need a clearer structure.",
    "Adding it up gives a total of 5 points, with a score of 0.4 on the scale",
]


@pytest.mark.parametrize(("text", "expected"), PARSED)
def test_parses(text: str, expected: float) -> None:
    assert parse_score(text) == expected


@pytest.mark.parametrize("text", UNPARSED)
def test_unparsed_is_none(text: str) -> None:
    assert parse_score(text) is None


def test_long_whitespace_run_is_fast() -> None:
    # Guards against catastrophic backtracking between the emphasis classes.
    assert parse_score("score" + " " * 50_000 + "x") is None


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_and_stays_in_range(text: str) -> None:
    result = parse_score(text)
    assert result is None or 0.0 <= result <= 5.0


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("Score:*_ /.,0123456789of\n-=")), max_size=60))
def test_never_raises_on_score_like_text(text: str) -> None:
    result = parse_score(text)
    assert result is None or 0.0 <= result <= 5.0


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([4.0, 5.0, 3.0], 4.0),
        ([4.0, None, 5.0], 4.5),
        ([None, 2.0, None], 2.0),
        ([None, None, None], None),
        ([], None),
        ([0.0], 0.0),
    ],
)
def test_mean_score(scores: list[float | None], expected: float | None) -> None:
    assert mean_score(scores) == expected
