"""Grammar: render -> parse round trips, tolerant parsing, rejection of text outside the grammar."""

from __future__ import annotations

import random

import pytest

from srlm.world.grammar import KINDS, Constraint, Instruction, is_valid, parse, render, sample_instruction


def test_render_parse_round_trip_for_many_random_instructions() -> None:
    rng = random.Random(0)
    kinds_seen: set[str] = set()
    for _ in range(2000):
        instruction = sample_instruction(rng)
        assert is_valid(instruction)
        assert parse(render(instruction)) == instruction
        kinds_seen |= {c.kind for c in instruction.constraints}
    assert kinds_seen == set(KINDS)  # all ten constraint kinds occur


def test_render_reads_like_the_world() -> None:
    instruction = Instruction("sea", (Constraint("count_exact", (), 5), Constraint("include", ("blue",))))
    assert render(instruction) == "write about the sea . use exactly five words . include the word blue ."


def test_parse_is_tolerant_of_case_whitespace_digits_and_glued_punctuation() -> None:
    text = "  Write about the SEA.\n use exactly 5 words.include the word blue  "
    parsed = parse(text)
    assert parsed == Instruction("sea", (Constraint("count_exact", (), 5), Constraint("include", ("blue",))))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "write about the moon .",  # not a topic
        "write about the sea",  # no constraint
        "write about the sea . include the word blue . sing .",  # unknown sentence
        "write about the sea . include the word zebra .",  # unknown word
        "write about the sea . include the word blue . do not use the word blue .",  # same word twice
        "write about the sea . include the word blue . include the word red .",  # same kind twice
        "write about the sea . use exactly five words . use at most six words .",  # two counts
        "write about the sea . use exactly eleven words .",  # count out of range
        "write about the sea . list three animals . include the word cat .",  # blurs the item count
        "write about the sea . list four animals . say the word fish three times . use exactly six words .",
        "write about the sea . a . b . c . d .",
    ],
)
def test_parse_rejects_text_outside_the_grammar(text: str) -> None:
    assert parse(text) is None


def test_min_answer_words_counts_required_slots() -> None:
    parsed = parse("write about the sea . list three fruits . put the word cat before the word dog .")
    assert parsed is not None
    assert parsed.min_answer_words() == 3 + 2 + 1  # items, ordered words, one topic word
