"""`srlm data oasst` then `srlm data eft` from the command line, judged by the tiny HF test model."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from srlm.cli import app
from srlm.data.io import read_rows

FIXTURES = Path(__file__).parents[2] / "fixtures" / "oasst"


def test_oasst_then_eft_with_the_tiny_model(tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "oasst"
    result = CliRunner().invoke(
        app, ["data", "oasst", "--input", str(FIXTURES / "messages.jsonl"), "--out", str(out), "--eft-share", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "duplicate prompt" in result.output and "deleted answer" in result.output
    assert [r["id"] for r in read_rows(out / "ift.jsonl")] == ["p4"]
    candidates = read_rows(out / "eft_candidates.jsonl")
    assert len(candidates) == 3

    # A short judge prompt: the shipped rubric is longer than the tiny model's context is useful for.
    template = tmp_path / "judge.txt"
    template.write_text("Rate the response.\nTask: {prompt}\nResponse: {response}\n")
    args = ["data", "eft", "--sft-model", str(tiny_model_dir), "--in", str(out / "eft_candidates.jsonl")]
    args += ["--out", str(out), "--eval-fraction", "0.34", "--set", f"judge.template={template}"]
    args += ["--set", "judge.max_new_tokens=6", "--set", "backend.batch_size=4"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "parse failures" in result.output and "after thinning" in result.output
    counts = json.loads((out / "eft_train.jsonl.manifest.json").read_text())["counts"]
    eval_rows = read_rows(out / "judge_eval.jsonl")
    train_ids = {c["id"] for c in candidates} - {r["id"] for r in eval_rows}
    train_answers = sum(len(c["responses"]) for c in candidates if c["id"] in train_ids)
    assert len(eval_rows) == 1 and counts["train_prompts"] == 2
    judgments = read_rows(out / "eft_judgments.jsonl")
    assert len(judgments) == counts["answers_judged"] == train_answers  # one judgment per train answer
    assert all(len(j["samples"]) == 1 and isinstance(j["samples"][0]["text"], str) for j in judgments)
    assert counts["parse_failures"] == sum(1 for j in judgments if j["score"] is None)
    outcomes = counts["prompts_with_parse_failure"] + counts["prompts_disagreeing"] + counts["prompts_agreeing"]
    assert outcomes == counts["prompts_judged"] == 2
    assert counts["after_thinning"] == len(read_rows(out / "eft_train.jsonl"))


def test_malformed_input_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["data", "oasst", "--input", str(FIXTURES / "malformed_messages.jsonl"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "malformed_messages.jsonl:3: field 'rank'" in result.output and "Traceback" not in result.output
