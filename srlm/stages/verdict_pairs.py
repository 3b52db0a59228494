"""Verdict pairs (`loop.verdict_pairs: n`): n EFT seed rows become DPO pairs with one verdict flipped.

    part of `srlm run`; artifact iter<t>/verdict_pairs.jsonl

No generation: the pairs come from the seed set alone (`srlm/method/judging/verdicts.py`). Rows
follow TRL's preference format (prompt = the judge prompt, chosen = the seed judgment, rejected
= the same judgment with one line's verdict flipped) plus the flipped line and its seed verdict;
DPO trains them beside the answer pairs. A new draw of rows each iteration.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

from srlm.backends.base import row_seed
from srlm.config import Config
from srlm.console import begin
from srlm.method.judging.verdicts import verdict_pairs
from srlm.rundir import RunDir
from srlm.stages.common import already_done, finish
from srlm.stages.eft_replay import drawn_eft_rows


def run(cfg: Config, run: RunDir, t: int) -> Path:
    assert cfg.data.eft is not None  # the config requires EFT data for loop.verdict_pairs
    artifact = run.artifact(t, "verdict_pairs")
    label = f"iter{t} verdict pairs"
    if already_done(artifact, label):
        return artifact
    begin(label)
    started = time.perf_counter()
    eft_file = Path(cfg.data.eft)
    rows = drawn_eft_rows(cfg, t, cfg.loop.verdict_pairs, "verdict_pairs")
    items = [(rid, row["judge_prompt"], row["judgment"]) for rid, row in rows.items()]
    pairs, counts = verdict_pairs(items, row_seed(cfg.loop.seed, "verdict_pairs", str(t)))
    return finish(
        artifact,
        [asdict(pair) for pair in pairs],
        stage=label,
        config_hash=cfg.digest("judge", "loop"),
        inputs=[eft_file],
        started=started,
        counts=counts,
    )
