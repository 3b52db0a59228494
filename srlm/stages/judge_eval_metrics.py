"""The judge on the ranked judge-eval answers: its quality per model, its lines per check (world
runs), and how it changes from one iteration to the next (`judge_changes` in eval/metrics.json).

Read from the files `srlm.stages.evaluate` writes; `srlm.stages.evaluate_metrics` puts the
results into eval/metrics.json.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from srlm.config import Config
from srlm.method.metrics import JudgedPrompt, judge_quality, pairwise_accuracy_difference
from srlm.stages.metric_helpers import judge_eval_targets


def judged_prompts(rows: list[dict[str, Any]]) -> dict[str, JudgedPrompt]:
    """Judge-eval rows grouped by prompt into JudgedPrompts (gold from the ranked file), by prompt id."""
    by_prompt: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_prompt.setdefault(row["prompt_id"], []).append(row)
    return {
        pid: JudgedPrompt(
            gold=tuple(float(r["gold"]) for r in group),
            judge=tuple(None if r["score"] is None else float(r["score"]) for r in group),
        )
        for pid, group in by_prompt.items()
    }


def judge_quality_from_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    items = list(judged_prompts(rows).values())
    return dict(judge_quality(items)) if items else {}


def judge_changes(
    rows: Mapping[str, list[dict[str, Any]]], pairs: Sequence[tuple[str, str]], seed: int, n_resamples: int
) -> list[dict[str, Any]]:
    """How one model's judge compares with another's on the same judge-eval answers, per (a, b) pair.

    Pairwise accuracy of a minus b, paired per prompt, with a bootstrap CI and a verdict; `rows`
    holds each model's judge-eval rows.
    """
    judged = {model: judged_prompts(model_rows) for model, model_rows in rows.items()}
    changes = []
    for a, b in pairs:
        common = sorted(set(judged[a]) & set(judged[b]))
        after, before = [judged[a][p] for p in common], [judged[b][p] for p in common]
        delta, (low, high) = pairwise_accuracy_difference(before, after, seed, n_resamples)
        verdict = "better" if low > 0 else "worse" if high < 0 else "no clear difference (CI includes 0)"
        changes.append({"a": a, "b": b, "delta": delta, "delta_ci95": (low, high), "prompts": len(common),
                        "verdict": verdict})  # fmt: skip
    return changes


def judge_eval_checks(cfg: Config, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """World runs: the judge's lines on the judge-eval answers against the oracle's (`srlm.world.judge_checks`)."""
    from srlm.world.judge_checks import judge_checks

    assert cfg.world is not None
    targets = {target["id"]: target for target in judge_eval_targets(cfg)}
    judged = (
        (targets[row["id"]]["prompt"], targets[row["id"]]["response"], [s["text"] for s in row.get("samples", [])])
        for row in rows
        if row["id"] in targets
    )
    return judge_checks(judged, cfg.world.clean_line)
