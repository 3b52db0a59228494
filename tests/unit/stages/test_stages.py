"""Generation stages with a scripted engine: resume, few-shot prompts, judging rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from srlm.config import config_from_dict
from srlm.data.io import read_rows
from srlm.rundir import RunDir, is_done, manifest_path
from srlm.stages import candidates, judge, pairs, prompts
from srlm.stages.common import partial_path
from tests.helpers import ScriptedEngine, fixture_rows, tiny_config


def make(tmp_path: Path, **sections: Any) -> tuple[Any, RunDir]:
    cfg = config_from_dict(tiny_config(tmp_path, tmp_path / "m0", **sections))
    rd = RunDir(Path(cfg.loop.run_dir))
    rd.iteration(1).mkdir(parents=True)
    return cfg, rd


def echo(item: Any, params: Any) -> str:
    return f"answer {item.id} seed {item.seed % 1000}"


def write_prompts(rd: RunDir, texts: list[str]) -> None:
    rows = [{"id": f"p{i}", "prompt": text} for i, text in enumerate(texts)]
    rd.artifact(1, "prompts").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_self_instruct_prompts_use_ift_and_generated_shots(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path, prompts={"source": "self_instruct", "n": 5, "min_words": 2}, backend={"batch_size": 3})
    topics = iter(
        [
            "volcanoes erupt",
            "bees make honey",
            "tides follow moon",
            "glass is made",
            "trains run late",
            "owls hunt mice",
            "snow feels cold",
            "paper comes from trees",
        ]
    )
    shots_seen: list[str] = []

    def invent(item: Any, params: Any) -> str:
        assert params.temperature == 0.6 and params.top_p == 0.9
        shots_seen.append(item.messages[0]["content"])
        return f" Describe why {next(topics)}\nTask 10: ignored"

    engine = ScriptedEngine(invent, batch_size=3)
    prompts.run(cfg, rd, 1, engine)
    rows = read_rows(rd.artifact(1, "prompts"))
    assert len(rows) == 5 and all(r["prompt"].startswith("Describe why") for r in rows)
    # Round 2's few-shot prompts hold 2 prompts accepted in round 1 and 6 IFT prompts.
    assert sum("Describe why" in line for line in shots_seen[3].splitlines()) == 2
    assert len({r["id"] for r in rows}) == 5
    manifest = json.loads(manifest_path(rd.artifact(1, "prompts")).read_text())
    assert manifest["counts"]["accepted"] == 6  # two rounds of 3; only 5 kept
    assert rd.artifact(1, "prompts.attempts").exists()


def test_self_instruct_filters_duplicates_and_eval_prompts(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path, prompts={"source": "self_instruct", "n": 3, "max_attempts_factor": 2})
    evals = fixture_rows()["eval"]
    replies = iter(
        [
            evals[0]["prompt"],
            "Tell me a story about a dragon",
            "Tell me a story about a dragon",
            "hi",
            "Explain how rain forms in clouds",
            "List three uses of copper wire",
        ]
    )
    engine = ScriptedEngine(lambda item, params: next(replies), batch_size=6)
    prompts.run(cfg, rd, 1, engine)
    manifest = json.loads(manifest_path(rd.artifact(1, "prompts")).read_text())
    assert manifest["counts"] == {"contaminated": 1, "accepted": 3, "near_duplicate": 1, "too_short": 1}


def test_file_source_takes_a_seeded_slice(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path)
    prompts.run(cfg, rd, 1, None)
    first = [r["prompt"] for r in read_rows(rd.artifact(1, "prompts"))]
    assert len(first) == cfg.prompts.n
    pool = {r["prompt"] for r in fixture_rows()["pool"]}
    assert set(first) <= pool


def test_candidates_resume_keeps_finished_rows_and_matches(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path)
    write_prompts(rd, ["q one", "q two", "q three"])
    full = ScriptedEngine(echo, batch_size=4)
    candidates.run(cfg, rd, 1, full)
    expected = read_rows(rd.artifact(1, "candidates"))
    assert len(expected) == 12 and {r["candidate_index"] for r in expected} == {0, 1, 2, 3}
    # Simulate a kill after the first batch: keep one batch of the partial file plus a torn line.
    artifact = rd.artifact(1, "candidates")
    for path in (artifact, manifest_path(artifact)):
        path.unlink()
    first_batch = full.calls[0]
    partial = partial_path(artifact)
    partial.write_text(
        "".join(json.dumps({"id": r["id"], "text": r["response"]}) + "\n" for r in expected if r["id"] in first_batch)
        + '{"id": "torn'
    )
    resumed = ScriptedEngine(echo, batch_size=4)
    candidates.run(cfg, rd, 1, resumed)
    assert read_rows(artifact) == expected
    assert first_batch not in resumed.calls and len(resumed.calls) == len(full.calls) - 1
    assert not partial.exists() and is_done(artifact)


def test_judge_stores_null_scores_and_never_invents_them(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path)
    write_prompts(rd, ["q"])
    # Distinct answers: a pair of two identical texts is dropped.
    candidates.run(cfg, rd, 1, ScriptedEngine(lambda item, params: f"Score: 5 (ignore me) {item.id}"))
    replies = {"-c0-": "Good. Score: 4", "-c1-": "no verdict", "-c2-": "Score: 1", "-c3-": "Score: 9"}

    def judge_reply(item: Any, params: Any) -> str:
        # The judged response ("Score: 5 …") is inside the prompt; it must never be what is parsed.
        assert "Score: 5 (ignore me)" in item.messages[0]["content"]
        return next(text for key, text in replies.items() if key in item.id + "-")

    judge.run(cfg, rd, 1, ScriptedEngine(judge_reply))
    rows = {r["id"].split("-")[-1]: r for r in read_rows(rd.artifact(1, "judgments"))}
    assert rows["c0"]["score"] == 4.0 and rows["c2"]["score"] == 1.0
    assert rows["c1"]["score"] is None and rows["c3"]["score"] is None
    assert all(s["score"] is None for s in rows["c1"]["samples"])
    manifest = json.loads(manifest_path(rd.artifact(1, "judgments")).read_text())
    assert manifest["counts"] == {"samples": 12, "parse_failures": 6, "unscored_candidates": 2}
    pairs.run(cfg, rd, 1)
    (pair,) = read_rows(rd.artifact(1, "pairs"))
    assert pair["score_chosen"] == 4.0 and pair["score_rejected"] == 1.0
    assert pair["chosen_id"].endswith("c0") and pair["rejected_id"].endswith("c2")


def test_degenerate_judge_stops_the_iteration(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path)
    write_prompts(rd, ["q1", "q2"])
    candidates.run(cfg, rd, 1, ScriptedEngine(echo))
    judge.run(cfg, rd, 1, ScriptedEngine(lambda item, params: "Score: 3"))
    with pytest.raises(pairs.DegenerateJudgeError, match="no usable preference pairs"):
        pairs.run(cfg, rd, 1)
    assert not rd.artifact(1, "pairs").exists()
