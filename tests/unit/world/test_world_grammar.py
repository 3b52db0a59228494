"""Grammar: render -> parse round trips, tolerant parsing, rejection of text outside the grammar."""

from __future__ import annotations

import random

import pytest

from srlm.world.grammar import KINDS, LOCAL_KINDS, Constraint, Instruction, is_valid, parse, render, sample_instruction


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


@pytest.mark.parametrize(
    "kinds", [LOCAL_KINDS, ("count_exact", "count_at_most"), ("order",), ("list", "include", "end")]
)
def test_the_sampler_draws_only_the_kinds_asked_for(kinds: tuple[str, ...]) -> None:
    rng = random.Random(1)
    seen: set[str] = set()
    for _ in range(600):
        instruction = sample_instruction(rng, kinds)
        assert is_valid(instruction) and parse(render(instruction)) == instruction
        seen |= {c.kind for c in instruction.constraints}
    assert seen == set(kinds)


def test_the_kinds_order_does_not_change_the_instructions() -> None:
    ahead = [sample_instruction(random.Random(s), LOCAL_KINDS) for s in range(20)]
    behind = [sample_instruction(random.Random(s), tuple(reversed(LOCAL_KINDS))) for s in range(20)]
    assert ahead == behind
    assert [sample_instruction(random.Random(s), KINDS) for s in range(20)] == [
        sample_instruction(random.Random(s)) for s in range(20)
    ]


def test_local_kinds_leave_out_the_counting_and_comparing_rules() -> None:
    assert set(KINDS) - set(LOCAL_KINDS) == {"list", "repeat", "order"}


@pytest.mark.parametrize("kinds", [(), ("sing",), ("include", "dance")])
def test_unknown_or_no_kinds_are_refused(kinds: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="constraint kinds"):
        sample_instruction(random.Random(0), kinds)
