"""alpaca_eval's file formats: prompt sets, model outputs, and its results read back.

srlm reads prompt sets (a JSON array of `{instruction, dataset?}` objects) as evaluation prompts,
writes each model's answers as `[{instruction, output, generator}]` (`eval/<model>/alpaca_eval.json`)
for the official tool, and reads that tool's `leaderboard.csv` / `annotations.json` back
(`srlm eval RUN_DIR --alpaca-eval DIR`) so metrics.json and the report carry the official numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from srlm.data.io import DataError, atomic_write_text


def is_json_array(path: Path) -> bool:
    """Whether a file's first non-blank character is `[` (alpaca_eval's JSON, not JSONL)."""
    if not path.is_file():
        return False
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"[")


def read_alpaca_eval(path: Path) -> list[dict[str, Any]]:
    """alpaca_eval's prompt file: a JSON array of objects, each with a non-empty `instruction`."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a valid alpaca_eval JSON array ({error})") from None
    for index, entry in enumerate(entries):
        where = f"{path}: entry [{index}]"
        if not isinstance(entry, dict):
            raise DataError(f"{where} must be a JSON object, got {type(entry).__name__}")
        text = entry.get("instruction")
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{where} has no 'instruction' text")
        if not isinstance(entry.get("dataset", ""), str):
            raise DataError(f"{where}: field 'dataset' must be a string")
    return list(entries)


# --- alpaca_eval's results, read back --------------------------------------------------------
# `alpaca_eval --model_outputs eval/<model>/alpaca_eval.json` writes, in a folder named after the
# annotator config (by default next to the outputs: eval/<model>/<annotator>/):
#   leaderboard.csv   first column = model name; win_rate, standard_error, n_total, avg_length,
#                     length_controlled_winrate, lc_standard_error, ... (rates in percent)
#   annotations.json  [{instruction, output_1, generator_1, output_2, generator_2, annotator,
#                     preference, ...}]: output_1 is the reference, preference 1 = reference
#                     better, 2 = model better, 1.5 (or a legacy 0) = tie, values between from
#                     weighted annotators, null = not annotated.

LEADERBOARD_COLUMNS = {  # srlm key -> alpaca_eval column
    "win_rate": "win_rate",
    "standard_error": "standard_error",
    "lc_win_rate": "length_controlled_winrate",
    "lc_standard_error": "lc_standard_error",
    "n": "n_total",
    "avg_length": "avg_length",
}


def _number(text: str, where: str, column: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{where}: field '{column}' is not a number: {text!r}") from None


def read_leaderboard(path: Path) -> dict[str, dict[str, Any]]:
    """alpaca_eval's leaderboard.csv as {model: {win_rate, standard_error, lc_win_rate, n, ...}}.

    Rates stay in percent, as alpaca_eval prints them; a missing or empty column is None.
    """
    import csv

    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            lines = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read alpaca_eval leaderboard ({error})") from None
    if not lines or "win_rate" not in lines[0]:
        raise DataError(f"{path}:1: not an alpaca_eval leaderboard (no 'win_rate' column)")
    header = lines[0]
    board: dict[str, dict[str, Any]] = {}
    for number, cells in enumerate(lines[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        where = f"{path}:{number}"
        if len(cells) != len(header):
            raise DataError(f"{where}: {len(cells)} cells for {len(header)} columns")
        row = dict(zip(header, cells, strict=True))
        entry = {key: _number(row[col], where, col) if col in row else None for key, col in LEADERBOARD_COLUMNS.items()}
        if entry["win_rate"] is None:
            raise DataError(f"{where}: field 'win_rate' is empty")
        entry["n"] = None if entry["n"] is None else int(entry["n"])
        board[cells[0]] = entry
    return board


def _preference(entry: dict[str, Any], where: str) -> float | None:
    value = entry.get("preference")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(f"{where}: field 'preference' must be a number or null, got {type(value).__name__}")
    if value != value:  # NaN: not annotated
        return None
    if value == 0:  # alpaca_eval's legacy encoding of a draw
        return 1.5
    if not 1 <= value <= 2:
        raise DataError(f"{where}: field 'preference' must be in [1, 2] (or 0 for a draw), got {value}")
    return float(value)


def read_annotations(path: Path) -> list[dict[str, Any]]:
    """alpaca_eval's annotations.json, checked: each entry has its generators and a preference."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a valid alpaca_eval annotations JSON array ({error})") from None
    if not isinstance(entries, list):
        raise DataError(f"{path}: expected a JSON array of annotations, got {type(entries).__name__}")
    out = []
    for index, entry in enumerate(entries):
        where = f"{path}: entry [{index}]"
        if not isinstance(entry, dict):
            raise DataError(f"{where} must be a JSON object, got {type(entry).__name__}")
        for name in ("instruction", "output_1", "output_2", "generator_1", "generator_2"):
            if not isinstance(entry.get(name), str):
                raise DataError(f"{where}: field '{name}' must be a string")
        out.append({**entry, "preference": _preference(entry, where)})
    return out


def summarize_annotations(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per model (generator_2): win rate and standard error in percent, as alpaca_eval computes them.

    Win rate = mean(preference - 1) x 100 over annotated entries, a tie counting 1/2; the standard
    error is that mean's (ddof = 1). Unannotated entries are counted apart, never scored.

    >>> rows = [{"generator_1": "ref", "generator_2": "m1", "preference": p} for p in (2, 1.5, 1, None)]
    >>> s = summarize_annotations(rows)["m1"]
    >>> s["win_rate"], s["n"], s["n_wins"], s["n_draws"], s["unannotated"]
    (50.0, 3, 1, 1, 1)
    """
    import numpy as np

    by_model: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_model.setdefault(entry["generator_2"], []).append(entry)
    out = {}
    for model, group in by_model.items():
        values = np.array([e["preference"] - 1 for e in group if e["preference"] is not None], dtype=float)
        n = int(values.size)
        out[model] = {
            "win_rate": float(values.mean() * 100) if n else None,
            "standard_error": float(values.std(ddof=1) / np.sqrt(n) * 100) if n > 1 else None,
            "n": n,
            "n_wins": int(np.sum(values > 0.5)),
            "n_draws": int(np.sum(values == 0.5)),
            "n_wins_reference": int(np.sum(values < 0.5)),
            "unannotated": len(group) - n,
            "reference": sorted({e["generator_1"] for e in group}),
            "annotator": sorted({str(e.get("annotator")) for e in group if e.get("annotator") is not None}),
        }
    return out


def _one_per_model(found: dict[str, list[tuple[Path, dict[str, Any]]]], kind: str) -> dict[str, dict[str, Any]]:
    """Each model's single entry; the same model with different numbers in two files is an error."""
    out = {}
    for model, entries in found.items():
        distinct = {(e["win_rate"], e["n"]) for _, e in entries}
        if len(distinct) > 1:
            files = ", ".join(str(path) for path, _ in entries)
            raise DataError(f"{model} has different alpaca_eval {kind} numbers in {files}; point at one of them")
        out[model] = {**entries[0][1], "sources": [str(path) for path, _ in entries]}
    return out


def result_files(roots: list[Path]) -> tuple[list[Path], list[Path]]:
    """(leaderboard.csv files, annotations.json files) under each root; a root may be one such file."""
    boards: set[Path] = set()
    annotations: set[Path] = set()
    for root in roots:
        if root.is_file():
            (boards if root.suffix == ".csv" else annotations).add(root)
        elif root.is_dir():
            boards.update(root.rglob("leaderboard.csv"))
            annotations.update(root.rglob("annotations.json"))
    return sorted(boards), sorted(annotations)


def official_results(roots: list[Path], models: list[str]) -> dict[str, dict[str, Any]]:
    """alpaca_eval's own numbers for the run's models, from its files under `roots` (see `result_files`).

    {model: {win_rate, standard_error, lc_win_rate, lc_standard_error, n, avg_length, reference,
    annotator, n_wins, n_draws, n_wins_reference, unannotated, sources}}, rates in percent.

    The leaderboard's numbers win (they include the length-controlled rate, which needs
    alpaca_eval's own fitted model); annotations add the reference, annotator and counts, and give
    the raw win rate alone when there is no leaderboard row. Rows of other models are ignored.
    """
    board_files, annotation_files = result_files(roots)
    boards: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    annotated: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    for path in board_files:
        for model, row in read_leaderboard(path).items():
            if model in models:
                boards.setdefault(model, []).append((path, row))
    for path in annotation_files:
        for model, summary in summarize_annotations(read_annotations(path)).items():
            if model in models:
                annotated.setdefault(model, []).append((path, summary))
    from_boards, from_annotations = _one_per_model(boards, "leaderboard"), _one_per_model(annotated, "annotation")
    results = {}
    for model in models:
        if model not in from_boards and model not in from_annotations:
            continue
        entry: dict[str, Any] = dict.fromkeys([*LEADERBOARD_COLUMNS, "reference", "annotator"])
        entry |= from_annotations.get(model, {})
        board = from_boards.get(model, {})
        entry |= {k: v for k, v in board.items() if k != "sources"}
        entry["sources"] = board.get("sources", []) + from_annotations.get(model, {}).get("sources", [])
        results[model] = entry
    return results


def store_official_results(given: list[Path], search: list[Path], models: list[str], out: Path) -> list[str]:
    """Write `official_results` of `given` + `search` to `out`; return the models found.

    A `given` root that is missing, or that names none of `models`, is an error; `search` roots
    are only looked in. Nothing found: `out` is left as it is (an earlier import stays).
    """
    for root in given:
        if not root.exists():
            raise DataError(f"{root}: alpaca_eval results not found")
    if given and not official_results(given, models):
        raise DataError(
            f"{', '.join(map(str, given))}: no alpaca_eval leaderboard.csv or annotations.json row names a model of "
            f"this run ({', '.join(models)}); alpaca_eval names a model by the `generator` of the exported file"
        )
    results = official_results([*given, *search], models)
    if results:
        atomic_write_text(out, json.dumps(results, indent=2) + "\n")
    return list(results)
