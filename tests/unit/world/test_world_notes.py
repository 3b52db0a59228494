"""Check notes (M0's second pretraining phase): true facts, verdicts near half yes, no instructions."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

from srlm.world.grammar import NUMBER_WORDS, parse
from srlm.world.notes import check_note
from srlm.world.pretrain import LOOKUP_FAMILIES, sample_document

NOTES = [check_note(random.Random(f"test-{i}")) for i in range(600)]


def _lines() -> list[tuple[list[str], str, str, str]]:
    """(answer words, rule, fact, verdict) for every check line of every note."""
    rows = []
    for note in NOTES:
        page, review = note.split("\nreview :\n")
        assert page.startswith("answer : ")
        words = page.removeprefix("answer : ").split()
        for line in review.split("\n"):
            rule, rest = line.split(" : ")
            fact, _, verdict = rest.rpartition(" , ")
            rows.append((words, rule, fact or rest, verdict or ("yes" if rest == "yes" else "")))
    return rows


def test_facts_are_true_of_the_answer() -> None:
    kinds = Counter()
    for words, rule, fact, verdict in _lines():
        head, *rest = rule.split()
        if head == "include":
            assert (fact == "found") == (rest[0] in words) and (verdict == "yes") == (fact == "found")
        elif head == "avoid":
            assert (fact == "found") == (rest[0] in words) and (verdict == "yes") == (fact == "missing")
        elif rule.startswith(("start with", "end with")):
            true = words[0] if head == "start" else words[-1]
            assert fact == f"{'first' if head == 'start' else 'last'} {true}"
            assert (verdict == "yes") == (true == rest[-1])
        elif head in ("exactly", "at") and rule.endswith("words"):
            assert fact == f"got {NUMBER_WORDS[len(words)]}"
        elif head == "say":
            assert fact == f"got {NUMBER_WORDS[words.count(rest[0])]}"
        elif head == "clean":  # the world before's check, as the shipped M0 read it
            repeated = len(set(words)) < len(words)
            assert (fact == "yes") == (3 <= len(words) <= 12 and not repeated)
        else:
            continue
        kinds[head] += 1
    assert min(kinds.values()) > 50 and len(kinds) == 8


def test_verdicts_are_near_half_yes_per_family() -> None:
    verdicts: dict[str, list[bool]] = defaultdict(list)
    for _, rule, _, verdict in _lines():
        family = next((f for f, kinds in LOOKUP_FAMILIES.items() if any(k in rule for k in kinds)), "order")
        verdicts[family].append(verdict == "yes")
    for family in ("include/avoid", "first/last", "count", "topic"):
        share = sum(verdicts[family]) / len(verdicts[family])
        assert 0.3 < share < 0.7, (family, share)


def test_notes_name_no_instruction_and_are_mixed_in_only_when_asked() -> None:
    assert all(parse(line) is None for note in NOTES for line in note.split("\n"))
    rng = random.Random(0)
    assert not any(sample_document(rng).startswith("answer : ") for _ in range(300))
    rng = random.Random(0)
    share = sum(sample_document(rng, notes_share=0.5).startswith("answer : ") for _ in range(1000)) / 1000
    assert 0.45 < share < 0.55
