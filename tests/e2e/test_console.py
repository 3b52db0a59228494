"""What `srlm run` shows: per stage a start line and a result line, then the table; nothing of the libraries.

A tiny world run through the CLI, its stdout and stderr captured (no terminal: no progress bars).
Everything else is in the run dir: run.log (the console, kept), logs/<stage>.log, and a model card
in every model dir.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from srlm.verify import verify_run

TINY = [
    "world.ift=40", "world.eft_prompts=40", "world.judge_eval=10", "world.eval=20", "world.dev=10",
    "sft.epochs=1", "prompts.n=8", "loop.iterations=1", "candidates.max_new_tokens=16", "judge.max_new_tokens=48",
]  # fmt: skip
STAGES = ["world", "sft", "sft_baseline", "iter1 prompts", "iter1 candidates", "iter1 judge", "iter1 pairs",
          "iter1 dpo", "eval m1", "eval m2", "eval sft_baseline"]  # fmt: skip
NOISE = [
    r"it/s", r"examples/s", r"\d+%\|", "Loading weights", "Tokenizing", "Building labels", "Truncating",
    "Dropping fully", "Warning", "warnings.warn", r"\{'loss'", "'grad_norm'", "train_runtime", "Writing model shards",
]  # fmt: skip


def run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "srlm", "run", "--set", f"loop.run_dir={tmp_path / 'run'}"]
    for item in TINY:
        args += ["--set", item]
    args += extra  # later settings win
    return subprocess.run(args, capture_output=True, text=True, timeout=900)


def test_the_console_shows_each_stage_and_the_table_and_nothing_else(tmp_path: Path) -> None:
    proc = run(tmp_path)
    assert proc.returncode in (0, 3), proc.stderr[-3000:]
    assert proc.stdout == ""
    for pattern in NOISE:
        assert not re.search(pattern, proc.stderr), (pattern, proc.stderr)
    lines = proc.stderr.splitlines()
    assert "" not in lines
    for stage in STAGES:
        starts = [line for line in lines if re.fullmatch(rf"\d\d:\d\d:\d\d {stage}(: .*)? …", line)]
        results = [line for line in lines if line.startswith(f"{stage}: ") and not line.endswith("…")]
        assert len(starts) == 1 and len(results) == 1, (stage, proc.stderr)
    assert re.search(r"sft: \d+ examples, loss \d\.\d+ -> \d\.\d+", proc.stderr)
    assert re.search(r"iter1 pairs: \d+ rows, .*precision \d\.\d+ by the oracle", proc.stderr)
    assert "srlm eval" in proc.stderr  # the table
    root = tmp_path / "run"
    run_log = (root / "run.log").read_text()
    assert "srlm run" in run_log and "sft: " in run_log and "srlm eval" in run_log
    logs = root / "logs"
    assert {"sft.log", "iter1-dpo.log", "iter1-candidates.log"} <= {p.name for p in logs.iterdir()}
    assert re.search(r"sft step 1/\d+: \{\"loss\"", (logs / "sft.log").read_text())
    for model in ("m1", "m2", "sft_baseline"):  # every model dir has its card, with the evaluation
        card = (root / model / "README.md").read_text()
        assert card.startswith("---\n") and "library_name: transformers" in card and "| oracle mean (0-5) |" in card
    assert verify_run(root)[1] == []


def test_verbose_shows_the_training_logs_live(tmp_path: Path) -> None:
    proc = run(tmp_path, "--verbose", "--set", "loop.iterations=0", "--set", "loop.sft_baseline=false")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"sft step 1/\d+: \{\"loss\"", proc.stderr)
