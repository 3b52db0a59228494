"""Instructions of the built-in world: a closed vocabulary, checkable constraints, render/parse.

An instruction is a topic plus 1-3 constraints, IFEval-like, rendered as lowercase English-like
text whose punctuation is space-separated, e.g.::

    write about the sea . use exactly five words . include the word blue .

Ten constraint kinds: include / avoid a word, exact / at-most / at-least word count, start /
end with a word, list n items of a category, say a word n times, put word A before word B. The
sampler draws from any subset (``world.rules``; the default world: the seven ``LOCAL_KINDS``,
which a small judge can check at one place of the answer); ``parse`` reads all ten.
Where the paper's prompts are open-ended human requests, ours are *verifiable*, so an oracle
(``oracle.py``) can grade any answer. ``parse`` reads any text back and returns None for
anything outside the grammar, so prompts a model invents (self-instruct) can be graded or
rejected. Pure Python, no torch.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

TOPICS: dict[str, tuple[str, ...]] = {
    "sea": ("sea", "wave", "fish", "boat", "sand", "shell", "ship", "tide"),
    "forest": ("forest", "tree", "leaf", "moss", "wood", "path", "root", "branch"),
    "city": ("city", "street", "car", "bridge", "tower", "road", "shop", "light"),
    "sky": ("sky", "sun", "cloud", "star", "moon", "rain", "wind", "storm"),
    "farm": ("farm", "barn", "field", "hay", "tractor", "fence", "seed", "crop"),
    "school": ("school", "book", "desk", "pen", "teacher", "class", "paper", "lesson"),
    "kitchen": ("kitchen", "pot", "bread", "soup", "spoon", "oven", "plate", "knife"),
    "music": ("music", "song", "drum", "piano", "guitar", "note", "band", "voice"),
}
CATEGORIES: dict[str, tuple[str, ...]] = {
    "animals": ("cat", "dog", "horse", "cow", "bird", "frog", "mouse", "goat"),
    "colours": ("red", "blue", "green", "yellow", "black", "white", "brown", "pink"),
    "fruits": ("apple", "pear", "plum", "grape", "lemon", "cherry", "peach", "mango"),
}
# Function words: neutral for the oracle (never off-topic), so answers can read like phrases.
FILLERS: tuple[str, ...] = (
    "the", "a", "is", "are", "and", "very", "with", "in", "on", "of", "it", "we",
    "i", "see", "like", "my", "our", "big", "small", "old", "new", "good", "has", "near",
)  # fmt: skip
NUMBER_WORDS: tuple[str, ...] = (
    "zero", "one", "two", "three", "four", "five", "six",
    "seven", "eight", "nine", "ten", "eleven", "twelve",
)  # fmt: skip
PUNCTUATION: tuple[str, ...] = (".", ",", ":")

# Words an answer may use; everything else in an answer is "odd" for the oracle.
CATEGORY_OF: dict[str, str] = {w: c for c, words in CATEGORIES.items() for w in words}
TOPIC_OF: dict[str, str] = {w: t for t, words in TOPICS.items() for w in words}
ANSWER_WORDS: frozenset[str] = frozenset(TOPIC_OF) | frozenset(CATEGORY_OF) | frozenset(FILLERS)

COUNT_KINDS = ("count_exact", "count_at_most", "count_at_least")
KINDS = ("include", "avoid", *COUNT_KINDS, "start", "end", "list", "repeat", "order")
# The kinds a small judge can check by looking at one place of the answer (a word's presence,
# its first or last word, its length); `list`, `repeat` and `order` need items counted or two
# places compared. The default world draws its instructions from these (`world.rules`).
LOCAL_KINDS = ("include", "avoid", *COUNT_KINDS, "start", "end")
# Allowed n per kind. Answers the oracle calls clean have 3-12 words, so counts stay inside.
N_RANGE: dict[str, tuple[int, int]] = {
    "count_exact": (3, 10),
    "count_at_most": (4, 10),
    "count_at_least": (3, 8),
    "list": (2, 4),
    "repeat": (2, 3),
}
MIN_WORDS, MAX_WORDS = 3, 12

# Fixed phrasings; "W"/"A"/"B" mark word slots, "N" a number, "C" a category.
_PATTERNS: dict[str, tuple[str, ...]] = {
    "include": ("include", "the", "word", "W"),
    "avoid": ("do", "not", "use", "the", "word", "W"),
    "count_exact": ("use", "exactly", "N", "words"),
    "count_at_most": ("use", "at", "most", "N", "words"),
    "count_at_least": ("use", "at", "least", "N", "words"),
    "start": ("start", "with", "the", "word", "W"),
    "end": ("end", "with", "the", "word", "W"),
    "list": ("list", "N", "C"),
    "repeat": ("say", "the", "word", "W", "N", "times"),
    "order": ("put", "the", "word", "A", "before", "the", "word", "B"),
}
_TOPIC_PATTERN = ("write", "about", "the", "T")
INSTRUCTION_WORDS: frozenset[str] = frozenset(
    w for p in (*_PATTERNS.values(), _TOPIC_PATTERN) for w in p if w.islower()
)


@dataclass(frozen=True)
class Constraint:
    """One checkable rule. ``words``: the word(s) it names (list: the category); ``n``: its number."""

    kind: str
    words: tuple[str, ...] = ()
    n: int = 0


@dataclass(frozen=True)
class Instruction:
    topic: str
    constraints: tuple[Constraint, ...]

    def required_words(self) -> set[str]:
        """Words the instruction asks the answer to contain (not avoid, not list items)."""
        named = {"include", "start", "end", "repeat", "order"}
        return {w for c in self.constraints if c.kind in named for w in c.words}

    def listed_categories(self) -> set[str]:
        return {c.words[0] for c in self.constraints if c.kind == "list"}

    def min_answer_words(self) -> int:
        """Fewest words a fully correct, on-topic answer needs."""
        slots = 0
        for c in self.constraints:
            slots += {"include": 1, "start": 1, "end": 1, "order": 2}.get(c.kind, 0)
            slots += c.n if c.kind in ("list", "repeat") else 0
        has_topic_word = any(TOPIC_OF.get(w) == self.topic for w in self.required_words())
        return max(MIN_WORDS, slots + (0 if has_topic_word else 1))


def number_word(n: int) -> str:
    return NUMBER_WORDS[n]


def tokens(text: str) -> list[str]:
    """Lowercase word tokens with punctuation split off: the world's canonical tokenisation."""
    return re.sub(r"([.,:;!?])", r" \1 ", text.lower()).split()


def render_constraint(c: Constraint) -> str:
    out: list[str] = []
    words = iter(c.words)
    for slot in _PATTERNS[c.kind]:
        if slot in ("W", "A", "B", "C"):
            out.append(next(words))
        elif slot == "N":
            out.append(number_word(c.n))
        else:
            out.append(slot)
    return " ".join(out) + " ."


def render(instruction: Instruction) -> str:
    parts = [f"write about the {instruction.topic} ."]
    parts += [render_constraint(c) for c in instruction.constraints]
    return " ".join(parts)


def _read_number(token: str) -> int | None:
    # ASCII only: "²".isdigit() is True but int("²") fails; no count needs more than two digits.
    if token.isascii() and token.isdigit():
        return int(token) if len(token) <= 3 else None
    return NUMBER_WORDS.index(token) if token in NUMBER_WORDS else None


def _match(pattern: tuple[str, ...], sentence: list[str]) -> tuple[list[str], int] | None:
    """Slot words and number of a sentence matching ``pattern``, or None."""
    if len(pattern) != len(sentence):
        return None
    words: list[str] = []
    n = 0
    for slot, tok in zip(pattern, sentence, strict=True):
        if slot == "N":
            value = _read_number(tok)
            if value is None:
                return None
            n = value
        elif slot in ("W", "A", "B", "C", "T"):
            words.append(tok)
        elif slot != tok:
            return None
    return words, n


def _parse_constraint(sentence: list[str]) -> Constraint | None:
    for kind, pattern in _PATTERNS.items():
        matched = _match(pattern, sentence)
        if matched is not None:
            return Constraint(kind, tuple(matched[0]), matched[1])
    return None


def parse(text: str) -> Instruction | None:
    """Read instruction text back; None unless every sentence is in the grammar and valid.

    >>> parse("Write about the sea. Use exactly 5 words.")
    Instruction(topic='sea', constraints=(Constraint(kind='count_exact', words=(), n=5),))
    >>> parse("write about the sea . sing loudly .") is None
    True
    """
    sentences: list[list[str]] = [[]]
    for tok in tokens(text):
        if tok == ".":
            sentences.append([])
        else:
            sentences[-1].append(tok)
    sentences = [s for s in sentences if s]
    if not sentences:
        return None
    head = _match(_TOPIC_PATTERN, sentences[0])
    if head is None:
        return None
    constraints = [_parse_constraint(s) for s in sentences[1:]]
    if any(c is None for c in constraints):
        return None
    instruction = Instruction(head[0][0], tuple(c for c in constraints if c is not None))
    return instruction if is_valid(instruction) else None


def _word_allowed(instruction: Instruction, c: Constraint) -> bool:
    """Named words come from the topic or from categories the instruction does not list (a
    listed category's words would blur the item count); avoid may name any content word."""
    topic_words = set(TOPICS[instruction.topic])
    if c.kind == "list":
        return c.words[0] in CATEGORIES
    listed = instruction.listed_categories()
    for w in c.words:
        in_free_category = w in CATEGORY_OF and (c.kind == "avoid" or CATEGORY_OF[w] not in listed)
        if w not in topic_words and not in_free_category:
            return False
    return True


def is_valid(instruction: Instruction) -> bool:
    """Structural rules shared by the sampler and the parser; a valid instruction is satisfiable."""
    cs = instruction.constraints
    if instruction.topic not in TOPICS or not 1 <= len(cs) <= 3:
        return False
    kinds = [c.kind for c in cs]
    if len(set(kinds)) != len(kinds) or sum(k in COUNT_KINDS for k in kinds) > 1:
        return False
    named = [w for c in cs if c.kind != "list" for w in c.words]
    if len(set(named)) != len(named):
        return False
    for c in cs:
        lo, hi = N_RANGE.get(c.kind, (0, 0))
        if not lo <= c.n <= hi or not _word_allowed(instruction, c):
            return False
    need = instruction.min_answer_words()
    return all(c.n >= need for c in cs if c.kind in ("count_exact", "count_at_most")) and need <= MAX_WORDS


def _sample_constraint(kind: str, topic: str, rng: random.Random) -> Constraint:
    if kind in COUNT_KINDS:
        return Constraint(kind, (), rng.randint(*N_RANGE[kind]))
    if kind == "list":
        return Constraint(kind, (rng.choice(sorted(CATEGORIES)),), rng.randint(*N_RANGE[kind]))

    # Named words: mostly the topic's own (the tempting ones), sometimes a category word.
    def word() -> str:
        pool = TOPICS[topic] if rng.random() < 0.7 else CATEGORIES[rng.choice(sorted(CATEGORIES))]
        return rng.choice(pool)

    if kind == "order":
        return Constraint(kind, (word(), word()))
    n = rng.randint(*N_RANGE[kind]) if kind == "repeat" else 0
    return Constraint(kind, (word(),), n)


def sample_instruction(rng: random.Random, kinds: tuple[str, ...] = KINDS) -> Instruction:
    """A random valid instruction: a topic and 1-3 constraints of distinct kinds drawn from ``kinds``
    (at most one word count among them)."""
    if not kinds or any(k not in KINDS for k in kinds):
        raise ValueError(f"not a non-empty set of constraint kinds of the world: {kinds!r}")
    counts = tuple(k for k in COUNT_KINDS if k in kinds)  # in KINDS order, whatever the order given
    slots = [k for k in KINDS if k in kinds and k not in COUNT_KINDS] + (["count"] if counts else [])
    while True:
        topic = rng.choice(sorted(TOPICS))
        n_constraints = rng.choices((1, 2, 3), weights=(0.25, 0.45, 0.30))[0]
        chosen = rng.sample(slots, min(n_constraints, len(slots)))
        chosen = [rng.choice(counts) if k == "count" else k for k in chosen]
        instruction = Instruction(topic, tuple(_sample_constraint(k, topic, rng) for k in chosen))
        if is_valid(instruction):
            return instruction
