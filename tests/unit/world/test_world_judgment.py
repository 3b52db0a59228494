"""Judgments: reasoning first, a last line that parses to the oracle's score, world vocabulary."""

from __future__ import annotations

import random
import re

from srlm.world.answers import sample_answer
from srlm.world.grammar import render, sample_instruction, tokens
from srlm.world.judgment import judge_template_path, write_judgment
from srlm.world.oracle import grade

LAST_LINE = re.compile(r"\s*score\s*:?\s*(\d+)\s*")


def _parse(text: str) -> float | None:
    try:
        from srlm.method.judging import parse_score
    except ImportError:  # the shared parser may not exist yet; the regex is the contract
        match = LAST_LINE.fullmatch(text.splitlines()[-1])
        return float(match.group(1)) if match else None
    return parse_score(text)


def test_last_line_parses_to_the_oracle_score() -> None:
    rng = random.Random(0)
    for _ in range(500):
        instruction = sample_instruction(rng)
        answer = " ".join(sample_answer(instruction, rng)[0])
        judgment = write_judgment(instruction, answer)
        expected = grade(render(instruction), answer).score
        assert LAST_LINE.fullmatch(judgment.splitlines()[-1])
        assert _parse(judgment) == expected
        assert judgment.count("score") == 1  # no earlier mention the parser could pick up
        assert len(judgment.replace("\n", " \n ").split()) <= 60


def test_judgment_restates_facts_before_verdicts() -> None:
    judgment = write_judgment(
        "write about the sea . end with the word fish . use exactly five words .", "the sea has a tree"
    )
    assert judgment.splitlines() == [
        "topic sea : sea , yes",
        "end with fish : last tree , no",
        "exactly five words : got five , yes",
        "met one of two",
        "clean : yes",
        "extra : tree , no",
        "score : 3",
    ]


def test_empty_answer() -> None:
    assert write_judgment("write about the sea . include the word fish .", "") == "answer empty\nscore : 0"


def test_template_has_each_placeholder_once() -> None:
    text = judge_template_path().read_text()
    assert text.count("{prompt}") == 1 and text.count("{response}") == 1


def test_clean_line_word_names_the_first_word_of_a_clean_answer() -> None:
    """`world.clean_line: word` changes the clean line of clean answers only; verdicts and scores stay."""
    rng = random.Random(1)
    seen = {"yes": 0, "no": 0}
    for _ in range(500):
        instruction = sample_instruction(rng)
        answer = " ".join(sample_answer(instruction, rng)[0])
        plain, word = (
            write_judgment(instruction, answer).split("\n"),
            write_judgment(instruction, answer, "word").split("\n"),
        )
        changed = [(a, b) for a, b in zip(plain, word, strict=True) if a != b]
        if plain == ["answer empty", plain[-1]]:
            assert word == plain
            continue
        clean = next(line for line in word if line.startswith("clean : "))
        verdict = clean.split()[-1]
        seen[verdict] += 1
        if verdict == "yes":
            assert changed == [("clean : yes", f"clean : {tokens(answer)[0]} one , yes")]
        else:
            assert changed == []  # `clean : too short , no` / `clean : too long , no` as before
            assert clean in ("clean : too short , no", "clean : too long , no")
    assert seen["yes"] > 300 and seen["no"] > 5, seen
