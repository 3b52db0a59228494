"""Judgments of the built-in world: the oracle's reasoning written out as judge text.

The paper's judge writes a short justification, then ``Score: <points>``. Ours writes one line
per check, restating what it looked at before the verdict (the topic word it found, the count
it got, the first/last word, the list items), then ``met k of n``, the clean and extra checks,
and a last line ``score : N`` that ``srlm.method.judging.parse_score`` reads. A feasibility probe found
such reasoning-first judgments fixed counting and, unexpectedly, improved the trained model's
own answers. Judgments stay short (<= ~55 tokens) to fit a CPU budget. Example::

    topic sea : fish , yes
    exactly five words : got four , no
    end with fish : last tree , no
    met zero of two
    clean : yes
    extra : cat , no
    score : 1

``clean_line="word"`` (``world.clean_line``) writes the clean check's yes line with the answer's
first word as well (``clean : the one , yes``). It was built for the world before, whose clean
"no" named a repeated word (``clean : fish twice , no``), so that copying a word could not choose
the verdict (docs/world.md measures it there).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from srlm.world.grammar import NUMBER_WORDS, Constraint, Instruction, parse, tokens
from srlm.world.oracle import Check, Grade, grade_instruction

JUDGE_TEMPLATE_NAME = "judge.txt"
CleanLine = Literal["verdict", "word"]


def judge_template_path() -> Path:
    """The world's judge prompt (placeholders ``{prompt}`` and ``{response}``)."""
    return Path(str(resources.files("srlm.world").joinpath("assets").joinpath(JUDGE_TEMPLATE_NAME)))


def _rule(c: Constraint) -> str:
    """The rule in a few world words, e.g. ``end with fish``, ``list three animals``."""
    n = NUMBER_WORDS[c.n]
    return {
        "include": lambda: f"include {c.words[0]}",
        "avoid": lambda: f"avoid {c.words[0]}",
        "count_exact": lambda: f"exactly {n} words",
        "count_at_most": lambda: f"at most {n} words",
        "count_at_least": lambda: f"at least {n} words",
        "start": lambda: f"start with {c.words[0]}",
        "end": lambda: f"end with {c.words[0]}",
        "list": lambda: f"list {n} {c.words[0]}",
        "repeat": lambda: f"say {c.words[0]} {n} times",
        "order": lambda: f"{c.words[0]} before {c.words[1]}",
    }[c.kind]()


def _fact(check: Check) -> str:
    """What the judge observed, restated before the verdict."""
    kind, fact = check.constraint.kind, check.fact
    if kind in ("include", "avoid"):
        return "found" if fact == "yes" else "missing"
    if kind.startswith("count") or kind == "repeat":
        return f"got {fact}"
    if kind == "start":
        return f"first {fact}"
    if kind == "end":
        return f"last {fact}"
    if kind == "order":
        first, second = check.constraint.words
        return "missing" if fact == "missing" else f"{first if check.passed else second} first"
    return fact  # list: the items found, or "none"


def _verdict(ok: bool) -> str:
    return "yes" if ok else "no"


def check_line(check: Check) -> str:
    """A rule's line: the rule, what was observed, the verdict (``end with fish : last tree , no``)."""
    return f"{_rule(check.constraint)} : {_fact(check)} , {_verdict(check.passed)}"


def _clean_line(grade: Grade, words: list[str], style: CleanLine) -> str:
    """``clean : yes`` / ``clean : the one , yes`` (style ``word``), or ``clean : too short , no``."""
    if not grade.points["clean"]:
        return f"clean : {grade.reasons['clean']} , no"
    return f"clean : {words[0]} one , yes" if style == "word" else "clean : yes"


def judgment_lines(instruction: Instruction, grade: Grade, words: list[str], clean_line: CleanLine) -> list[str]:
    """The judgment's lines for the answer ``words`` (its tokens) with that ``grade``."""
    if not any(grade.points.values()) and grade.reasons["topic"] == "empty answer":
        return ["answer empty", f"score : {grade.score}"]
    topic_word = grade.reasons["topic"].removeprefix("uses ") if grade.points["topic"] else "none"
    lines = [f"topic {instruction.topic} : {topic_word} , {_verdict(grade.points['topic'])}"]
    lines += [check_line(ch) for ch in grade.checks]
    lines.append(grade.reasons["all"])  # "met k of n"
    lines.append(_clean_line(grade, words, clean_line))
    extra = grade.reasons["extra"].removeprefix("extra word ")
    lines.append("extra : none , yes" if grade.points["extra"] else f"extra : {extra} , no")
    lines.append(f"score : {grade.score}")
    return lines


def write_judgment(instruction: Instruction | str, answer: str, clean_line: CleanLine = "verdict") -> str:
    """The oracle's per-criterion reasoning as judge text, ending with ``score : N``.

    >>> print(write_judgment("write about the sea . end with the word fish .", "the sea has a fish"))
    topic sea : sea , yes
    end with fish : last fish , yes
    met one of one
    clean : yes
    extra : none , yes
    score : 5
    >>> write_judgment("write about the sea . end with the word fish .", "the sea has a fish", "word").split("\\n")[3]
    'clean : the one , yes'
    """
    if isinstance(instruction, str):
        parsed = parse(instruction)
        if parsed is None:
            raise ValueError(f"not an instruction of the world: {instruction!r}")
        instruction = parsed
    grade = grade_instruction(instruction, answer)
    return "\n".join(judgment_lines(instruction, grade, tokens(answer), clean_line))
