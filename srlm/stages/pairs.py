"""Pairs: chosen = highest mean judge score, rejected = lowest (the paper's AIFT data).

    srlm pairs RUN_DIR --iteration t

Prompts whose best and worst tie, whose best and worst texts are identical, or with fewer than
two scored candidates, are dropped and counted by reason in the manifest. Answers cut off at
`candidates.max_new_tokens` (`truncated` in candidates.jsonl) stay out of pairs unless
`pairs.drop_truncated` is off; then each pair row says which side was cut
(`chosen_truncated` / `rejected_truncated`) and DPO trains that side without an end of turn.
Rows follow TRL's preference format (prompt / chosen / rejected) plus ids and scores. No usable
pair at all stops the run: training on nothing would hide a judge that has degenerated.

Variants (`srlm/method/preferences.py`, `srlm/method/judging/meta.py`): `pairs.length_control_rho` picks the
shortest top-band vs the longest bottom-band answer; `pairs.mode: pairwise` ranks by the
both-order outcomes of `comparisons.jsonl` (scores = mean outcome) instead of judge scores;
`pairs.source: oracle` ranks the same candidates by the world oracle's grades instead of the
judge's (a control for what DPO can learn from right pairs, reported as such, never the method);
`pairs.anchored_rejection` (iteration >= 2) pairs the best current answer with the worst of M1's answers
to the same prompt (`anchor_candidates.jsonl`, judged by the current model: `srlm/stages/anchor.py`);
`loop.meta_judge` also writes `meta_pairs.jsonl` (judge prompt / better judgment / worse one)
from `meta_judgments.jsonl`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from srlm.config import Config
from srlm.console import begin
from srlm.data.io import read_rows
from srlm.method.judging.meta import JudgmentPair, MetaVerdicts, build_judge_pairs
from srlm.method.preferences import (
    Comparison,
    ScoredCandidate,
    build_anchored_pairs,
    build_pairs,
    build_pairwise_pairs,
)
from srlm.rundir import RunDir
from srlm.stages import anchor
from srlm.stages.common import already_done, finish


class DegenerateJudgeError(RuntimeError):
    """The judge produced no usable preference (all ties, all parse failures, …)."""


def _unscored(candidates_file: Path) -> list[ScoredCandidate]:
    return [
        ScoredCandidate(c["id"], c["prompt_id"], c["prompt"], c["response"], None, bool(c.get("truncated")))
        for c in read_rows(candidates_file)
    ]


def _scored(cfg: Config, run: RunDir, t: int, prefix: str = "") -> tuple[list[ScoredCandidate], list[Path]]:
    """`<prefix>candidates.jsonl` with their mean judge scores, or the oracle's grades (pairs.source: oracle)."""
    candidates_file = run.artifact(t, f"{prefix}candidates")
    unscored = _unscored(candidates_file)
    if cfg.pairs.source == "oracle":  # the control: right pairs by construction, never the method
        return [replace(c, score=float(oracle_grade(c.prompt, c.response))) for c in unscored], [candidates_file]
    judgments_file = run.artifact(t, f"{prefix}judgments")
    scores = {row["id"]: row["score"] for row in read_rows(judgments_file, {"id": str})}
    return [replace(c, score=scores.get(c.id)) for c in unscored], [candidates_file, judgments_file]


def _answer_pairs(cfg: Config, run: RunDir, t: int) -> tuple[list[Any], dict[str, int], int, list[Path]]:
    """(pairs, counts, candidates seen, input files) for the configured pairs.mode."""
    gap, drop_truncated = cfg.pairs.min_score_gap, cfg.pairs.drop_truncated  # cut-off answers stay out
    if cfg.pairs.mode == "pairwise":
        candidates_file, comparisons_file = run.artifact(t, "candidates"), run.artifact(t, "comparisons")
        unscored = _unscored(candidates_file)
        comparisons = [Comparison(r["a"], r["b"], r["outcome"]) for r in read_rows(comparisons_file, {"a": str})]
        pairs, counts = build_pairwise_pairs(
            unscored,
            comparisons,
            min_score_gap=gap,
            length_control_rho=cfg.pairs.length_control_rho,
            drop_truncated=drop_truncated,
        )
        return pairs, counts, len(unscored), [candidates_file, comparisons_file]
    scored, inputs = _scored(cfg, run, t)
    if cfg.pairs.anchored_rejection and t > 1:  # the rejected side: M1's answers to the same prompts
        anchors, anchor_inputs = _scored(cfg, run, t, anchor.PREFIX)
        pairs, counts = build_anchored_pairs(scored, anchors, min_score_gap=gap, drop_truncated=drop_truncated)
        return pairs, counts, len(scored) + len(anchors), inputs + anchor_inputs
    rho = cfg.pairs.length_control_rho
    pairs, counts = build_pairs(scored, min_score_gap=gap, length_control_rho=rho, drop_truncated=drop_truncated)
    return pairs, counts, len(scored), inputs


def oracle_grade(prompt: str, answer: str) -> int:
    """The world oracle's 0-5 grade (pairs.source: oracle)."""
    from srlm.world import grade

    return grade(prompt, answer).score


def judge_pairs(cfg: Config, run: RunDir, t: int) -> Path:
    """iter<t>/meta_pairs.jsonl from the meta-judge's both-order verdicts (may be empty)."""
    artifact, source = run.artifact(t, "meta_pairs"), run.artifact(t, "meta_judgments")
    label = f"iter{t} meta pairs"
    if already_done(artifact, label):
        return artifact
    begin(label)
    started = time.perf_counter()
    items = [
        MetaVerdicts(
            pair=JudgmentPair(row["prompt_id"], row["id"], row["high"], row["low"]),
            judge_prompt=row["judge_prompt"],
            texts=(row["judgments"][0], row["judgments"][1]),
            scores=(row["scores"][0], row["scores"][1]),
            verdict_high_first=row["verdict_hl"],
            verdict_high_second=row["verdict_lh"],
        )
        for row in read_rows(source, {"id": str, "judge_prompt": str})
    ]
    pairs, counts = build_judge_pairs(items)
    rows = [{"id": pair.candidate_id, **asdict(pair)} for pair in pairs]
    return finish(
        artifact, rows, stage=label, config_hash=cfg.digest("pairs"), inputs=[source], started=started, counts=counts
    )


def run(cfg: Config, run: RunDir, t: int) -> Path:
    if cfg.loop.meta_judge:
        judge_pairs(cfg, run, t)
    artifact = run.artifact(t, "pairs")
    label = f"iter{t} pairs"
    if already_done(artifact, label):
        return artifact
    begin(label)
    started = time.perf_counter()
    pairs, counts, seen, inputs = _answer_pairs(cfg, run, t)
    if not pairs:
        raise DegenerateJudgeError(
            f"iteration {t}: no usable preference pairs from {seen} candidates ({counts}); "
            f"look at {inputs[-1]} — the judge may score everything alike or fail to parse"
        )
    rows = [{"id": pair.prompt_id, **asdict(pair)} for pair in pairs]
    note = precision_note(rows) if cfg.world is not None else ""
    return finish(
        artifact,
        rows,
        stage=label,
        config_hash=cfg.digest("pairs"),
        inputs=inputs,
        started=started,
        counts=counts,
        note=note,
    )


def precision_note(rows: list[dict[str, Any]]) -> str:
    """World runs: how many pairs the oracle agrees with, for the result line (metrics.json has it too)."""
    from srlm.stages.iteration_health import pair_precision
    from srlm.world import grade

    found = pair_precision(rows, grade)
    return (
        f"precision {found['precision']:.2f} by the oracle "
        f"(chosen better {found['better']}, equal {found['equal']}, worse {found['worse']})"
    )
