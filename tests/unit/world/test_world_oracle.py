"""Oracle: hand-checked verdicts for every constraint kind and the edges of the 0-5 rubric."""

from __future__ import annotations

import pytest

from srlm.world.oracle import grade

SEA = "write about the sea . "


@pytest.mark.parametrize(
    ("rule", "passing", "failing"),
    [
        ("include the word blue .", "the blue sea", "the red sea"),
        ("do not use the word fish .", "the sea wave", "the sea fish"),
        ("use exactly four words .", "a big sea wave", "a big sea"),
        ("use at most four words .", "a big sea", "a big old sea wave"),
        ("use at least four words .", "a big sea wave", "a big sea"),
        ("start with the word boat .", "boat on sea", "sea on boat"),
        ("end with the word boat .", "sea on boat", "boat on sea"),
        ("list two animals .", "cat dog sea", "cat sea"),
        ("say the word fish two times .", "fish sea fish", "fish sea wave"),
        ("put the word sand before the word wave .", "sand and wave", "wave and sand"),
    ],
)
def test_each_constraint_kind(rule: str, passing: str, failing: str) -> None:
    good, bad = grade(SEA + rule, passing), grade(SEA + rule, failing)
    assert good.checks[0].passed and good.points["all"]
    assert not bad.checks[0].passed and not bad.points["all"] and not bad.points["half"]


def test_list_rejects_repeated_items_and_too_many() -> None:
    rule = SEA + "list two animals ."
    assert not grade(rule, "cat cat sea").checks[0].passed
    assert not grade(rule, "cat dog cow sea").checks[0].passed


def test_order_needs_both_words() -> None:
    assert grade(SEA + "put the word sand before the word wave .", "sand sea boat").checks[0].fact == "missing"


def test_rubric_edges() -> None:
    rule = SEA + "end with the word fish . include the word blue ."
    assert grade(rule, "").score == 0
    assert grade(rule, "cat cat").score == 0  # off topic, nothing met, too short, extra word
    assert grade(rule, "sea").points == {
        "topic": True,
        "half": False,
        "all": False,
        "clean": False,
        "extra": True,
    }
    assert grade(rule, "the sea has a fish").score == 4  # half met, not all
    assert grade(rule, "a blue sea has fish").score == 5
    assert grade(rule, "a blue sea has fish fish").score == 5  # a repeated word costs nothing (the world before: 4)
    assert grade(rule, "tree sea sea").score == 2  # on topic, clean (3 words)
    assert grade(rule, "tree sea").score == 1  # on topic only
    assert grade(rule, "sea sea").score == 2  # on topic, nothing extraneous
    assert grade(rule, "a blue sea tree").score == 3  # on topic, half met, clean
    assert grade(rule, "a blue sea and cat fish").score == 4  # an unasked animal is extraneous


def test_clean_is_three_to_twelve_words_whatever_repeats() -> None:
    rule = SEA + "say the word fish three times ."
    assert grade(rule, "fish sea fish fish").points["clean"]
    assert grade(rule, "fish sea fish fish fish").points["clean"]  # more than asked: the rule fails, not clean
    assert not grade(rule, "fish sea fish fish fish").points["all"]
    assert grade(SEA + "include the word sand .", "sand sand sand").points["clean"]
    assert grade(SEA + "include the word sand .", "sand sea").reasons["clean"] == "too short"
    long_answer = "the sea is very big and old with a wave of sand near my boat"
    assert grade(SEA + "include the word sand .", long_answer).reasons["clean"] == "too long"
    assert grade(SEA + "include the word sand .", " ".join(long_answer.split()[:12])).points["clean"]


def test_other_topic_word_is_extraneous() -> None:
    g = grade(SEA + "include the word blue .", "blue sea and tree")
    assert not g.points["extra"] and g.reasons["extra"] == "extra word tree"


def test_unknown_words_are_extraneous() -> None:
    assert grade(SEA + "include the word blue .", "blue sea zebra").reasons["extra"] == "extra word odd"


def test_unparsable_instruction_raises() -> None:
    with pytest.raises(ValueError, match="not an instruction"):
        grade("sing a song", "la la")


def test_grade_is_deterministic() -> None:
    rule = SEA + "list three fruits . use at most six words ."
    assert grade(rule, "plum pear sea") == grade(rule, "plum pear sea")
