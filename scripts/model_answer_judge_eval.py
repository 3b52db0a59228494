"""Does the judge fall on answers like its own? Judge-eval on model-written answers.

    python scripts/model_answer_judge_eval.py runs/default                  # m1, m2, m3
    python scripts/model_answer_judge_eval.py runs/default --prompts 500 --models m1,m3

The world's judge-eval set ranks answers from its flaw generator. The paper's was ranked
answers of real models, and the loop's judge scores its own model's answers. This probe builds
such a set from what the run already has: the IFT-only baseline's sampled answers to the last
`--prompts` evaluation prompts (`eval/sft_baseline/samples.jsonl`, written with `eval.samples`),
ranked by the oracle. Each model judges them as evaluation judges the built-in set (the loop's
judge settings, `eval.judge_samples` each; judgments cached in `<run>/probe_model_judge_eval/`),
and the script prints each model's pairwise accuracy (a judge tie counts half, as in
metrics.json) and the change from the first model to each later one, with a 95 % bootstrap CI
over prompts. Nothing is trained.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from srlm.data.io import atomic_write_text
from srlm.method.metrics import JudgedPrompt, pairwise_credit


def accuracy_change(
    first: list[tuple[float, int]], later: list[tuple[float, int]], seed: int = 0
) -> tuple[float, tuple[float, float]]:
    """Pairwise accuracy of `later` minus `first` over the same prompts, and its paired bootstrap 95 % CI."""
    from scipy import stats

    a, a_pairs = (np.array(column, dtype=float) for column in zip(*first, strict=True))
    b, b_pairs = (np.array(column, dtype=float) for column in zip(*later, strict=True))

    def change(x: np.ndarray, nx: np.ndarray, y: np.ndarray, ny: np.ndarray, axis: int = -1) -> np.ndarray:
        return y.sum(axis=axis) / ny.sum(axis=axis) - x.sum(axis=axis) / nx.sum(axis=axis)

    point = float(change(a, a_pairs, b, b_pairs))
    ci = stats.bootstrap(
        (a, a_pairs, b, b_pairs),
        change,
        paired=True,
        vectorized=True,
        n_resamples=2000,
        method="percentile",
        random_state=seed,
    ).confidence_interval
    return point, (float(ci.low), float(ci.high))


def main(
    run: Annotated[Path, typer.Argument(help="a finished world run dir (its eval wrote samples)")],
    prompts: Annotated[int, typer.Option(min=1, help="the last n evaluation prompts")] = 1000,
    models: Annotated[str, typer.Option(help="models to compare, comma-separated; the first is the reference")] = (
        "m1,m2,m3"
    ),
) -> None:
    from srlm.backends import engine_for
    from srlm.config import load_config
    from srlm.stages.evaluate import judge_targets
    from srlm.world import grade

    cfg = load_config(run / "config.yaml")
    if cfg.world is None:
        raise typer.BadParameter(f"{run / 'config.yaml'}: not a world run (no `world` section)")
    source = run / "eval" / "sft_baseline" / "samples.jsonl"
    if not source.is_file():
        raise typer.BadParameter(f"{source}: missing (the run needs the SFT baseline and eval.samples > 0)")
    rows = [json.loads(line) for line in source.open()][-prompts:]
    ranked: list[dict[str, Any]] = [
        {
            "id": f"{row['id']}-a{j}",
            "prompt_id": row["id"],
            "prompt": row["prompt"],
            "response": response,
            "gold": float(grade(row["prompt"], response).score),
        }
        for row in rows
        for j, response in enumerate(row["responses"])
    ]
    out = run / "probe_model_judge_eval"
    out.mkdir(exist_ok=True)
    per_model: dict[str, list[tuple[float, int]]] = {}
    for name in models.split(","):
        cache = out / f"{name}-{len(rows)}.jsonl"
        if not cache.is_file():
            with engine_for(cfg, str(run / name)) as engine:
                judged = judge_targets(
                    cfg,
                    engine,
                    [(t["id"], t["prompt"], t["response"]) for t in ranked],
                    f"probe {name}",
                    out / f"{name}-{len(rows)}.partial",
                )
            rows_out = (
                json.dumps({**j, "prompt_id": t["prompt_id"], "gold": t["gold"]})
                for j, t in zip(judged, ranked, strict=True)
            )
            atomic_write_text(cache, "".join(row + "\n" for row in rows_out))
        scores: dict[str, list[dict[str, Any]]] = {}
        for line in cache.open():
            judged_row = json.loads(line)
            scores.setdefault(judged_row["prompt_id"], []).append(judged_row)
        items = [
            JudgedPrompt(gold=tuple(r["gold"] for r in group), judge=tuple(r["score"] for r in group))
            for group in scores.values()
        ]
        per_model[name] = [pairwise_credit(item) for item in items]
        credit, total = map(sum, zip(*per_model[name], strict=True))
        print(f"{name}: pairwise accuracy {credit / total:.3f} on {total} pairs of {len(items)} prompts")
    first, *later = models.split(",")
    for name in later:
        point, (low, high) = accuracy_change(per_model[first], per_model[name])
        print(f"{name} - {first}: {point:+.3f} [{low:+.3f}, {high:+.3f}]")


if __name__ == "__main__":
    typer.run(main)
