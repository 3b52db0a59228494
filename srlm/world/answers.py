"""Answers of the built-in world: a solver for perfect answers and a sampler of flawed ones.

``solve`` writes an answer the oracle scores 5 (the IFT seed's "human rank 0" answer).
``sample_answer`` writes answers of varied quality for the EFT and judge-eval seed sets. The
paper's EFT answers are real model/human answers; a feasibility probe of this world found a
judge trained on crude synthetic damage was at chance on a tiny model's own samples. So the
flaws here imitate what tiny models actually do when they answer (see FLAWS): loop on a word,
stop early or run on, drop or swap a required word, drift to another topic, use the word they
were told to avoid, miscount list items or repetitions, answer a neighbouring instruction, or
babble. A perfect answer receives 0-3 flaws, so scores cover the whole 0-5 scale.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial

from srlm.world.grammar import (
    ANSWER_WORDS,
    CATEGORIES,
    FILLERS,
    KINDS,
    MAX_WORDS,
    TOPICS,
    Instruction,
    sample_instruction,
)

Words = list[str]


def _target_length(instruction: Instruction, rng: random.Random) -> int:
    lo = instruction.min_answer_words()
    hi = min(MAX_WORDS, max(lo, 8))
    for c in instruction.constraints:
        if c.kind == "count_exact":
            return c.n
        if c.kind == "count_at_most":
            hi = min(hi, c.n)
        if c.kind == "count_at_least":
            lo = max(lo, c.n)
            hi = max(hi, min(MAX_WORDS, lo + 2))
    return rng.randint(lo, max(lo, hi))


def solve(instruction: Instruction, rng: random.Random) -> Words:
    """A random answer meeting every constraint, on topic, clean and without extra words."""
    avoid = {c.words[0] for c in instruction.constraints if c.kind == "avoid"}
    middle: Words = []
    start = end = ""
    order: tuple[str, str] | None = None
    for c in instruction.constraints:
        if c.kind in ("include", "repeat"):
            middle += [c.words[0]] * max(1, c.n)
        elif c.kind == "list":
            middle += rng.sample([w for w in CATEGORIES[c.words[0]] if w not in avoid], c.n)
        elif c.kind == "order":
            order = (c.words[0], c.words[1])
            middle += list(order)
        elif c.kind == "start":
            start = c.words[0]
        elif c.kind == "end":
            end = c.words[0]
    used = set(middle) | {start, end} | avoid
    topic_words = [w for w in TOPICS[instruction.topic] if w not in used]
    if not any(w in TOPICS[instruction.topic] for w in used - avoid):
        middle.append(rng.choice(topic_words))
        used.add(middle[-1])
    free = [w for w in (*TOPICS[instruction.topic], *FILLERS) if w not in used]
    n_fill = _target_length(instruction, rng) - len(middle) - bool(start) - bool(end)
    middle += rng.sample(free, max(0, n_fill))
    rng.shuffle(middle)
    if order is not None:
        i, j = middle.index(order[0]), middle.index(order[1])
        if i > j:
            middle[i], middle[j] = middle[j], middle[i]
    return ([start] if start else []) + middle + ([end] if end else [])


def _named(instruction: Instruction) -> Words:
    return sorted(instruction.required_words())


def _loop(words: Words, ins: Instruction, rng: random.Random) -> Words:
    """Repeat a word, usually right after itself, as a looping decoder does."""
    if not words:
        return words
    i = rng.randrange(len(words))
    j = i + 1 if rng.random() < 0.6 else rng.randrange(len(words) + 1)
    return words[:j] + [words[i]] * rng.randint(1, 2) + words[j:]


def _truncate(words: Words, ins: Instruction, rng: random.Random) -> Words:
    return words[: max(0, len(words) - rng.randint(1, 3))]


def _run_on(words: Words, ins: Instruction, rng: random.Random) -> Words:
    pool = [*TOPICS[ins.topic], *FILLERS, *words]
    return words + [rng.choice(pool) for _ in range(rng.randint(1, 3))]


def _drop(words: Words, ins: Instruction, rng: random.Random) -> Words:
    """Lose a word, preferring a required one (the include/end word went missing)."""
    named = [i for i, w in enumerate(words) if w in ins.required_words()]
    if not words:
        return words
    i = rng.choice(named) if named and rng.random() < 0.7 else rng.randrange(len(words))
    return words[:i] + words[i + 1 :]


def _swap(words: Words, ins: Instruction, rng: random.Random) -> Words:
    if len(words) < 2:
        return words
    i, j = rng.sample(range(len(words)), 2)
    if rng.random() < 0.5:  # the first or last word, where start/end checks look
        i = rng.choice((0, len(words) - 1))
    out = list(words)
    out[i], out[j] = out[j], out[i]
    return out if out != words else _drop(words, ins, rng)


def _drift(words: Words, ins: Instruction, rng: random.Random) -> Words:
    """Replace words with another topic's words or an unasked category item."""
    other = rng.choice([t for t in TOPICS if t != ins.topic])
    pool = list(TOPICS[other]) if rng.random() < 0.7 else list(CATEGORIES[rng.choice(sorted(CATEGORIES))])
    out = list(words)
    for _ in range(rng.randint(1, 2)):
        if out:
            out[rng.randrange(len(out))] = rng.choice(pool)
    return out


def _use_avoided(words: Words, ins: Instruction, rng: random.Random) -> Words:
    avoid = [c.words[0] for c in ins.constraints if c.kind == "avoid"]
    word = avoid[0] if avoid else rng.choice(TOPICS[ins.topic])
    i = rng.randrange(len(words) + 1)
    return [*words[:i], word, *words[i:]]


def _miscount(words: Words, ins: Instruction, rng: random.Random) -> Words:
    """One list item or repetition too many or too few (else one word too many or few)."""
    targets = [c for c in ins.constraints if c.kind in ("list", "repeat")]
    if not targets or not words:
        return _run_on(words, ins, rng) if rng.random() < 0.5 else _drop(words, ins, rng)
    c = rng.choice(targets)
    pool = list(CATEGORIES[c.words[0]]) if c.kind == "list" else [c.words[0]]
    hits = [i for i, w in enumerate(words) if w in pool]
    if hits and rng.random() < 0.5:
        i = rng.choice(hits)
        return words[:i] + words[i + 1 :]
    i = rng.randrange(len(words) + 1)
    return [*words[:i], rng.choice(pool), *words[i:]]


def _neighbour(words: Words, ins: Instruction, rng: random.Random, kinds: tuple[str, ...] = KINDS) -> Words:
    """A perfect answer to a different instruction of ``kinds``, usually on the same topic."""
    while True:
        other = sample_instruction(rng, kinds)
        if rng.random() < 0.7 and other.topic != ins.topic:
            continue
        return solve(other, rng)


def _babble(words: Words, ins: Instruction, rng: random.Random) -> Words:
    pool = [*TOPICS[ins.topic], *FILLERS] if rng.random() < 0.7 else sorted(ANSWER_WORDS)
    return [rng.choice(pool) for _ in range(rng.randint(1, 14))]


Flaw = Callable[[Words, Instruction, random.Random], Words]
# Weights: the probe saw repeated words and missing end/include words most often.
FLAWS: dict[str, tuple[Flaw, float]] = {
    "loop": (_loop, 3.0),
    "truncate": (_truncate, 2.0),
    "run_on": (_run_on, 1.5),
    "drop": (_drop, 2.5),
    "swap": (_swap, 1.5),
    "drift": (_drift, 1.5),
    "use_avoided": (_use_avoided, 1.0),
    "miscount": (_miscount, 1.5),
    "neighbour": (_neighbour, 0.7),
    "babble": (_babble, 0.5),
}


def sample_answer(
    instruction: Instruction, rng: random.Random, kinds: tuple[str, ...] = KINDS
) -> tuple[Words, list[str]]:
    """An answer of varied quality and the names of the flaws applied to a perfect one
    (``kinds``: the world's rule kinds, which a neighbouring instruction is drawn from)."""
    words = solve(instruction, rng)
    n_flaws = rng.choices((0, 1, 2, 3), weights=(0.12, 0.3, 0.33, 0.25))[0]
    names = list(FLAWS)
    weights = [FLAWS[n][1] for n in names]
    applied = rng.choices(names, weights=weights, k=n_flaws)
    for name in applied:
        flaw = partial(_neighbour, kinds=kinds) if name == "neighbour" else FLAWS[name][0]
        words = flaw(words, instruction, rng)
    return words[: MAX_WORDS + 4], applied
