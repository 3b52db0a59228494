"""`train.report_to: [tensorboard]`: SFT's and DPO's steps and the loop's numbers, read back from the event files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.e2e.test_console import TINY


def scalars(log_dir: Path) -> dict[str, dict[int, float]]:
    events = EventAccumulator(str(log_dir))
    events.Reload()
    return {tag: {e.step: e.value for e in events.Scalars(tag)} for tag in events.Tags()["scalars"]}


def test_tensorboard_gets_the_trainers_steps_and_the_loop_s_iterations(tmp_path: Path) -> None:
    root = tmp_path / "run"
    args = [
        sys.executable,
        "-m",
        "srlm",
        "run",
        "--set",
        f"loop.run_dir={root}",
        "--set",
        "train.report_to=tensorboard",
    ]
    for item in TINY:
        args += ["--set", item]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {p.name for p in (root / "tensorboard").iterdir()} == {"m1", "sft_baseline", "m2", "loop"}
    sft = scalars(root / "tensorboard" / "m1")
    manifest = json.loads((root / "m1.manifest.json").read_text())
    losses = sft["train/loss"]
    assert losses[min(losses)] == pytest.approx(manifest["first_loss"], rel=1e-5)
    assert losses[max(losses)] == pytest.approx(manifest["last_loss"], rel=1e-5)
    assert "train/rewards/margins" in scalars(root / "tensorboard" / "m2")

    metrics = json.loads((root / "eval" / "metrics.json").read_text())
    loop = scalars(root / "tensorboard" / "loop")
    first = metrics["iterations"][0]
    assert loop["loop/pairs"] == {1: first["pairs"]} and loop["loop/prompts"] == {1: first["prompts"]}
    assert loop["judge/parse_failure_rate"][1] == pytest.approx(first["parse_failure_rate"])
    assert loop["pairs/precision"][1] == pytest.approx(first["pair_oracle"]["precision"])
    assert loop["dpo/loss_last"][1] == pytest.approx(first["dpo"]["loss"]["last"])
    for score, count in first["score_histogram"].items():
        assert loop[f"judge/score_histogram/{score}"] == {1: count}
    for t in (1, 2):
        model = metrics["models"][f"m{t}"]
        assert loop["eval/oracle_score_mean"][t] == pytest.approx(model["oracle_score_mean"])
        assert loop["eval/sampled_oracle_score_mean"][t] == pytest.approx(model["sampled"]["oracle_score_mean"])

    rerun = subprocess.run(args, capture_output=True, text=True, timeout=900)  # nothing to do: nothing doubled
    assert rerun.returncode == 0 and len(list((root / "tensorboard" / "loop").iterdir())) == 1
