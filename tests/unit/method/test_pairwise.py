"""The pairwise judge: parser, order bookkeeping, and both-order ties (the paper's GPT-4 rule)."""

from __future__ import annotations

from pathlib import Path

import pytest

from srlm.method.judging.pairwise import load_pairwise_template, outcome_for_a, parse_winner
from srlm.method.judging.template import render_template
from srlm.method.metrics import both_orders_outcome


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Winner: A", "A"),
        ("winner: b", "B"),
        ("Reasoning...\n**Winner:** A", "A"),
        ("Winner = B", "B"),
        ("The winner is A", "A"),
        ("Winner: Response B", "B"),
        ("Winner: A.", "A"),
        ("Format: 'Winner: A'.\nWinner: B", "B"),  # the last mention decides
        ("Winner: tie", "tie"),  # an explicit tie is a verdict, not a parse failure
        ("**Winner:** Tie.", "tie"),
        ("Winner: both", None),
        ("Winner: C", None),
        ("Winner:", None),
        ("Winner: Answer", None),
        ("A is better.", None),
        ("", None),
        ("Winner: AB", None),  # glued letters are not a label
        ("Winner: B\nthe winner here is clear", None),  # a later mention without a label wins
    ],
)
def test_parse_winner(text: str, expected: str | None) -> None:
    assert parse_winner(text) == expected


def test_both_orders_rule() -> None:
    # a consistent judge: prefers a's answer whatever the position
    assert both_orders_outcome(outcome_for_a("A", True), outcome_for_a("B", False)) == 1.0
    assert both_orders_outcome(outcome_for_a("B", True), outcome_for_a("A", False)) == 0.0
    # a position-biased judge (always "A") disagrees with itself: tie
    assert both_orders_outcome(outcome_for_a("A", True), outcome_for_a("A", False)) == 0.5
    # an unparsed verdict drops the prompt
    assert both_orders_outcome(outcome_for_a(None, True), outcome_for_a("B", False)) is None


def test_template_renders_answers_verbatim() -> None:
    text = render_template(
        load_pairwise_template(), prompt="Q {response_b}", response_a="ANSWER-ONE", response_b="ANSWER-TWO"
    )
    assert "Q {response_b}" in text and "Winner: A" in text
    assert text.index("ANSWER-ONE") < text.index("ANSWER-TWO")


def test_template_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_pairwise_template(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("{prompt} {response_a}")
    with pytest.raises(ValueError, match="response_b"):
        load_pairwise_template(bad)
