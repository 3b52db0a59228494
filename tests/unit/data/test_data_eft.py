"""`build_eft` (srlm data eft) with a scripted judge: hand-worked filter, thinning, split and resume."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from srlm.config import Config, config_from_dict
from srlm.data.eft import build_eft, read_candidates
from srlm.data.io import DataError, read_rows
from srlm.stages import evaluate
from srlm.training.sft import EFT_FIELDS
from tests.helpers import ScriptedEngine, write_jsonl

# Scores the scripted judge gives each answer (None = a reply without a score), answers listed best
# first (ranks 0, 1, 2). Hand-worked: q1, q5, q6, q7 agree with the ranks; q2 ties, q3 inverts,
# q4 has a parse failure. Agreeing scores 5 3 1 | 4 3 | 4 2 | 4 1: score 4 is most common (3),
# the second most common count is 2 (scores 3 and 1), so one score-4 judgment is thinned away.
JUDGE_SCORES: dict[str, list[int | None]] = {
    "q1": [5, 3, 1],
    "q2": [4, 4],
    "q3": [2, 4],
    "q4": [4, None, 2],
    "q5": [4, 3],
    "q6": [4, 2],
    "q7": [4, 1],
}


def _candidates(tmp_path: Path, scores: dict[str, list[int | None]] = JUDGE_SCORES) -> Path:
    rows = [
        {
            "id": pid,
            "prompt": f"Question {pid}?",
            "responses": [f"answer {j} to {pid}" for j in range(len(values))],
            "ranks": list(range(len(values))),
        }
        for pid, values in scores.items()
    ]
    return write_jsonl(tmp_path / "eft_candidates.jsonl", rows)


def _reply(item: Any, params: Any) -> str:
    # Item ids are "<prompt id>-a<answer index>-j0"; the judged answer must be inside the prompt.
    pid, answer = item.id.split("-")[:2]
    assert f"answer {answer[1:]} to {pid}" in item.messages[0]["content"]
    score = JUDGE_SCORES[pid][int(answer[1:])]
    return "A fine answer, well organised." + (f"\nScore: {score}" if score is not None else "")


class Factory:
    def __init__(self) -> None:
        self.loaded: list[str] = []
        self.items: list[str] = []

    @contextmanager
    def __call__(self, model: str) -> Iterator[ScriptedEngine]:
        self.loaded.append(model)
        engine = ScriptedEngine(_reply)
        yield engine
        self.items += [i for batch in engine.calls for i in batch]


def _cfg(**loop: Any) -> Config:
    return config_from_dict({"model": {"path": "sft"}, "data": {"ift": "unused"}, "loop": loop})


def test_filter_and_thinning_by_hand(tmp_path: Path) -> None:
    factory = Factory()
    out = tmp_path / "out"
    counts = build_eft(_cfg(), factory, "sft", _candidates(tmp_path), out, eval_fraction=0.0)
    assert factory.loaded == ["sft"] and len(factory.items) == 16  # one judgment per answer
    assert counts["prompts_read"] == 7 and counts["answers_read"] == 16
    assert counts["prompts_judged"] == 7 and counts["answers_judged"] == 16
    assert counts["parse_failures"] == 1 and counts["prompts_with_parse_failure"] == 1
    assert counts["prompts_disagreeing"] == 2 and counts["prompts_agreeing"] == 4
    assert counts["answers_agreeing"] == 9 and counts["thinned_away"] == 1 and counts["after_thinning"] == 8
    rows = read_rows(out / "eft_train.jsonl", EFT_FIELDS)  # what `srlm sft` reads as data.eft
    assert {r["prompt_id"] for r in rows} == {"q1", "q5", "q6", "q7"}
    assert Counter(r["score"] for r in rows) == {5: 1, 4: 2, 3: 2, 2: 1, 1: 2}
    q1 = [r for r in rows if r["prompt_id"] == "q1"]
    assert [(r["response"], r["human_rank"], r["score"]) for r in q1] == [
        ("answer 0 to q1", 0, 5),
        ("answer 1 to q1", 1, 3),
        ("answer 2 to q1", 2, 1),
    ]
    assert q1[0]["judgment"] == "A fine answer, well organised.\nScore: 5"
    manifest = json.loads((out / "eft_train.jsonl.manifest.json").read_text())
    assert manifest["rows"] == 8 and manifest["score_histogram"] == {"1": 2, "2": 1, "3": 2, "4": 2, "5": 1}
    assert read_rows(out / "judge_eval.jsonl") == []


def test_eval_split_keeps_human_ranks_and_is_not_judged(tmp_path: Path) -> None:
    factory = Factory()
    out = tmp_path / "out"
    cfg = _cfg(seed=3)
    counts = build_eft(cfg, factory, "sft", _candidates(tmp_path), out, eval_fraction=0.3)
    eval_rows = read_rows(out / "judge_eval.jsonl")
    eval_ids = {r["id"] for r in eval_rows}
    assert len(eval_ids) == 2 and counts["eval_prompts"] == 2 and counts["train_prompts"] == 5
    assert not {i.split("-")[0] for i in factory.items} & eval_ids  # eval prompts are never judged
    assert not {r["prompt_id"] for r in read_rows(out / "eft_train.jsonl")} & eval_ids
    # The ranked file is what `srlm eval` measures judge quality on: best first, higher gold = better.
    run_cfg = config_from_dict(
        {"model": {"path": "m"}, "data": {"ift": "x"}, "eval": {"judge_eval": str(out / "judge_eval.jsonl")}}
    )
    targets = evaluate.judge_eval_targets(run_cfg)
    first = [t for t in targets if t["prompt_id"] == eval_rows[0]["id"]]
    assert [t["response"].split()[1] for t in first] == [str(j) for j in range(len(first))]
    assert [t["gold"] for t in first] == sorted((t["gold"] for t in first), reverse=True)


def test_rerun_reuses_judgments_and_new_input_judges_again(tmp_path: Path) -> None:
    out = tmp_path / "out"
    source = _candidates(tmp_path)
    build_eft(_cfg(), Factory(), "sft", source, out, eval_fraction=0.0)
    first = (out / "eft_train.jsonl").read_text()

    @contextmanager
    def no_engine(model: str) -> Iterator[ScriptedEngine]:
        raise AssertionError("judged again although every judgment was done")
        yield  # pragma: no cover

    build_eft(_cfg(), no_engine, "sft", source, out, eval_fraction=0.0)
    assert (out / "eft_train.jsonl").read_text() == first
    factory = Factory()
    build_eft(_cfg(), factory, "sft", source, out, eval_fraction=0.3)  # another split: judged again
    assert len(factory.items) == len(read_rows(out / "eft_judgments.jsonl")) < 16
    smaller = _candidates(tmp_path, {k: JUDGE_SCORES[k] for k in ("q1", "q2")})
    factory = Factory()
    counts = build_eft(_cfg(), factory, "sft", smaller, out, eval_fraction=0.0)
    assert len(factory.items) == 5 and counts["prompts_agreeing"] == 1


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"id": "q", "prompt": "p", "responses": ["a"], "ranks": [0]}, r":1: field 'responses' needs at least 2"),
        ({"id": "q", "prompt": "p", "responses": ["a", "b"], "ranks": [0]}, r":1: field 'ranks' has 1 entries"),
        ({"id": "q", "prompt": "p", "responses": ["a", "b"], "ranks": [0, "1"]}, r":1: field 'ranks' must hold"),
        ({"id": "q", "prompt": "p", "responses": ["a", "b"]}, r":1: missing field 'ranks'"),
    ],
)
def test_bad_candidates(tmp_path: Path, row: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_candidates(write_jsonl(tmp_path / "c.jsonl", [row]))
