"""Self-instruct: the few-shot prompt that asks a model for a new task, and the filters on it.

The paper writes new prompts by 8-shot prompting (6 IFT prompts + 2 earlier generated ones,
picked by the caller) and keeps them through self-instruct filters. Here:

- ``build_fewshot_prompt`` lists the examples as ``Task 1: ...`` and ends with ``Task <n+1>:``;
  ``extract_prompt`` takes the first task of the continuation.
- ``PromptFilter`` rejects a prompt with one reason, checked in this order: ``too_short`` /
  ``too_long`` (word counts), ``invalid`` (optional caller predicate), ``contaminated`` (equal to
  an evaluation prompt after case/whitespace normalisation, or ROUGE-L F >= threshold against
  one), then each named reference set the caller gives (``references``, e.g. ``seed_duplicate``
  for the IFT prompts, ``earlier_iteration`` for earlier iterations' prompts; matched the same
  way), ``near_duplicate`` (ROUGE-L F >= threshold against an accepted prompt). Accepted prompts
  join the pool. The paper's keyword filter is left to ``validate`` (it is data-specific).
- ``KnownPrompts`` is that exact-or-near match on its own (seed data against evaluation prompts).

Speed: ROUGE-L F between token lists of lengths a and b is 2·LCS/(a+b), and LCS is at most the
multiset overlap m (every common subsequence is a common sub-multiset), so F <= 2m/(a+b). An
inverted index gives m for the whole pool with a few numpy adds per query token, and the exact
LCS is only computed where that bound reaches the threshold, so the prefilter cannot change an
answer. The exact LCS is a bit-parallel one (Allison-Dix) on tokens cached at insertion, fed to
rouge-score's own F-measure; tests check it against ``rouge_scorer.RougeScorer`` itself. Tokens
come from rouge-score's default tokenizer (lower-case, ASCII letters and digits only, no
stemming), so text without such characters has no tokens and is never a near-duplicate.
Measured here: 2,000 prompts against a 2,000-prompt pool in about 0.3 s for ordinary prompts;
the adversarial case (all prompts permutations of the same 13 words, so nothing is pruned)
takes ~15 s.
"""

from __future__ import annotations

import array
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from srlm.method.judging.template import render_template

DEFAULT_FEWSHOT_TEMPLATE = """\
Here are some tasks that people have asked an AI assistant to do. Come up with one new task \
that differs from all of them, can be answered in text alone, and fits on a single line.

{examples}
Task {next_index}:"""

REJECTION_REASONS: tuple[str, ...] = ("too_short", "too_long", "invalid", "contaminated", "near_duplicate")

# Matches a task label such as "Task 10:" that ends the first task when the model keeps going.
_TASK_LABEL = re.compile(r"\bTask\s+\d+\s*:", re.IGNORECASE)
# Bound slack so that float rounding in rouge-score's F never sneaks past the prefilter.
_BOUND_SLACK = 1e-9


def build_fewshot_prompt(examples: Sequence[str], template: str | None = None) -> str:
    """The self-instruct prompt: examples as ``Task 1:`` ... ``Task n:``, ending with ``Task n+1:``.

    A custom ``template`` must contain ``{examples}`` and may use ``{next_index}``.

    >>> print(build_fewshot_prompt(["Name a colour.", "Add 2 and 3."], "{examples}\\nTask {next_index}:"))
    Task 1: Name a colour.
    Task 2: Add 2 and 3.
    <BLANKLINE>
    Task 3:
    """
    template = DEFAULT_FEWSHOT_TEMPLATE if template is None else template
    if "{examples}" not in template:
        raise ValueError("self-instruct template lacks the placeholder {examples}")
    # Newlines inside an example would look like the end of a task, so fold them into spaces.
    lines = [f"Task {i}: {' '.join(example.split())}\n" for i, example in enumerate(examples, start=1)]
    return render_template(template, examples="".join(lines), next_index=str(len(examples) + 1))


def extract_prompt(generation: str) -> str | None:
    """The first new task in a continuation of ``build_fewshot_prompt``; None if empty.

    Leading blank lines are skipped, and a repeated leading label (``Task 9: ...``) is removed.

    >>> extract_prompt(" Write a haiku about rain.\\nTask 10: Sort a list.")
    'Write a haiku about rain.'
    >>> extract_prompt(" List three primes. Task 10: more")
    'List three primes.'
    >>> extract_prompt("\\n\\n") is None
    True
    """
    text = generation.lstrip()
    label = _TASK_LABEL.match(text)
    if label is not None:
        text = text[label.end() :].lstrip()
    text = text.split("\n", 1)[0]
    next_label = _TASK_LABEL.search(text)
    if next_label is not None:
        text = text[: next_label.start()]
    text = text.strip()
    return text or None


def task_was_cut(generation: str, task: str) -> bool:
    """Whether ``task`` (``extract_prompt(generation)``) runs to the end of the generation, so a
    generation cut off at the token limit cut the task itself.

    >>> task_was_cut(" Write a haiku about", "Write a haiku about")
    True
    >>> task_was_cut(" Write a haiku.\\nTask 10: Sort", "Write a haiku.")
    False
    """
    rest = generation[generation.find(task) + len(task) :] if task in generation else ""
    return not rest.strip() and "\n" not in rest


def normalise(text: str) -> str:
    """Case- and whitespace-insensitive form used for exact-match decontamination."""
    return " ".join(text.casefold().split())


class RougeIndex:
    """Texts searchable for ROUGE-L F >= threshold, pruned by the multiset-overlap bound."""

    def __init__(self, texts: Iterable[str] = ()) -> None:
        # Imported here: rouge-score pulls in nltk (~1 s), and this module must import instantly.
        from rouge_score import rouge_scorer, scoring, tokenizers

        self._tokenizer = tokenizers.DefaultTokenizer(use_stemmer=False)
        self._scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=self._tokenizer)
        self._fmeasure: Callable[[float, float], float] = scoring.fmeasure
        self._texts: list[str] = []
        self._tokens: list[list[str]] = []
        self._lengths = array.array("q")
        # Key (token, k) is present in a text iff the token occurs at least k times there, so the
        # number of shared keys equals the multiset overlap sum_t min(count_a(t), count_b(t)).
        self._postings: dict[tuple[str, int], array.array[int]] = {}
        for text in texts:
            self.add(text)

    def __len__(self) -> int:
        return len(self._texts)

    def _keys(self, text: str) -> tuple[int, list[tuple[str, int]]]:
        tokens = self._tokenizer.tokenize(text)
        counts = Counter(tokens)
        return len(tokens), [(token, k) for token, count in counts.items() for k in range(1, count + 1)]

    def add(self, text: str) -> None:
        index = len(self._texts)
        length, keys = self._keys(text)
        self._texts.append(text)
        self._tokens.append(self._tokenizer.tokenize(text))
        self._lengths.append(length)
        for key in keys:
            self._postings.setdefault(key, array.array("q")).append(index)

    def rouge_l(self, a: str, b: str) -> float:
        """ROUGE-L F-measure straight from rouge-score (symmetric in its arguments)."""
        return float(self._scorer.score(a, b)["rougeL"].fmeasure)

    def any_at_least(self, text: str, threshold: float) -> bool:
        """Whether some indexed text has ROUGE-L F >= threshold with ``text``."""
        length, keys = self._keys(text)
        if not self._texts or length == 0:
            return False  # rouge-score gives F = 0 against an empty token list
        overlap = np.zeros(len(self._texts), dtype=np.int64)
        for key in keys:
            posting = self._postings.get(key)
            if posting is not None:
                # Indices within one posting list are distinct, so fancy-index += is exact.
                overlap[np.frombuffer(posting, dtype=np.int64)] += 1
        lengths = np.frombuffer(self._lengths, dtype=np.int64)
        bound = 2.0 * overlap / (length + lengths)
        candidates = np.flatnonzero(bound >= threshold - _BOUND_SLACK)
        if candidates.size == 0:
            return False
        masks = _position_masks(self._tokenizer.tokenize(text))
        # Most promising first: a true near-duplicate usually ends the search at once.
        for index in candidates[np.argsort(-bound[candidates], kind="stable")]:
            stored = self._tokens[index]
            common = _lcs_length(masks, stored)
            # Same arguments and order as rouge-score (target = stored, prediction = text).
            if self._fmeasure(common / length, common / len(stored)) >= threshold:
                return True
        return False


def _position_masks(tokens: Sequence[str]) -> dict[str, int]:
    """Bit i of masks[t] is set iff tokens[i] == t."""
    masks: dict[str, int] = {}
    for position, token in enumerate(tokens):
        masks[token] = masks.get(token, 0) | (1 << position)
    return masks


def _lcs_length(masks: dict[str, int], other: Sequence[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Allison & Dix 1986).

    ``masks`` are the position masks of the first sequence; one big-int step per token of
    ``other`` replaces a row of the O(a·b) dynamic-programming table.
    """
    row = 0
    for token in other:
        matches = masks.get(token, 0) | row
        row = matches & ((matches - ((row << 1) | 1)) ^ matches)
    return row.bit_count()


def _word_count(text: str) -> int:
    return len(text.split())


class KnownPrompts:
    """A set of prompts that a new prompt may match exactly (after ``normalise``) or nearly (ROUGE-L).

    >>> known = KnownPrompts(["What is the capital of France?"])
    >>> known.match("what is the capital of  FRANCE?", 0.7), known.match("What is the capital city of France?", 0.7)
    ('exact', 'near')
    >>> known.match("Write a poem about the sea.", 0.7) is None
    True
    """

    def __init__(self, texts: Iterable[str] = ()) -> None:
        texts = list(texts)
        self._exact = {normalise(text) for text in texts}
        self._index = RougeIndex(texts)

    def __len__(self) -> int:
        return len(self._index)

    def match(self, prompt: str, threshold: float) -> str | None:
        """``"exact"``, ``"near"`` (ROUGE-L F >= threshold) or None."""
        if normalise(prompt) in self._exact:
            return "exact"
        if self._index.any_at_least(prompt, threshold):
            return "near"
        return None


class PromptFilter:
    """Self-instruct filters over a growing pool of accepted prompts.

    >>> keep = PromptFilter(min_words=2, max_words=20, eval_prompts=["What is the capital of France?"])
    >>> keep.add("Write a poem about the sea.") is None
    True
    >>> keep.add("Write a short poem about the sea.")
    'near_duplicate'
    >>> keep.add("what is the capital of   FRANCE?")
    'contaminated'
    >>> keep.add("Hi")
    'too_short'
    """

    def __init__(
        self,
        *,
        min_words: int = 3,
        max_words: int = 150,
        rouge_threshold: float = 0.7,
        eval_prompts: Iterable[str] = (),
        validate: Callable[[str], bool] | None = None,
        pool: Iterable[str] = (),
        references: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        if not 0 <= min_words <= max_words:
            raise ValueError(f"need 0 <= min_words <= max_words, got {min_words}, {max_words}")
        if not 0.0 < rouge_threshold <= 1.0:
            raise ValueError(f"rouge_threshold must be in (0, 1], got {rouge_threshold}")
        self.min_words = min_words
        self.max_words = max_words
        self.rouge_threshold = rouge_threshold
        self.validate = validate
        self._eval = KnownPrompts(eval_prompts)
        # Named sets a prompt must not repeat (the reason is the name), checked after the evaluation prompts.
        self._references = {reason: KnownPrompts(texts) for reason, texts in (references or {}).items()}
        # Seed prompts (e.g. the IFT set) start the pool so new tasks must differ from them too.
        self._pool_index = RougeIndex(pool)
        self._pool: list[str] = list(pool)

    @property
    def pool(self) -> tuple[str, ...]:
        return tuple(self._pool)

    @property
    def reasons(self) -> tuple[str, ...]:
        """Every rejection reason this filter can give, in the order they are checked."""
        return (*REJECTION_REASONS[:4], *self._references, REJECTION_REASONS[4])

    def check(self, prompt: str) -> str | None:
        """The rejection reason for ``prompt``, or None if it passes; the pool is not changed."""
        words = _word_count(prompt)
        if words < self.min_words:
            return "too_short"
        if words > self.max_words:
            return "too_long"
        if self.validate is not None and not self.validate(prompt):
            return "invalid"
        if self._eval.match(prompt, self.rouge_threshold):
            return "contaminated"
        for reason, known in self._references.items():
            if known.match(prompt, self.rouge_threshold):
                return reason
        if self._pool_index.any_at_least(prompt, self.rouge_threshold):
            return "near_duplicate"
        return None

    def add(self, prompt: str) -> str | None:
        """Check ``prompt`` and add it to the pool if it passes; returns the rejection reason."""
        reason = self.check(prompt)
        if reason is None:
            self._pool.append(prompt)
            self._pool_index.add(prompt)
        return reason


def filter_prompts(prompts: Iterable[str], prompt_filter: PromptFilter) -> tuple[list[str], dict[str, int]]:
    """Run ``prompts`` through ``prompt_filter`` in order; accepted prompts and counts by reason."""
    accepted: list[str] = []
    counts = dict.fromkeys(("accepted", *prompt_filter.reasons), 0)
    for prompt in prompts:
        reason = prompt_filter.add(prompt)
        if reason is None:
            accepted.append(prompt)
        counts[reason or "accepted"] += 1
    return accepted, counts
