"""EFT replay's pure logic: which rows are judged again, which of the model's judgments is rejected."""

from __future__ import annotations

from srlm.method.judging.replay import Replayed, choose_rows, replay_pairs


def item(row_id: str, seed_score: float | None, *scores: float | None) -> Replayed:
    samples = [(f"{row_id} judged {score}", score) for score in scores]
    return Replayed(row_id, f"judge {row_id}", f"{row_id} seed judgment", seed_score, samples)


def test_choose_rows_is_a_seeded_subset_in_file_order() -> None:
    ids = [f"eft{i}" for i in range(50)]
    first = choose_rows(ids, 10, seed=7)
    assert first == choose_rows(ids, 10, seed=7) and len(set(first)) == 10
    assert first == sorted(first, key=ids.index)
    assert first != choose_rows(ids, 10, seed=8)  # another iteration replays other rows
    assert choose_rows(ids[:5], 10, seed=7) == ids[:5]  # fewer rows than asked: all of them


def test_the_rejected_judgment_is_the_one_furthest_from_the_seed_score() -> None:
    pairs, counts = replay_pairs([item("a", 2, 2, 5, 3), item("b", 4, 4, 3, None), item("c", 1, 1, 1, 1)])
    assert [(p.id, p.rejected, p.rejected_score) for p in pairs] == [
        ("a", "a judged 5", 5),  # 3 points off beats 1 point off
        ("b", "b judged None", None),  # an unparsed judgment is further off than any score
    ]
    assert all(p.chosen == f"{p.id} seed judgment" and p.prompt == f"judge {p.id}" for p in pairs)
    assert [p.seed_score for p in pairs] == [2, 4]
    assert counts == {
        "rows": 3,
        "samples": 9,
        "samples_right": 5,
        "samples_unparsed": 1,
        "rows_all_right": 1,  # c: judged as the seed set does every time, nothing to train
        "seed_unparsed": 0,
        "pairs": 2,
    }


def test_a_seed_judgment_without_a_score_is_skipped_and_counted() -> None:
    pairs, counts = replay_pairs([item("a", None, 3, 4)])
    assert pairs == [] and counts["seed_unparsed"] == 1 and counts["samples"] == 0
