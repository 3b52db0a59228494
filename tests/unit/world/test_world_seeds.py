"""Seed sets: shapes, disjoint prompts, rebalanced EFT histogram, ranked judge-eval answers."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from srlm.data.io import read_rows
from srlm.world.grammar import LOCAL_KINDS, parse
from srlm.world.oracle import grade
from srlm.world.seeds import WorldSizes, build_world, in_pretrain_pool, is_valid_prompt, sample_prompts

SIZES = WorldSizes(ift=200, eft_prompts=200, eft_answers_per_prompt=4, judge_eval=60, eval=300, dev=100)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    paths = build_world(tmp_path_factory.mktemp("world"), seed=3, sizes=SIZES)
    rows = {name: read_rows(getattr(paths, name)) for name in ("ift", "eft", "judge_eval", "eval", "dev")}
    rows["manifest"] = [json.loads(Path(paths.manifest).read_text())]
    return rows


def test_sizes_and_fields(world: dict[str, list[dict]]) -> None:
    assert len(world["ift"]) == 200 and len(world["eval"]) == 300 and len(world["dev"]) == 100
    assert len(world["judge_eval"]) == 60
    assert set(world["ift"][0]) == {"id", "prompt", "response"}
    assert set(world["eft"][0]) == {"id", "prompt", "response", "judgment"}
    assert set(world["eval"][0]) == {"id", "prompt"}
    assert world["manifest"][0]["counts"]["eft"] == len(world["eft"])


def test_no_prompt_in_two_sets_nor_in_the_pretraining_pool(world: dict[str, list[dict]]) -> None:
    sets = {name: {row["prompt"] for row in world[name]} for name in ("ift", "eft", "judge_eval", "eval", "dev")}
    names = list(sets)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not sets[a] & sets[b], (a, b)
        assert not any(in_pretrain_pool(p) for p in sets[a])
    assert len(sets["eval"]) == 300  # unique within a set too


def test_ift_answers_are_perfect(world: dict[str, list[dict]]) -> None:
    assert all(grade(r["prompt"], r["response"]).score == 5 for r in world["ift"])


def test_eft_histogram_is_rebalanced_and_judgments_match_the_oracle(world: dict[str, list[dict]]) -> None:
    scores = [grade(r["prompt"], r["response"]).score for r in world["eft"]]
    counts = Counter(scores).most_common()
    assert set(Counter(scores)) == set(range(6))  # the whole scale is covered
    assert counts[0][1] == counts[1][1]  # the most common score was thinned to the runner-up
    hist = world["manifest"][0]["eft_score_histogram"]
    assert {int(k): v for k, v in hist.items()} == Counter(scores)
    for row, score in zip(world["eft"], scores, strict=True):
        assert row["judgment"].endswith(f"score : {score}")


def test_judge_eval_answers_have_distinct_scores_ranked(world: dict[str, list[dict]]) -> None:
    for row in world["judge_eval"]:
        assert 3 <= len(row["responses"]) <= 4
        truth = [float(grade(row["prompt"], r).score) for r in row["responses"]]
        assert truth == row["scores"] == sorted(set(truth), reverse=True)


def test_build_is_deterministic(tmp_path: Path) -> None:
    small = WorldSizes(ift=20, eft_prompts=20, judge_eval=5, eval=30, dev=10)
    a = build_world(tmp_path / "a", seed=1, sizes=small)
    b = build_world(tmp_path / "b", seed=1, sizes=small)
    for name in ("ift", "eft", "judge_eval", "eval", "dev"):
        assert getattr(a, name).read_bytes() == getattr(b, name).read_bytes()


def test_sample_prompts_excludes_and_validates(world: dict[str, list[dict]]) -> None:
    exclude = {row["prompt"] for row in world["eval"]}
    first = sample_prompts(50, seed=0, exclude=set())
    prompts = sample_prompts(500, seed=0, exclude=exclude | set(first[:10]))
    assert len(set(prompts)) == 500 and not (set(prompts) & (exclude | set(first[:10])))
    assert all(is_valid_prompt(p) and not in_pretrain_pool(p) for p in prompts)
    assert not is_valid_prompt("write about the sea . dance .")


def test_model_eft_rows_judge_each_distinct_answer_and_thin_the_most_common_score() -> None:
    from srlm.world.grammar import parse
    from srlm.world.judgment import write_judgment
    from srlm.world.oracle import grade_instruction
    from srlm.world.seeds import model_eft_rows

    prompt = "write about the sea . include the word blue ."
    instruction = parse(prompt)
    assert instruction is not None
    # Scores by hand (topic, half, all, clean, extra): four answers score 5, two score 0.
    perfect = ["blue sea and fish", "the blue sea", "blue fish and sea", "a blue sea"]
    answers = {prompt: [*perfect, "the blue sea ", "tree cat", ""]}
    rows, histogram = model_eft_rows(answers, seed=0)
    scores = {a: grade_instruction(instruction, a).score for a in [*perfect, "tree cat", ""]}
    assert [scores[a] for a in perfect] == [5, 5, 5, 5] and scores["tree cat"] == 0 and scores[""] == 0
    # "the blue sea " repeats "the blue sea" once stripped: kept once. 5 is the most common
    # score (4 answers) and is thinned to the count of the next (0: 2 answers).
    assert histogram == {"0": 2, "1": 0, "2": 0, "3": 0, "4": 0, "5": 4}
    kept = [row["response"] for row in rows]
    assert "tree cat" in kept and "" in kept
    assert sum(1 for answer in kept if answer in perfect) == 2 and len(rows) == 4
    for row in rows:
        assert row["judgment"] == write_judgment(instruction, row["response"])
        assert row["judgment"].endswith(f"score : {scores[row['response']]}")
    assert model_eft_rows(answers, seed=0) == (rows, histogram)  # deterministic


def kinds_of(prompt: str) -> set[str]:
    instruction = parse(prompt)
    assert instruction is not None
    return {c.kind for c in instruction.constraints}


def test_every_set_is_drawn_from_the_worlds_rule_kinds(world: dict[str, list[dict]], tmp_path: Path) -> None:
    """The default world: the seven local kinds in every set; `rules` picks others, and world.json says which."""
    for name in ("ift", "eft", "judge_eval", "eval", "dev"):
        assert set().union(*(kinds_of(row["prompt"]) for row in world[name])) == set(LOCAL_KINDS), name
    assert world["manifest"][0]["rules"] == list(LOCAL_KINDS)
    small = WorldSizes(ift=40, eft_prompts=40, eft_answers_per_prompt=2, judge_eval=20, eval=40, dev=40)
    paths = build_world(tmp_path, seed=3, sizes=small, rules=("order", "include", "list"))
    for name in ("ift", "eft", "judge_eval", "eval", "dev"):
        kinds = set().union(*(kinds_of(row["prompt"]) for row in read_rows(getattr(paths, name))))
        assert kinds <= {"order", "include", "list"} and kinds, name
    assert json.loads(paths.manifest.read_text())["rules"] == ["include", "list", "order"]
    prompts = sample_prompts(100, seed=1, exclude=set(), kinds=("start", "end"))
    assert set().union(*map(kinds_of, prompts)) == {"start", "end"}
