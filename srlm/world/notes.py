"""Check notes: the world's "web text" about looking words up, for M0's second pretraining phase.

A real base model has read countless texts that check a statement against a passage: quizzes,
proof-reading notes, puzzle answers. So it can tell whether a word is in a sentence, which word
comes last, or how many words there are. The world's first-phase corpus holds too little of
that: after 20 M tokens the tiny M0 restates the rules of a review but cannot look the answer
up (``scripts/lookup_probe.py``: ``include`` found-vs-missing AUC 0.74, the answer's last word
copied with probability 0.25), so the judge it becomes cannot find the better of its own answers.

A note is a word string like an answer, then check lines in the judgment's own wording, each
true or false about half the time, so the fact can only be got by looking at the string::

    answer : pear fence with my lemon my
    review :
    topic farm : fence , yes
    extra : pear , no
    start with lemon : first pear , no
    at most six words : got six , yes
    clean : my twice , no

Notes name no instruction, so they hold no seed, eval or dev prompt. Pure and deterministic.
Their clean line is the world before's check, which also failed a word written twice; the
world's rubric now asks only for 3-12 words, but the notes stay as the shipped M0 read them.
"""

from __future__ import annotations

import random
from collections import Counter

from srlm.world.grammar import CATEGORIES, FILLERS, KINDS, MAX_WORDS, MIN_WORDS, TOPICS, Constraint, Instruction
from srlm.world.judgment import check_line
from srlm.world.oracle import check_constraint, extra_word

# Looking a word up (include, avoid, say W n times, list, order) is learnt far more slowly than
# reading the first or last word or a length, so those rules come up more often.
KIND_WEIGHTS = {"include": 3, "avoid": 2, "repeat": 2, "list": 2, "order": 2}
WORDS = sorted({w for group in (*TOPICS.values(), *CATEGORIES.values(), FILLERS) for w in group})


def _string(rng: random.Random) -> tuple[str, list[str]]:
    """A topic and 1-12 answer-like words (topic words, category items, function words)."""
    topic = rng.choice(sorted(TOPICS))
    pools = (TOPICS[topic], CATEGORIES[rng.choice(sorted(CATEGORIES))], FILLERS)
    words = [rng.choice(rng.choices(pools, weights=(4, 2, 4))[0]) for _ in range(rng.randint(1, MAX_WORDS))]
    if len(words) >= 2 and rng.random() < 0.3:  # a repeated word, as tiny models write them
        words[rng.randrange(len(words))] = rng.choice(words)
    return topic, words


def _absent(rng: random.Random, words: list[str], topic: str) -> str:
    """A word not in ``words``, usually a near miss (same topic or a function word)."""
    near = [w for w in (*TOPICS[topic], *FILLERS) if w not in words]
    return rng.choice(near or [w for w in WORDS if w not in words])


def _rule(rng: random.Random, topic: str, words: list[str]) -> Constraint:
    """A rule about ``words`` that holds about half the time."""
    kind, hit = rng.choices(KINDS, weights=[KIND_WEIGHTS.get(k, 1) for k in KINDS])[0], rng.random() < 0.5
    if kind in ("include", "avoid"):
        return Constraint(kind, (rng.choice(words) if hit else _absent(rng, words, topic),))
    if kind.startswith("count"):
        n = len(words) if hit else min(MAX_WORDS, max(1, len(words) + rng.choice((-2, -1, 1, 2))))
        return Constraint(kind, (), n)
    if kind in ("start", "end"):
        true = words[0] if kind == "start" else words[-1]
        other = rng.choice(words) if rng.random() < 0.5 else _absent(rng, words, topic)
        return Constraint(kind, (true if hit else other,))
    if kind == "repeat":
        word = rng.choice(words) if rng.random() < 0.8 else _absent(rng, words, topic)
        count = Counter(words)[word]
        return Constraint(kind, (word,), max(2, count) if hit else (3 if count == 2 else 2))
    if kind == "order" and len(set(words)) >= 2:
        first, second = rng.sample(sorted(set(words)), 2)
        return Constraint(kind, (first, second if rng.random() < 0.8 else _absent(rng, words, topic)))
    if kind == "order":
        return Constraint("include", (words[0],))
    category = rng.choice(sorted(CATEGORIES))
    n = sum(w in CATEGORIES[category] for w in words)
    return Constraint("list", (category,), n if hit and 2 <= n <= 4 else rng.randint(2, 4))


def _clean_fact(words: list[str]) -> str:
    """The world before's clean check, which the shipped M0's notes were written with: too short,
    too long, or the first word written twice ('' if none). Notes are text about strings, not
    the rubric, so they keep it: `srlm world pretrain` then rebuilds the shipped M0."""
    if len(words) < MIN_WORDS:
        return "too short"
    if len(words) > MAX_WORDS:
        return "too long"
    return next((f"{word} twice" for word, k in Counter(words).items() if k > 1), "")


def check_note(rng: random.Random) -> str:
    """One note: a word string, then 3-6 check lines (rules, and the topic, clean and extra checks)."""
    topic, words = _string(rng)
    lines: list[str] = []
    for _ in range(rng.randint(3, 6)):
        roll = rng.random()
        if roll < 0.1:  # the topic check, against the string's own topic or another
            about = topic if rng.random() < 0.5 else rng.choice(sorted(TOPICS))
            seen = next((w for w in words if w in TOPICS[about]), "none")
            lines.append(f"topic {about} : {seen} , {'no' if seen == 'none' else 'yes'}")
        elif roll < 0.25:  # the clean check as M0 read it: too short, too long, or a word written twice
            reason = _clean_fact(words)
            lines.append(f"clean : {reason} , no" if reason else "clean : yes")
        elif roll < 0.35:  # the extra check: the first word neither a function word nor the topic's
            extra = extra_word(Instruction(topic, ()), words)
            lines.append(f"extra : {extra} , no" if extra else "extra : none , yes")
        else:
            lines.append(check_line(check_constraint(_rule(rng, topic, words), words)))
    return "answer : " + " ".join(words) + "\nreview :\n" + "\n".join(dict.fromkeys(lines))
