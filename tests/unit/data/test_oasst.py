"""Open Assistant import: both layouts agree, IFT/EFT are disjoint, skips are counted, errors name the field.

The fixture trees (tests/fixtures/oasst/README.md) by hand, English only unless said:
p1 3 ranked answers + a second turn under a1 | p2 rank-1 answer deleted -> 2 left | p3 German
p4 one answer, rank 0 | p5 rank-2 answer failed review -> 2 left | p6 one unranked answer
p7 deleted prompt | p8 tree not ready for export | p9 same text as p1 up to case and spaces.
Usable prompts: one of p1/p9, p2, p4, p5; EFT-eligible (>= 2 ranked answers): one of p1/p9, p2, p5.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srlm.data.io import DataError, read_rows
from srlm.data.oasst import build_seed_sets, read_messages, write_seed_sets
from srlm.training.sft import IFT_FIELDS

FIXTURES = Path(__file__).parents[2] / "fixtures" / "oasst"
MESSAGES, TREES = FIXTURES / "messages.jsonl", FIXTURES / "trees.jsonl"

EXPECTED_SKIPS = {
    "later_turn_messages": 2,  # p1b and a1b, under a1
    "tree_not_ready": 1,  # p8
    "deleted_prompt": 1,  # p7
    "other_language_prompt": 1,  # p3
    "duplicate_prompt": 1,  # p1 or p9
    "deleted_answer": 1,  # b1
    "failed_review_answer": 1,  # e3
    "unranked_answer": 1,  # f1
    "prompt_without_usable_answer": 1,  # p6
}


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_both_layouts_give_the_same_sets(seed: int) -> None:
    flat = build_seed_sets(read_messages(MESSAGES), seed=seed)
    nested = build_seed_sets(read_messages(TREES), seed=seed)
    assert flat.ift == nested.ift and flat.eft == nested.eft
    assert flat.counts == nested.counts


def test_counts_and_skips_by_hand() -> None:
    sets = build_seed_sets(read_messages(TREES), eft_share=0.5)
    counts = sets.counts
    assert counts["messages"] == 29 and counts["trees"] == 9
    assert {k: counts[k] for k in EXPECTED_SKIPS} == EXPECTED_SKIPS
    assert counts["usable_prompts"] == 4 and counts["eft_eligible_prompts"] == 3
    assert counts["eft_prompts"] == 2 and counts["ift"] == 2  # round(0.5 * 3) = 2 of the 3 go to EFT


def test_ift_and_eft_are_disjoint_and_cover_the_usable_prompts() -> None:
    for seed in range(6):
        sets = build_seed_sets(read_messages(MESSAGES), seed=seed, eft_share=0.5)
        ift, eft = {r["id"] for r in sets.ift}, {r["id"] for r in sets.eft}
        assert not ift & eft
        assert len(ift | eft) == 4 and {"p2", "p4", "p5"} <= ift | eft
        assert len({"p1", "p9"} & (ift | eft)) == 1  # the repeated prompt text is kept once
        texts = [r["prompt"] for r in sets.ift + sets.eft]
        assert len({" ".join(t.split()).casefold() for t in texts}) == len(texts)


def test_eft_share_one_keeps_only_single_answer_prompts_for_ift() -> None:
    sets = build_seed_sets(read_messages(TREES), eft_share=1.0)
    assert [r["id"] for r in sets.ift] == ["p4"]
    assert sets.ift[0]["response"].startswith("Soft rain on the roof")
    by_id = {r["id"]: r for r in sets.eft}
    assert {"p2", "p5"} <= set(by_id) and len(by_id) == 3
    # p2: the deleted rank-1 answer is gone; the ranks are the humans', best first.
    assert by_id["p2"]["ranks"] == [0, 2] and by_id["p2"]["message_ids"] == ["b2", "b3"]
    assert by_id["p5"]["responses"] == ["2 + 2 = 4.", "5"]  # e3 failed review
    first = by_id.get("p1") or by_id["p9"]
    if first["id"] == "p1":  # the second turn under a1 never shows up
        assert first["message_ids"] == ["a1", "a2", "a3"] and "Six minutes" not in json.dumps(first)


def test_eft_share_zero_gives_every_rank0_answer_to_ift() -> None:
    sets = build_seed_sets(read_messages(TREES), eft_share=0.0)
    assert sets.eft == []
    by_id = {r["id"]: r["response"] for r in sets.ift}
    assert by_id["p2"] == "Blue is one of the three primary colours of paint." and by_id["p5"] == "2 + 2 = 4."
    assert len(by_id) == 4


def test_ift_size_caps_and_counts() -> None:
    sets = build_seed_sets(read_messages(TREES), eft_share=0.0, ift_size=3)
    assert len(sets.ift) == 3 and sets.counts["ift_over_size"] == 1


def test_language_option() -> None:
    sets = build_seed_sets(read_messages(TREES), lang="de", eft_share=1.0)
    assert [r["id"] for r in sets.eft] == ["p3"] and sets.ift == []
    assert sets.eft[0]["responses"][0] == "Das kann ich leider nicht wissen."


def test_malformed_flat_row_names_file_line_and_field() -> None:
    with pytest.raises(DataError, match=r"malformed_messages\.jsonl:3: field 'rank' must be int or float"):
        read_messages(FIXTURES / "malformed_messages.jsonl")


def test_malformed_tree_names_the_field_path() -> None:
    pattern = r"malformed_trees\.jsonl:2: field 'prompt\.replies\[1\]\.role' must be 'prompter' or 'assistant'"
    with pytest.raises(DataError, match=pattern):
        read_messages(FIXTURES / "malformed_trees.jsonl")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"message_id": "x", "role": "prompter"}, r"rows\.jsonl:1: field 'text' must be a string, got nothing"),
        ({"message_id": "x", "role": "prompter", "text": "hi", "rank": True}, r":1: field 'rank' must be int"),
        ({"message_id": "x", "role": "prompter", "text": "hi", "rank": 1.5}, r":1: field 'rank' must be a whole"),
        ({"message_id": "x", "role": "prompter", "text": "hi", "deleted": "no"}, r":1: field 'deleted' must be bool"),
        ({"id": "x"}, r":1: neither a message"),
    ],
)
def test_bad_rows(tmp_path: Path, row: dict[str, object], message: str) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match=message):
        read_messages(path)


def test_duplicate_message_id_is_an_error(tmp_path: Path) -> None:
    lines = MESSAGES.read_text().splitlines()
    path = tmp_path / "twice.jsonl"
    path.write_text("\n".join([*lines, lines[0]]) + "\n")
    with pytest.raises(DataError, match=r"twice\.jsonl:30 \(row\): message_id 'p1' is also at .*twice\.jsonl:1"):
        build_seed_sets(read_messages(path))


def test_gzip_and_datasets_dir_read_the_same(tmp_path: Path) -> None:
    import gzip

    import datasets

    gz = tmp_path / "messages.jsonl.gz"
    gz.write_bytes(gzip.compress(MESSAGES.read_bytes()))
    rows = read_rows(MESSAGES)
    for row in rows:  # hub parquet files keep the nullable rank as a float
        row["rank"] = None if row["rank"] is None else float(row["rank"])
        row.pop("emojis")  # a dict column Arrow would widen; not read by srlm
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "hub"))
    reference = build_seed_sets(read_messages(MESSAGES), seed=3)
    for source in (gz, tmp_path / "hub"):
        sets = build_seed_sets(read_messages(source), seed=3)
        assert (sets.ift, sets.eft) == (reference.ift, reference.eft)


def test_written_files_and_manifests(tmp_path: Path) -> None:
    sets = build_seed_sets(read_messages(TREES), eft_share=0.5)
    paths = write_seed_sets(sets, tmp_path / "out", str(TREES), {"seed": 0})
    assert read_rows(paths["ift"], IFT_FIELDS) == sets.ift  # what `srlm sft` reads as data.ift
    assert read_rows(paths["eft_candidates"]) == sets.eft
    manifest = json.loads((tmp_path / "out" / "ift.jsonl.manifest.json").read_text())
    assert manifest["rows"] == 2 and manifest["counts"]["deleted_answer"] == 1
    assert manifest["inputs"] and manifest["source"] == str(TREES)
