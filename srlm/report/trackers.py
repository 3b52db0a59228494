"""Experiment trackers (`train.report_to`): the loop's own numbers per iteration, beside SFT's and DPO's steps.

SFT and DPO report their steps through transformers' own integrations (`report_to`, `run_name`
= `<run>/<model>`, `project`; TensorBoard under `<run_dir>/tensorboard/<model>/`). After each
evaluation this module sends what the loop measured, read from `eval/metrics.json`, to the same
trackers with the iteration as step: TensorBoard event files in `<run_dir>/tensorboard/loop/`
(rewritten from metrics.json each time), a trackio or W&B run named `<run>/loop`.

    loop/prompts, loop/pairs, loop/alarms                 iteration t's prompts, pairs, alarm count
    judge/parse_failure_rate, judge/score_histogram/<s>   its judge samples
    pairs/precision, pairs/best_of_n_captured             against the reference (world runs)
    dpo/<diagnostic>_first, dpo/<diagnostic>_last         the DPO that made M(t+1): loss, rewards_margins, …
    eval/oracle_score_mean, eval/sampled_oracle_score_mean, eval/self_judge_score_mean,
    eval/judge_pairwise_accuracy                          model m<t>, logged at step t
"""

from __future__ import annotations

import math
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from srlm.console import console

LOOP_TRACKERS = ("tensorboard", "trackio", "wandb")
EVAL_KEYS = {
    "oracle_score_mean": ("oracle_score_mean",),
    "sampled_oracle_score_mean": ("sampled", "oracle_score_mean"),
    "self_judge_score_mean": ("self_judge_score_mean",),
    "judge_pairwise_accuracy": ("judge", "pairwise_accuracy"),
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _get(entry: dict[str, Any] | None, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(entry, dict):
            return None
        entry = entry.get(key)
    return entry


def iteration_scalars(metrics: dict[str, Any]) -> dict[int, dict[str, float]]:
    """metrics.json -> {step: {name: value}}: iteration t's numbers and model m<t>'s evaluation at step t.

    >>> iteration_scalars({"iterations": [{"iteration": 1, "prompts": 8, "pairs": 3, "alarms": ["x"],
    ...     "dpo": {"loss": {"first": 0.7, "last": 0.5}}}], "models": {"m2": {"oracle_score_mean": 2.5}}})
    {1: {'loop/prompts': 8.0, 'loop/pairs': 3.0, 'loop/alarms': 1.0, 'dpo/loss_first': 0.7, 'dpo/loss_last': 0.5}, 2: {'eval/oracle_score_mean': 2.5}}
    """  # noqa: E501
    steps: dict[int, dict[str, float]] = defaultdict(dict)
    for h in metrics.get("iterations", []):
        values: dict[str, Any] = {
            "loop/prompts": h.get("prompts"),
            "loop/pairs": h.get("pairs"),
            "loop/alarms": len(h.get("alarms") or []) + len(_get(h, ("dpo", "alarms")) or []),
            "judge/parse_failure_rate": h.get("parse_failure_rate"),
            "pairs/precision": _get(h, ("pair_oracle", "precision")),
            "pairs/best_of_n_captured": _get(h, ("best_of_n", "captured")),
        }
        for score, count in (h.get("score_histogram") or {}).items():
            values[f"judge/score_histogram/{score}"] = count
        for name, entry in (h.get("dpo") or {}).items():
            if isinstance(entry, dict) and {"first", "last"} <= set(entry):
                values[f"dpo/{name}_first"], values[f"dpo/{name}_last"] = entry["first"], entry["last"]
        steps[int(h["iteration"])].update({k: v for k, x in values.items() if (v := _number(x)) is not None})
    for model, m in metrics.get("models", {}).items():
        if not (model.startswith("m") and model[1:].isdigit()):
            continue  # the SFT baseline is no iteration
        for name, path in EVAL_KEYS.items():
            if (value := _number(_get(m, path))) is not None:
                steps[int(model[1:])][f"eval/{name}"] = value
    return {step: values for step, values in sorted(steps.items()) if values}


def log_loop(report_to: list[str], project: str, root: Path, metrics: dict[str, Any]) -> None:
    """Send the loop's per-iteration numbers to every tracker in `report_to` that takes them."""
    steps = iteration_scalars(metrics)
    if not report_to or not steps:
        return
    for tracker in report_to:
        if tracker == "tensorboard":
            _tensorboard(root / "tensorboard" / "loop", steps)
        elif tracker == "trackio":
            import trackio

            trackio.init(project=project, name=f"{root.name}/loop", resume="allow")
            for step, values in steps.items():
                trackio.log(values, step=step)
            trackio.finish()
        elif tracker == "wandb":
            import wandb

            run = wandb.init(project=project, name=f"{root.name}/loop", group=root.name, reinit="finish_previous")
            for step, values in steps.items():
                run.log(values, step=step)
            run.finish()
        else:
            console.print(
                f"[yellow]train.report_to: {tracker} gets SFT's and DPO's steps; the loop's own numbers go to "
                f"{', '.join(LOOP_TRACKERS)} only[/yellow]"
            )


def _tensorboard(log_dir: Path, steps: dict[int, dict[str, float]]) -> None:
    from torch.utils.tensorboard import SummaryWriter

    shutil.rmtree(log_dir, ignore_errors=True)  # derived from metrics.json: written anew, never appended twice
    writer = SummaryWriter(log_dir=str(log_dir))
    try:
        for step, values in steps.items():
            for name, value in values.items():
                writer.add_scalar(name, value, step)
    finally:
        writer.close()
