"""Cut-off generations, identical pairs, decontamination against every held-out source, data checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from srlm.backends.base import Completion, is_truncated
from srlm.backends.openai import ResponseCache, parse_choices
from srlm.config import config_from_dict
from srlm.data.io import read_rows
from srlm.rundir import RunDir, manifest_path, write_manifest
from srlm.stages import candidates, evaluate, judge, pairs, prompts
from srlm.stages.common import partial_path
from srlm.stages.data_checks import data_checks, rows
from srlm.training.sft import check_seed_data, sft_examples
from tests.helpers import ScriptedEngine, fixture_rows, tiny_config, write_jsonl


def make(tmp_path: Path, **sections: Any) -> tuple[Any, RunDir]:
    cfg = config_from_dict(tiny_config(tmp_path, tmp_path / "m0", **sections))
    rd = RunDir(Path(cfg.loop.run_dir))
    rd.iteration(1).mkdir(parents=True)
    return cfg, rd


def write_prompts(rd: RunDir, texts: list[str], t: int = 1) -> None:
    write_jsonl(rd.artifact(t, "prompts"), [{"id": f"p{i}", "prompt": text} for i, text in enumerate(texts)])


def cut_c0(item: Any, params: Any) -> str:
    """Candidate 0 of every prompt stops at the token limit; the others end."""
    return Completion(f"answer {item.id}", truncated=item.id.endswith("-c0"))


def counts_of(artifact: Path) -> dict[str, int]:
    return json.loads(manifest_path(artifact).read_text())["counts"]


# --- 1. truncation ----------------------------------------------------------------------------


def test_a_completion_is_a_str_that_says_whether_it_was_cut() -> None:
    import pickle

    text = Completion("half an ans", truncated=True)
    assert text == "half an ans" and is_truncated(text) and not is_truncated("plain")
    assert is_truncated(pickle.loads(pickle.dumps(text)))  # worker processes send it through pickle


def test_candidates_mark_truncation_count_it_and_keep_it_on_resume(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path)
    write_prompts(rd, ["q0", "q1"])
    # A killed run left p0-c0 in the partial file, marked cut off: the rerun keeps the mark.
    partial = partial_path(rd.artifact(1, "candidates"))
    partial.write_text(json.dumps({"id": "p0-c0", "text": "stored", "truncated": True}) + "\n")
    candidates.run(cfg, rd, 1, ScriptedEngine(cut_c0))
    written = read_rows(rd.artifact(1, "candidates"))
    assert written[0]["response"] == "stored"  # the finished row is kept, its mark too
    marks = {row["id"]: row["truncated"] for row in written}
    assert marks == {f"p{p}-c{c}": c == 0 for p in range(2) for c in range(4)}
    assert counts_of(rd.artifact(1, "candidates"))["truncated"] == 2


SCORES = {"-c0-": "Score: 5", "-c1-": "Score: 4", "-c2-": "Score: 2", "-c3-": "Score: 3"}


def score_by_candidate(item: Any, params: Any) -> str:
    return next(verdict for key, verdict in SCORES.items() if key in item.id)


def test_cut_off_candidates_are_dropped_from_pairs_by_default(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path)
    assert cfg.pairs.drop_truncated
    write_prompts(rd, ["q0"])
    candidates.run(cfg, rd, 1, ScriptedEngine(cut_c0))
    judge.run(cfg, rd, 1, ScriptedEngine(score_by_candidate))  # the judge likes the cut-off c0 best
    pairs.run(cfg, rd, 1)
    (pair,) = read_rows(rd.artifact(1, "pairs"))
    assert (pair["chosen_id"], pair["rejected_id"]) == ("p0-c1", "p0-c2")
    assert not pair["chosen_truncated"] and not pair["rejected_truncated"]


def test_with_the_switch_off_a_cut_off_answer_may_be_chosen_and_the_pair_says_so(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path, pairs={"drop_truncated": False})
    write_prompts(rd, ["q0"])
    candidates.run(cfg, rd, 1, ScriptedEngine(cut_c0))
    judge.run(cfg, rd, 1, ScriptedEngine(score_by_candidate))
    pairs.run(cfg, rd, 1)
    (pair,) = read_rows(rd.artifact(1, "pairs"))
    assert (pair["chosen_id"], pair["chosen_truncated"], pair["rejected_truncated"]) == ("p0-c0", True, False)


def test_evaluation_answers_mark_and_count_truncation(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path)
    artifact = rd.root / "eval" / "m1" / "answers.jsonl"
    prompt_file, eval_rows = evaluate.eval_prompts(cfg)
    engine = ScriptedEngine(lambda item, params: Completion("long answer", truncated=item.id in ("e0", "e1")))
    evaluate.write_answers(cfg, artifact, "m1", eval_rows, prompt_file, engine)
    marks = [row["truncated"] for row in read_rows(artifact)]
    assert marks == [True, True] + [False] * 8
    assert counts_of(artifact) == {"empty": 0, "truncated": 2}


def test_self_instruct_rejects_a_task_cut_off_at_the_token_limit(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path, prompts={"source": "self_instruct", "n": 2, "max_attempts_factor": 2})
    replies = {
        "t1-a0": Completion(" Describe how glaciers carve", truncated=True),  # the task itself is cut
        "t1-a1": Completion(" Explain how rain forms\nTask 10: and then", truncated=True),  # a later task is cut
        "t1-a2": Completion(" List three uses of copper wire"),
    }
    prompts.run(cfg, rd, 1, ScriptedEngine(lambda item, params: replies.get(item.id, ""), batch_size=8))
    assert [row["prompt"] for row in read_rows(rd.artifact(1, "prompts"))] == [
        "Explain how rain forms",
        "List three uses of copper wire",
    ]
    attempts = read_rows(rd.artifact(1, "prompts.attempts"))
    assert [(a["verdict"], a["truncated"]) for a in attempts] == [
        ("truncated", True),
        ("accepted", True),
        ("accepted", False),
        ("unparsed", False),
    ]
    assert counts_of(rd.artifact(1, "prompts"))["generations_truncated"] == 2


def test_a_server_s_finish_reason_length_marks_truncation_and_is_cached(tmp_path: Path) -> None:
    reply = {
        "choices": [
            {"index": 0, "message": {"content": "cut"}, "finish_reason": "length"},
            {"index": 1, "message": {"content": "done"}, "finish_reason": "stop"},
        ]
    }
    texts = parse_choices(reply, 2)
    assert texts == ["cut", "done"] and [is_truncated(t) for t in texts] == [True, False]
    cache = ResponseCache(tmp_path)
    cache.put("k" * 64, texts)
    again = cache.get("k" * 64, 2)
    assert again == ["cut", "done"] and [is_truncated(t) for t in again or []] == [True, False]


# --- 3. identical pairs ------------------------------------------------------------------------


def test_a_pair_of_identical_texts_is_dropped_and_counted(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path)
    write_prompts(rd, ["q0", "q1"])
    same = {"p0-c0": "same", "p0-c1": "same", "p0-c2": "same", "p0-c3": "same"}
    candidates.run(cfg, rd, 1, ScriptedEngine(lambda item, params: same.get(item.id, f"answer {item.id}")))
    judge.run(cfg, rd, 1, ScriptedEngine(lambda item, params: "Score: 5" if "-c0-" in item.id else "Score: 2"))
    pairs.run(cfg, rd, 1)
    assert [row["prompt_id"] for row in read_rows(rd.artifact(1, "pairs"))] == ["p1"]
    assert counts_of(rd.artifact(1, "pairs"))["dropped_identical"] == 1


# --- 4. decontamination ------------------------------------------------------------------------


def test_new_prompts_are_checked_against_every_held_out_source_ift_and_earlier_iterations(tmp_path: Path) -> None:
    rows_ = fixture_rows()
    data = tmp_path / "data"
    data.mkdir()
    held_out = write_jsonl(data / "alpaca.jsonl", [{"instruction": "Name the largest ocean on the planet"}])
    ranked = write_jsonl(data / "ranked.jsonl", [{"prompt": "Describe a quiet harbour at dawn", "responses": ["a"]}])
    pool = [
        "name the largest   OCEAN on the planet",  # eval.prompts only: still contaminated
        "Describe a quiet harbour at dawn",  # the judge-quality set
        rows_["ift"][0]["prompt"],  # an IFT prompt
        "Explain why the sky looks blue",  # an earlier iteration's prompt
        "Write a limerick about a cat",
    ]
    cfg, rd = make(
        tmp_path,
        data={"eval_prompts": []},
        eval={"prompts": [str(held_out)], "judge_eval": str(ranked)},
        prompts={"source": "file", "path": str(write_jsonl(data / "p.jsonl", [{"prompt": p} for p in pool])), "n": 5},
    )
    write_prompts(rd, ["Explain why the sky looks blue"], t=1)
    rd.iteration(2).mkdir()
    prompts.run(cfg, rd, 2, None)
    assert [row["prompt"] for row in read_rows(rd.artifact(2, "prompts"))] == ["Write a limerick about a cat"]
    counts = counts_of(rd.artifact(2, "prompts"))
    assert counts == {"contaminated": 2, "seed_duplicate": 1, "earlier_iteration": 1, "accepted": 1}


def test_seed_rows_matching_held_out_prompts_are_counted_and_dropped_on_request(tmp_path: Path) -> None:
    evals = fixture_rows()["eval"]
    for drop in (False, True):
        (tmp_path / str(drop)).mkdir()
        cfg, rd = make(tmp_path / str(drop), data={"drop_contaminated": drop})
        ift = read_rows(cfg.ift_file)
        ift[0]["prompt"] = evals[0]["prompt"]  # exact
        ift[1]["prompt"] = evals[1]["prompt"] + " now"  # near (ROUGE-L >= prompts.dedup_threshold)
        write_jsonl(Path(cfg.ift_file), ift)
        exclude, skipped = check_seed_data(cfg, rd, ift_only=False, record=True)
        record = json.loads((rd.root / "seed_check.json").read_text())
        assert record["counts"]["ift"] == {"rows": 40, "exact": 1, "near": 1}
        assert record["counts"]["eft"]["exact"] + record["counts"]["eft"]["near"] == 0
        assert record["dropped"] is drop
        if drop:
            assert skipped == {"ift_contaminated": 2, "eft_contaminated": 0}
            assert len(sft_examples(cfg, exclude=exclude)["ift"]) == 38
        else:
            assert (exclude, skipped) == (set(), {})
            assert len(sft_examples(cfg, exclude=exclude)["ift"]) == 40


# --- counts in metrics.json and the report -----------------------------------------------------


def test_data_checks_count_cut_offs_and_contamination_and_raise_alarms(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path)
    write_prompts(rd, ["q0", "q1"])
    candidates.run(cfg, rd, 1, ScriptedEngine(cut_c0))  # 2 of 8 cut: above the alarm
    check_seed_data(cfg, rd, ift_only=False, record=True)
    answers = rd.root / "eval" / "m1" / "answers.jsonl"
    answers.parent.mkdir(parents=True)
    write_jsonl(answers, [{"id": f"e{i}", "prompt": "q", "response": "a", "truncated": i == 0} for i in range(20)])
    rd.model(2).mkdir(parents=True)
    write_manifest(rd.model(2), stage="dpo", config_hash="x", inputs=[], skipped={"pairs_too_long": 3})
    checks, warnings = data_checks(cfg, rd, ["m1"])
    (iteration,) = checks["iterations"]
    assert iteration["candidates_truncated"] == 2 and iteration["candidates"] == 8
    assert iteration["dpo_pairs_too_long"] == 3
    assert checks["models"]["m1"] == {"answers": 20, "truncated": 1}
    assert checks["seed"]["counts"]["ift"]["rows"] == 40
    assert any("iteration 1 candidates: 2 of 8" in w for w in warnings)
    assert not any("m1 evaluation answers" in w for w in warnings)  # 5 %: below the alarm
    table = dict((check, count) for check, count in rows(checks))
    assert table["iter1 candidates cut off at max_new_tokens"] == "2 of 8 (25.0%)"
    assert table["m1 evaluation answers cut off at max_new_tokens"] == "1 of 20 (5.0%)"
