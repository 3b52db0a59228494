"""The default world run at reduced size through the CLI: every stage, eval, report, schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SMALL = [
    "world.ift=120", "world.eft_prompts=120", "world.judge_eval=20", "world.eval=60", "world.dev=20",
    "sft.epochs=2", "prompts.n=24", "candidates.max_new_tokens=16", "judge.max_new_tokens=64",
    "backend.batch_size=64",
]  # fmt: skip


def test_default_run_smoke(tmp_path: Path) -> None:
    run = tmp_path / "default"
    args = [sys.executable, "-m", "srlm", "run", "--set", f"loop.run_dir={run}"]
    for item in SMALL:
        args += ["--set", item]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=1500)
    assert proc.returncode in (0, 3), proc.stderr[-4000:]
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    # At this size the judge may learn too little to rank anything: the loop must then stop with
    # a recorded reason (never train on nothing), everything trained so far is evaluated, and
    # `srlm run` exits 3 instead of 0.
    stopped = metrics.get("stopped_early")
    assert proc.returncode == (3 if stopped else 0)
    trained = ["m1", "m2", "m3"][: stopped["iteration"] if stopped else 3]
    assert set(metrics["models"]) == {*trained, "sft_baseline"}
    if stopped:
        assert "no usable preference pairs" in stopped["reason"] and metrics["warnings"]
    for name, model in metrics["models"].items():
        assert 0.0 <= model["oracle_score_mean"] <= 5.0, name
        low, high = model["oracle_score_ci95"]
        assert low <= model["oracle_score_mean"] <= high
        judge = model["judge"]
        for key in ("pairwise_accuracy", "spearman", "kendall_tau", "exact_match", "five_best", "parse_failure_rate"):
            assert key in judge, (name, key)
    pairs = {(h["a"], h["b"]) for h in metrics["head_to_head"] if h["judge"] == "oracle"}
    expected = {("m1", "sft_baseline")} | ({("m2", "m1"), ("m3", "m2"), ("m3", "m1")} if not stopped else set())
    assert expected <= pairs
    for h in metrics["head_to_head"]:
        assert h["wins"] + h["ties"] + h["losses"] > 0 and 0.0 <= h["win_rate"] <= 1.0
    assert [it["iteration"] for it in metrics["iterations"]] == (
        [1] if stopped and stopped["iteration"] == 1 else [1, 2]
    )
    for it in metrics["iterations"]:
        assert {"prompts", "pairs", "tie_drop_rate", "mean_answer_words"} <= set(it)
    html = (run / "report.html").read_text()
    assert "<html" in html.lower() and 'src="http' not in html
    assert "srlm eval" in proc.stdout + proc.stderr  # the end-of-run table
