"""Self-instruct prompt building, task extraction and the prompt filters."""

from __future__ import annotations

import random
import time

import pytest
from rouge_score import rouge_scorer

from srlm.method.selfinstruct import (
    DEFAULT_FEWSHOT_TEMPLATE,
    PromptFilter,
    RougeIndex,
    _lcs_length,
    _position_masks,
    build_fewshot_prompt,
    extract_prompt,
    filter_prompts,
    normalise,
)

EIGHT = [f"Example task number {i}." for i in range(1, 9)]


def test_default_fewshot_prompt_lists_eight_and_ends_with_task_nine() -> None:
    text = build_fewshot_prompt(EIGHT)
    for i in range(1, 9):
        assert f"Task {i}: Example task number {i}.\n" in text
    assert text.endswith("Task 9:")
    assert "{" not in text


def test_fewshot_folds_newlines_and_keeps_braces_in_examples() -> None:
    text = build_fewshot_prompt(["Line one\nline two", "Print {next_index} and {examples}"], "{examples}END")
    assert text == "Task 1: Line one line two\nTask 2: Print {next_index} and {examples}\nEND"


def test_fewshot_template_must_have_examples() -> None:
    with pytest.raises(ValueError, match="examples"):
        build_fewshot_prompt(EIGHT, "no placeholder here")
    assert "{examples}" in DEFAULT_FEWSHOT_TEMPLATE


@pytest.mark.parametrize(
    ("generation", "expected"),
    [
        (" Write a haiku about rain.", "Write a haiku about rain."),
        (" Write a haiku about rain.\nTask 10: Sort a list.", "Write a haiku about rain."),
        (" Summarise the article. Task 10: Sort a list.", "Summarise the article."),
        ("\n\n  Name three rivers in Africa.  \nmore", "Name three rivers in Africa."),
        ("Task 9: Translate 'hello' to French.\nTask 10: x", "Translate 'hello' to French."),
        ("Describe a task: with a colon.", "Describe a task: with a colon."),
        ("", None),
        ("   \n\n", None),
        ("\nTask 10: only the next label", "only the next label"),
        (" Task 10:", None),
    ],
)
def test_extract_prompt(generation: str, expected: str | None) -> None:
    assert extract_prompt(generation) == expected


def test_normalise() -> None:
    assert normalise("  What IS\tthe\n capital?  ") == "what is the capital?"


def test_length_bounds() -> None:
    keep = PromptFilter(min_words=3, max_words=5)
    assert keep.check("two words") == "too_short"
    assert keep.check("") == "too_short"
    assert keep.check("one two three") is None
    assert keep.check("one two three four five") is None
    assert keep.check("one two three four five six") == "too_long"


def test_near_duplicate_uses_rouge_l_threshold_and_grows_pool() -> None:
    keep = PromptFilter(min_words=1, rouge_threshold=0.7)
    assert keep.add("Write a poem about the sea") is None
    # 6 vs 7 tokens, LCS 6: F = 12/13 = 0.92 >= 0.7.
    assert keep.add("Write a short poem about the sea") == "near_duplicate"
    # LCS("explain photosynthesis to a child", ...) shares only "a": F = 2/11.
    assert keep.add("Explain photosynthesis to a child") is None
    assert keep.pool == ("Write a poem about the sea", "Explain photosynthesis to a child")
    assert keep.add("explain photosynthesis to a child!") == "near_duplicate"


def test_threshold_boundary_is_inclusive() -> None:
    # a = b = 10 tokens with LCS 7 gives F = 0.7 exactly: rejected at 0.7, kept at 0.71.
    base = "a0 a1 a2 a3 a4 a5 a6 a7 a8 a9"
    other = "a0 a1 a2 a3 a4 a5 a6 b7 b8 b9"
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    assert scorer.score(base, other)["rougeL"].fmeasure == pytest.approx(0.7)
    assert PromptFilter(min_words=1, pool=[base], rouge_threshold=0.7).check(other) == "near_duplicate"
    assert PromptFilter(min_words=1, pool=[base], rouge_threshold=0.71).check(other) is None


def test_contamination_exact_and_rouge() -> None:
    keep = PromptFilter(min_words=1, eval_prompts=["What is the capital of France?"])
    assert keep.check("what is the   CAPITAL of france?") == "contaminated"
    assert keep.check("Tell me: what is the capital of France") == "contaminated"
    assert keep.check("What is the tallest mountain in Peru?") is None
    assert keep.add("what is the capital of france?") == "contaminated"
    assert keep.pool == ()


def test_invalid_predicate_and_reason_order() -> None:
    keep = PromptFilter(min_words=2, eval_prompts=["count the apples"], validate=lambda p: "apples" in p)
    assert keep.check("x") == "too_short"  # length checks come first
    assert keep.check("count the pears") == "invalid"
    assert keep.check("count the apples") == "contaminated"
    assert keep.check("how many apples are left") is None


def test_seed_pool_counts_as_duplicates() -> None:
    keep = PromptFilter(min_words=1, pool=["List five fruits"])
    assert keep.check("list five fruits.") == "near_duplicate"
    assert keep.pool == ("List five fruits",)


def test_text_without_ascii_tokens_is_never_a_duplicate() -> None:
    keep = PromptFilter(min_words=1, pool=["写一首诗"])
    assert keep.check("写一首诗") is None


def test_filter_prompts_counts_every_reason() -> None:
    keep = PromptFilter(min_words=2, max_words=6, eval_prompts=["name a colour"], validate=lambda p: "?" not in p)
    prompts = [
        "hi",
        "a b c d e f g",
        "is this ok?",
        "name a colour",
        "sort these numbers",
        "sort these numbers",
    ]
    accepted, counts = filter_prompts(prompts, keep)
    assert accepted == ["sort these numbers"]
    assert counts == {
        "accepted": 1,
        "too_short": 1,
        "too_long": 1,
        "invalid": 1,
        "contaminated": 1,
        "near_duplicate": 1,
    }


def test_bad_settings() -> None:
    with pytest.raises(ValueError):
        PromptFilter(min_words=5, max_words=2)
    with pytest.raises(ValueError):
        PromptFilter(rouge_threshold=0.0)


def test_bit_parallel_lcs_matches_dynamic_programming() -> None:
    rng = random.Random(0)
    for _ in range(500):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 90))]
        b = [rng.choice("abcde") for _ in range(rng.randint(0, 90))]
        table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i, x in enumerate(a):
            for j, y in enumerate(b):
                table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
        assert _lcs_length(_position_masks(a), b) == table[-1][-1]


def _random_prompts(rng: random.Random, n: int, vocabulary: int) -> list[str]:
    words = [f"w{i}" for i in range(vocabulary)]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))) for _ in range(n)]


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7, 1.0])
def test_index_agrees_with_brute_force_rouge_scorer(threshold: float) -> None:
    # Small vocabulary and short prompts: many pairs sit near the threshold and the bound is tight.
    rng = random.Random(threshold)
    pool = _random_prompts(rng, 60, 8)
    queries = _random_prompts(rng, 120, 8)
    index = RougeIndex(pool)
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    for query in queries:
        brute = any(scorer.score(text, query)["rougeL"].fmeasure >= threshold for text in pool)
        assert index.any_at_least(query, threshold) == brute, query


def test_two_thousand_against_two_thousand_is_fast() -> None:
    rng = random.Random(1)
    words = [f"w{i}" for i in range(3000)]
    common = ["the", "a", "of", "to", "and", "write", "explain", "how", "in", "for"]

    def prompt() -> str:
        length = rng.randint(5, 40)
        return " ".join(rng.choice(common) if rng.random() < 0.4 else rng.choice(words) for _ in range(length))

    keep = PromptFilter(min_words=1, max_words=100, pool=[prompt() for _ in range(2000)])
    queries = [prompt() for _ in range(2000)]
    start = time.perf_counter()
    for query in queries:
        keep.check(query)
    assert time.perf_counter() - start < 10.0
