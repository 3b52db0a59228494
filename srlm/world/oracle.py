"""The world's oracle: grade any (instruction, answer) on the additive 0-5 rubric.

It plays the paper's humans (best answers and rankings for the seed sets) and its GPT-4
(held-out evaluation). One integer point per criterion, mirroring the paper's additive prompt:

1. ``topic``  relevant: the answer uses at least one word of the instruction's topic.
2. ``half``   substantial: at least half of the constraints are met.
3. ``all``    basic elements: every constraint is met.
4. ``clean``  clear and well formed: 3-12 words; reason ``too short`` / ``too long``. (The
              world before also took the point for a word said twice unless asked; the judge
              could not see that, and the loop learned to repeat words through it: docs/world.md.)
5. ``extra``  expert, no extraneous content: every word is a function word, a word of the
              topic, or one the instruction asks for (named words, items of a listed category).

Points are independent (like the paper's rubric, not gated), so partial answers spread over
the whole scale; an empty answer scores 0. Answers are tokenised with ``grammar.tokens`` and
every token counts as a word (world answers carry no punctuation). Deterministic and pure.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from srlm.world.grammar import (
    ANSWER_WORDS,
    CATEGORIES,
    CATEGORY_OF,
    FILLERS,
    MAX_WORDS,
    MIN_WORDS,
    NUMBER_WORDS,
    TOPICS,
    Constraint,
    Instruction,
    parse,
    tokens,
)

CRITERIA = ("topic", "half", "all", "clean", "extra")


@dataclass(frozen=True)
class Check:
    """One constraint's verdict; ``fact`` is what was observed (a count, a word, items), in
    world words, so a judgment can restate it before the verdict."""

    constraint: Constraint
    passed: bool
    fact: str


@dataclass(frozen=True)
class Grade:
    score: int
    points: dict[str, bool]
    reasons: dict[str, str]
    checks: tuple[Check, ...] = field(default=())


def _n(k: int) -> str:
    return NUMBER_WORDS[k] if 0 <= k < len(NUMBER_WORDS) else "many"


def check_constraint(c: Constraint, words: list[str]) -> Check:
    """Verdict on one constraint for the answer's word list."""
    first = words[0] if words else "none"
    last = words[-1] if words else "none"
    counts = Counter(words)
    if c.kind == "include":
        return Check(c, c.words[0] in counts, "yes" if c.words[0] in counts else "no")
    if c.kind == "avoid":
        return Check(c, c.words[0] not in counts, "no" if c.words[0] not in counts else "yes")
    if c.kind == "count_exact":
        return Check(c, len(words) == c.n, _n(len(words)))
    if c.kind == "count_at_most":
        return Check(c, len(words) <= c.n, _n(len(words)))
    if c.kind == "count_at_least":
        return Check(c, len(words) >= c.n, _n(len(words)))
    if c.kind == "start":
        return Check(c, first == c.words[0], first)
    if c.kind == "end":
        return Check(c, last == c.words[0], last)
    if c.kind == "list":
        found = [w for w in words if w in CATEGORIES[c.words[0]]]
        ok = len(found) == c.n and len(set(found)) == len(found)
        return Check(c, ok, " ".join(found) if found else "none")
    if c.kind == "repeat":
        return Check(c, counts[c.words[0]] == c.n, _n(counts[c.words[0]]))
    if c.kind == "order":
        a, b = c.words
        if a not in counts or b not in counts:
            return Check(c, False, "missing")
        ok = words.index(a) < words.index(b)
        return Check(c, ok, "yes" if ok else "no")
    raise ValueError(f"unknown constraint kind {c.kind!r}")


def clean_reason(words: list[str]) -> str:
    """'' when clean (3-12 words), else the problem in world words."""
    if len(words) < MIN_WORDS:
        return "too short"
    if len(words) > MAX_WORDS:
        return "too long"
    return ""


def extra_word(instruction: Instruction, words: list[str]) -> str:
    """The first word that is neither a function word, a topic word nor asked for; '' if none."""
    allowed = set(FILLERS) | set(TOPICS[instruction.topic]) | instruction.required_words()
    listed = instruction.listed_categories()
    for w in words:
        if w in allowed or CATEGORY_OF.get(w) in listed:
            continue
        return w if w in ANSWER_WORDS else "odd"
    return ""


def grade_instruction(instruction: Instruction, answer: str) -> Grade:
    words = tokens(answer)
    checks = tuple(check_constraint(c, words) for c in instruction.constraints)
    if not words:
        reasons = dict.fromkeys(CRITERIA, "empty answer")
        return Grade(0, dict.fromkeys(CRITERIA, False), reasons, checks)
    met = sum(ch.passed for ch in checks)
    topic_word = next((w for w in words if w in TOPICS[instruction.topic]), "")
    clean = clean_reason(words)
    extra = extra_word(instruction, words)
    points = {
        "topic": bool(topic_word),
        "half": 2 * met >= len(checks),
        "all": met == len(checks),
        "clean": not clean,
        "extra": not extra,
    }
    reasons = {
        "topic": f"uses {topic_word}" if topic_word else f"no word about the {instruction.topic}",
        "half": f"met {_n(met)} of {_n(len(checks))}",
        "all": f"met {_n(met)} of {_n(len(checks))}",
        "clean": clean or "clean",
        "extra": f"extra word {extra}" if extra else "no extra words",
    }
    return Grade(sum(points.values()), points, reasons, checks)


def grade(instruction_text: str, answer: str) -> Grade:
    """Grade ``answer`` to the instruction text; ValueError if the instruction does not parse.

    >>> grade("write about the sea . end with the word fish .", "the sea has a fish").score
    5
    >>> grade("write about the sea . end with the word fish .", "fish fish").reasons["clean"]
    'too short'
    """
    instruction = parse(instruction_text)
    if instruction is None:
        raise ValueError(f"not an instruction of the world: {instruction_text!r}")
    return grade_instruction(instruction, answer)
