"""Small helpers both metric modules share: the oracle's type, word counts, NaN-safe means, optional files,
and the ranked judge-eval answers (`judge_eval_targets`, which `srlm.stages.evaluate` judges).

`srlm.stages.evaluate_metrics` (eval/metrics.json) and `srlm.stages.iteration_health` (its
``iterations[]``) import these; this module imports neither, so there is no cycle.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from srlm.config import Config
from srlm.data.io import DataError, read_rows

Oracle = Callable[[str, str], Any]  # (prompt, answer) -> an object with .score (and .points)


def words(text: str) -> int:
    return len(text.split())


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else math.nan


def _rows(path: Path) -> list[dict[str, Any]]:
    return read_rows(path, None) if path.is_file() else []


def judge_eval_targets(cfg: Config) -> list[dict[str, Any]]:
    """Ranked answers as {id, prompt_id, answer_index, prompt, response, gold}.

    Rows are `{id?, prompt, responses, scores?}`: gold = `scores` (higher = better) when given,
    else the listed order read as best -> worst.
    """
    path = cfg.eval.judge_eval
    if not path or not Path(path).is_file():
        return []
    targets = []
    seen: set[str] = set()
    for i, row in enumerate(read_rows(path, {"prompt": str, "responses": list})):
        responses = row["responses"]
        gold = row.get("scores") or [float(len(responses) - j) for j in range(len(responses))]
        if len(gold) != len(responses):
            raise DataError(f"{path}: row {i + 1} has {len(responses)} responses but {len(gold)} scores")
        pid = str(row.get("id", f"r{i}"))
        if pid in seen:
            raise DataError(f"{path}: row {i + 1}: field 'id' {pid!r} is used by an earlier row")
        seen.add(pid)
        for j, (response, value) in enumerate(zip(responses, gold, strict=True)):
            targets.append(
                {
                    "id": f"{pid}-a{j}",
                    "prompt_id": pid,
                    "answer_index": j,
                    "prompt": row["prompt"],
                    "response": response,
                    "gold": float(value),
                }
            )
    return targets
