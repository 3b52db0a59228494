"""Small helpers both metric modules share: the oracle's type, word counts, NaN-safe means, optional files.

`srlm.stages.evaluate_metrics` (eval/metrics.json) and `srlm.stages.iteration_health` (its
``iterations[]``) import these; this module imports neither, so there is no cycle.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from srlm.data.io import read_rows

Oracle = Callable[[str, str], Any]  # (prompt, answer) -> an object with .score (and .points)


def words(text: str) -> int:
    return len(text.split())


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else math.nan


def _rows(path: Path) -> list[dict[str, Any]]:
    return read_rows(path, None) if path.is_file() else []
