"""Consistency (`dpo.consistency: true`, CREAM): M(t-1) re-judges iteration t's candidates.

    part of `srlm run` from iteration 2 on; artifacts iter<t>/judgments_previous.jsonl and
    iter<t>/consistency.jsonl

The previous iteration's model judges, k samples averaged as usual, the candidates of every
prompt that gave a training pair; each prompt's Kendall τ between M_t's and M(t-1)'s scores
goes to `consistency.jsonl` (`{id: prompt_id, candidate_ids, scores, scores_previous,
kendall_tau}`) and the DPO stage trains with C = mean((τ + 1) / 2) (`srlm/method/consistency.py`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from srlm.backends.base import Engine
from srlm.config import Config
from srlm.console import begin, console
from srlm.data.io import read_rows
from srlm.method.consistency import consistency_weight, prompt_consistency
from srlm.rundir import RunDir, is_done
from srlm.stages.common import already_done, finish, partial_path
from srlm.stages.judge import judge_all


def run(cfg: Config, run: RunDir, t: int, engine: Engine) -> Path:
    artifact = run.artifact(t, "consistency")
    label = f"iter{t} consistency"
    if already_done(artifact, label):
        return artifact
    begin(label)
    started = time.perf_counter()
    pairs_file, candidates_file = run.artifact(t, "pairs"), run.artifact(t, "candidates")
    judgments_file, previous_file = run.artifact(t, "judgments"), run.artifact(t, "judgments_previous")
    trained = {row["prompt_id"] for row in read_rows(pairs_file, {"prompt_id": str})}
    fields = {"id": str, "prompt_id": str, "prompt": str, "response": str}
    candidates = [c for c in read_rows(candidates_file, fields, may_be_blank={"response"}) if c["prompt_id"] in trained]
    if not is_done(previous_file):
        targets = [(c["id"], c["prompt"], c["response"]) for c in candidates]
        judged = judge_all(
            cfg, engine, targets, stage="judge_previous", partial=partial_path(previous_file), samples=cfg.judge.samples
        )
        unscored = sum(1 for row in judged if row["score"] is None)
        finish(
            previous_file,
            judged,
            stage=f"iter{t} judge (previous model)",
            config_hash=cfg.digest("judge", "loop"),
            inputs=[candidates_file, pairs_file, run.model(t - 1)],
            started=started,
            engine=engine,
            counts={"unscored_candidates": unscored},
        )
    current = {row["id"]: row["score"] for row in read_rows(judgments_file, {"id": str})}
    previous = {row["id"]: row["score"] for row in read_rows(previous_file, {"id": str})}
    groups: dict[str, list[str]] = {}
    for c in candidates:
        groups.setdefault(c["prompt_id"], []).append(c["id"])
    rows: list[dict[str, Any]] = []
    for prompt_id, ids in groups.items():
        scores, scores_previous = [current.get(i) for i in ids], [previous.get(i) for i in ids]
        tau = prompt_consistency(scores, scores_previous)
        rows.append({"id": prompt_id, "candidate_ids": ids, "scores": scores, "scores_previous": scores_previous,
                     "kendall_tau": tau})  # fmt: skip
    console.print(f"{label}: C = {consistency_weight(r['kendall_tau'] for r in rows):.3f} over {len(rows)} prompts")
    return finish(
        artifact,
        rows,
        stage=label,
        config_hash=cfg.digest("judge", "loop"),
        inputs=[judgments_file, previous_file],
        started=started,
        counts={"prompts": len(rows)},
    )
