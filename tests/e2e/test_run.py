"""`srlm run` end to end on the tiny model: every artifact, resume after SIGKILL, nothing to redo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from srlm.data.io import read_rows
from srlm.rundir import is_done, manifest_path
from tests.helpers import tiny_config

pytestmark = pytest.mark.slow
STAGE_FILES = ["prompts", "candidates", "judgments", "pairs"]


def srlm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "srlm", *args], capture_output=True, text=True, timeout=900)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def write_config(tmp: Path, model: Path, name: str, **sections: dict) -> Path:
    data = tiny_config(tmp, model, **sections)
    data["loop"]["run_dir"] = str(tmp / name)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def artifacts(run: Path) -> dict[str, list[dict]]:
    return {
        f"iter{t}/{name}": read_rows(run / f"iter{t}" / f"{name}.jsonl", None) for t in (1, 2) for name in STAGE_FILES
    }


def test_run_writes_the_documented_layout_and_resumes(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = write_config(tmp_path, tiny_model_dir, "full", backend={"batch_size": 2})
    srlm("run", str(config))
    run = tmp_path / "full"
    for path in [run / "m1", run / "m2", run / "m3"] + [
        run / f"iter{t}/{n}.jsonl" for t in (1, 2) for n in STAGE_FILES
    ]:
        assert is_done(path), path
        assert manifest_path(path).is_file()
    assert (run / "config.yaml").is_file()
    assert not list(run.rglob("*.partial")) and not list(run.rglob("*.saving"))
    pairs = read_rows(run / "iter1" / "pairs.jsonl")
    assert pairs and {"prompt", "chosen", "rejected", "score_chosen", "score_rejected"} <= set(pairs[0])

    again = srlm("run", str(config))
    assert "nothing to do" in again.stderr

    # Kill -9 inside the judge stage of iteration 1, then rerun the same command.
    killed = write_config(tmp_path, tiny_model_dir, "killed", backend={"batch_size": 2})
    partial = tmp_path / "killed" / "iter1" / "judgments.jsonl.partial"
    proc = subprocess.Popen(
        [sys.executable, "-m", "srlm", "run", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if partial.exists() and partial.read_text().count("\n") >= 4:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed mid-stage"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    survived = partial.read_text().count("\n")
    assert survived >= 4 and not (tmp_path / "killed" / "iter1" / "judgments.jsonl").exists()
    srlm("run", str(killed))
    assert artifacts(tmp_path / "killed") == artifacts(run)


def test_bad_config_is_a_clear_error(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = write_config(tmp_path, tiny_model_dir, "bad", dpo={"betta": 1})
    proc = srlm("run", str(config), check=False)
    assert proc.returncode == 2
    assert "dpo.betta: unknown key" in proc.stderr and "Traceback" not in proc.stderr


def test_changed_config_is_refused_with_the_differing_keys(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = write_config(tmp_path, tiny_model_dir, "changed", sft={"epochs": 1}, loop={"iterations": 0})
    srlm("run", str(config))
    proc = srlm("run", str(config), "--set", "sft.epochs=2", check=False)
    assert proc.returncode == 2 and "sft.epochs: 1.0 -> 2.0" in proc.stderr


def test_stage_verbs_run_one_stage(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = write_config(tmp_path, tiny_model_dir, "verbs", sft={"epochs": 2}, loop={"iterations": 0})
    srlm("run", str(config))
    run = tmp_path / "verbs"
    srlm("prompts", str(run), "--iteration", "1")
    srlm("candidates", str(run), "--iteration", "1")
    rows = read_rows(run / "iter1" / "candidates.jsonl", None)
    assert len(rows) == 6 * 4
    manifest = json.loads(manifest_path(run / "iter1" / "candidates.jsonl").read_text())
    assert manifest["rows"] == 24 and manifest["stage"] == "iter1 candidates"


def test_eval_with_a_pairwise_judge_model(tmp_path: Path, tiny_model_dir: Path) -> None:
    """`eval.judge_model` loads a real HF model and judges m1 vs the baseline in both orders."""
    config = write_config(
        tmp_path, tiny_model_dir, "judged", sft={"epochs": 2}, loop={"iterations": 0, "sft_baseline": True},
        eval={"judge_model": str(tiny_model_dir), "max_new_tokens": 8},
    )  # fmt: skip
    srlm("run", str(config))
    metrics = json.loads((tmp_path / "judged" / "eval" / "metrics.json").read_text())
    (entry,) = [h for h in metrics["head_to_head"] if h["judge"] == "judge_model"]
    assert (entry["a"], entry["b"]) == ("m1", "sft_baseline")
    assert entry["wins"] + entry["ties"] + entry["losses"] + entry["unjudged"] == 10  # every eval prompt
    verdicts = read_rows(tmp_path / "judged" / "eval" / "judge_model" / "m1_vs_sft_baseline.jsonl", None)
    assert len(verdicts) == 10
    for row in verdicts:  # both orders were asked, and the combined outcome follows the tie rule
        assert {"judgment_ab", "judgment_ba"} <= set(row)
        if None in (row["outcome_ab"], row["outcome_ba"]):
            assert row["outcome"] is None
        elif row["outcome_ab"] != row["outcome_ba"]:
            assert row["outcome"] == 0.5
