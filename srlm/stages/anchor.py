"""Anchored rejection (`pairs.anchored_rejection`, iteration t >= 2): M1 answers iteration t's prompts, M_t judges.

    part of `srlm run`; artifacts iter<t>/anchor_candidates.jsonl and iter<t>/anchor_judgments.jsonl

Temporal Self-Rewarding (Wang et al., 2025, arXiv 2508.06026) finds that as the model improves, its
best and worst answers grow alike and DPO's signal fades; it anchors the rejected side in the
past. Here the first model of the loop (M1) samples N answers to each of iteration t's prompts
with the candidates' settings (and seeds of its own), and the current model judges them exactly
as it judges its own candidates. The pairs stage then pairs the best current answer with the
worst past one (`srlm/method/preferences.py`, `build_anchored_pairs`).
"""

from __future__ import annotations

from srlm.backends import engine_for
from srlm.config import Config
from srlm.rundir import RunDir, is_done
from srlm.stages import candidates, judge

PREFIX = "anchor_"


def run(cfg: Config, rd: RunDir, t: int) -> None:
    if not is_done(rd.artifact(t, f"{PREFIX}candidates")):
        with engine_for(cfg, str(rd.model(1))) as past:
            candidates.run(cfg, rd, t, past, prefix=PREFIX, model=rd.model(1))
    if not is_done(rd.artifact(t, f"{PREFIX}judgments")):
        with engine_for(cfg, str(rd.model(t))) as engine:
            judge.run(cfg, rd, t, engine, prefix=PREFIX, model=rd.model(t))
