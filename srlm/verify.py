"""`srlm verify RUN_DIR`: check a run directory against its manifests and say what is wrong.

    srlm verify runs/my-run      (exit 0: clean; exit 1: a table of problems)

Checked for every `<artifact>.manifest.json`: the manifest parses, its artifact exists, the
artifact's sha256 is the recorded one, a JSONL artifact has only whole JSON-object lines and as
many rows as recorded, and every input still hashes as it did when the artifact was made. Also
reported: artifacts without a manifest, half-saved model dirs (`*.saving`), unfinished stages
(`*.partial`), interrupted writes (`*.tmp`) and trainer leftovers (`*.trainer`). Pure Python,
no torch; nothing is changed on disk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.table import Table

from srlm.rundir import content_hash

MANIFEST_SUFFIX = ".manifest.json"
# JSONL files a run writes without a manifest: the self-instruct log, and the world's seed sets
# (covered by world/world.json's manifest).
UNMANIFESTED = ("*.attempts.jsonl", "world/*.jsonl")
LEFTOVERS = {
    ".saving": "half-saved model dir (a save was interrupted; rerun to redo it)",
    ".trainer": "trainer scratch dir of an interrupted training (safe to delete)",
    ".tmp": "interrupted write (safe to delete)",
}


@dataclass(frozen=True)
class Problem:
    path: str  # relative to the run dir
    problem: str


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _jsonl_problems(path: Path) -> tuple[int, list[str]]:
    """(rows, problems) of a JSONL file: each non-blank line must be a JSON object, the last one whole."""
    rows, problems = 0, []
    data = path.read_bytes()
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        rows += 1
        try:
            row = json.loads(raw)
        except (ValueError, RecursionError):
            row = None
        if not isinstance(row, dict):
            problems.append(f"line {number}: not a whole JSON object")
            break
    if data and not data.endswith(b"\n"):
        problems.append("the last line has no newline (torn write)")
    return rows, problems


def _locate(recorded: str, root: Path, run_dir: str | None) -> Path:
    """An input path as recorded; one inside the run (its stored `loop.run_dir`) is re-rooted at
    `root`, so a moved or copied run dir is checked against its own files."""
    path = Path(recorded)
    if run_dir:
        try:
            return root / path.relative_to(run_dir)
        except ValueError:
            pass
    return path


def _stored_run_dir(root: Path) -> str | None:
    try:
        data = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
        return str(data["loop"]["run_dir"])
    except (OSError, ValueError, yaml.YAMLError, KeyError, TypeError):
        return None


def check_manifest(manifest_file: Path, root: Path, run_dir: str | None) -> Iterator[Problem]:
    """Problems of one manifest and its artifact."""
    artifact = manifest_file.with_name(manifest_file.name[: -len(MANIFEST_SUFFIX)])
    where = _relative(artifact, root)
    try:
        manifest: Any = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        yield Problem(_relative(manifest_file, root), f"manifest unreadable: {error}")
        return
    if not isinstance(manifest, dict) or "sha256" not in manifest:
        yield Problem(_relative(manifest_file, root), "manifest has no sha256 (not a manifest srlm wrote)")
        return
    if not artifact.exists():
        yield Problem(where, "manifest without artifact (the artifact is missing)")
        return
    if content_hash(artifact) != manifest["sha256"]:
        yield Problem(where, "content differs from its manifest (sha256 mismatch: edited or torn)")
    if artifact.is_file() and artifact.suffix == ".jsonl":
        rows, problems = _jsonl_problems(artifact)
        yield from (Problem(where, p) for p in problems)
        if isinstance(manifest.get("rows"), int) and rows != manifest["rows"]:
            yield Problem(where, f"{rows} rows, the manifest says {manifest['rows']}")
    for recorded, digest in (manifest.get("inputs") or {}).items():
        source = _locate(recorded, root, run_dir)
        if not source.exists():
            yield Problem(where, f"input {recorded} is gone")
        elif content_hash(source) != digest:
            yield Problem(where, f"input {recorded} changed after this artifact was made")


def _orphans(root: Path) -> Iterator[Problem]:
    """Artifacts (JSONL files, model dirs) that have no manifest beside them."""
    candidates = [p for p in root.rglob("*.jsonl") if not any(p.relative_to(root).match(g) for g in UNMANIFESTED)]
    candidates += [p.parent for p in root.rglob("config.json") if p.parent != root]
    for artifact in sorted(set(candidates)):
        if any(part.endswith(tuple(LEFTOVERS)) for part in artifact.relative_to(root).parts):
            continue  # inside a leftover dir: reported as that
        if not artifact.with_name(artifact.name + MANIFEST_SUFFIX).is_file():
            yield Problem(_relative(artifact, root), "artifact without manifest (unfinished or not srlm's)")


def _leftovers(root: Path) -> Iterator[Problem]:
    for path in sorted(root.rglob("*")):
        where = _relative(path, root)
        if path.name.endswith(".partial"):
            done = path.with_name(path.name[: -len(".partial")] + MANIFEST_SUFFIX).is_file()
            rows = path.read_bytes().count(b"\n")
            yield Problem(
                where,
                "partial file beside a finished artifact (safe to delete)"
                if done
                else f"unfinished stage: {rows} whole rows so far (rerun `srlm run` to resume)",
            )
        for suffix, meaning in LEFTOVERS.items():
            if path.name.endswith(suffix) and not any(p.endswith(tuple(LEFTOVERS)) for p in path.parent.parts):
                yield Problem(where, meaning)


def verify_run(root: str | Path) -> tuple[int, list[Problem]]:
    """(number of manifests checked, problems) of a run directory; no problems = a clean run."""
    root = Path(root)
    if not root.is_dir():
        return 0, [Problem(str(root), "not a directory")]
    problems = [] if (root / "config.yaml").is_file() else [Problem("config.yaml", "missing: not a run dir?")]
    run_dir = _stored_run_dir(root)
    manifests = sorted(root.rglob("*" + MANIFEST_SUFFIX))
    for manifest_file in manifests:
        problems += check_manifest(manifest_file, root, run_dir)
    problems += _orphans(root)
    problems += _leftovers(root)
    return len(manifests), sorted(set(problems), key=lambda p: (p.path, p.problem))


def problems_table(root: Path, problems: list[Problem]) -> Table:
    table = Table("path", "problem", title=f"srlm verify {root}: {len(problems)} problem(s)", title_justify="left")
    for problem in problems:
        table.add_row(problem.path, problem.problem)
    return table
