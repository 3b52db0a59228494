"""Pairs: chosen = highest mean judge score, rejected = lowest (the paper's AIFT data).

    srlm pairs RUN_DIR --iteration t

Prompts whose best and worst tie, or with fewer than two scored candidates, are dropped and
counted by reason in the manifest. Rows follow TRL's preference format (prompt / chosen /
rejected) plus ids and scores. No usable pair at all stops the run: training on nothing
would hide a judge that has degenerated.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

from srlm.config import Config
from srlm.data.io import read_rows
from srlm.preferences import ScoredCandidate, build_pairs
from srlm.rundir import RunDir
from srlm.stages.common import already_done, finish


class DegenerateJudgeError(RuntimeError):
    """The judge produced no usable preference (all ties, all parse failures, …)."""


def run(cfg: Config, run: RunDir, t: int) -> Path:
    artifact = run.artifact(t, "pairs")
    label = f"iter{t} pairs"
    if already_done(artifact, label):
        return artifact
    started = time.perf_counter()
    candidates_file, judgments_file = run.artifact(t, "candidates"), run.artifact(t, "judgments")
    scores = {row["id"]: row["score"] for row in read_rows(judgments_file, {"id": str})}
    scored = [
        ScoredCandidate(
            id=c["id"],
            prompt_id=c["prompt_id"],
            prompt=c["prompt"],
            response=c["response"],
            score=scores.get(c["id"]),
        )
        for c in read_rows(candidates_file)
    ]
    pairs, counts = build_pairs(scored, min_score_gap=cfg.pairs.min_score_gap)
    if not pairs:
        raise DegenerateJudgeError(
            f"iteration {t}: no usable preference pairs from {len(scored)} candidates ({counts}); "
            f"look at {judgments_file} — the judge may score everything alike or fail to parse"
        )
    rows = [{"id": pair.prompt_id, **asdict(pair)} for pair in pairs]
    return finish(
        artifact,
        rows,
        stage=label,
        config_hash=cfg.digest("pairs"),
        inputs=[candidates_file, judgments_file],
        started=started,
        counts=counts,
    )
