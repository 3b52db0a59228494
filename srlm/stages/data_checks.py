"""Data checks of a run, read back from its manifests and rows: `metrics.json` → `data_checks`.

    data_checks:
      seed:        IFT / EFT rows whose prompt matches a held-out prompt (`seed_check.json`)
      iterations[]: prompts rejected as contaminated / IFT repeats / earlier iterations' repeats /
                   cut off; candidates cut off at `candidates.max_new_tokens`; pairs dropped as
                   identical or for cut-off answers; DPO pairs longer than `dpo.max_length`
      models.<name>: evaluation answers cut off at `eval.max_new_tokens`

A share of cut-off generations above `TRUNCATION_ALARM`, and seed rows matching held-out prompts
that were kept, become warnings. `rows` turns the document into the report's table.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from srlm.config import Config
from srlm.data.decontaminate import read_seed_check
from srlm.data.io import read_rows
from srlm.rundir import RunDir, read_manifest
from srlm.stages.common import TRUNCATION_ALARM

PROMPT_REJECTIONS = ("contaminated", "seed_duplicate", "earlier_iteration", "truncated")


def _counts(artifact: Path) -> dict[str, Any]:
    return (read_manifest(artifact) or {}).get("counts", {})


def _truncated(path: Path) -> tuple[int, int]:
    """(rows marked truncated, rows) of a generated file; (0, 0) when it is absent."""
    if not path.is_file():
        return 0, 0
    rows = read_rows(path, None)
    return sum(1 for row in rows if row.get("truncated")), len(rows)


def _alarm(what: str, cut: int, total: int, setting: str) -> list[str]:
    if total and cut / total > TRUNCATION_ALARM:
        return [f"{what}: {cut} of {total} ({cut / total:.0%}) stopped at {setting} without an end of sequence"]
    return []


def data_checks(cfg: Config, rd: RunDir, models: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """The `data_checks` document and its warnings."""
    warnings: list[str] = []
    seed = read_seed_check(rd.root)
    for name, c in (seed or {}).get("counts", {}).items():
        found = c.get("exact", 0) + c.get("near", 0)
        if found and not (seed or {}).get("dropped"):
            warnings.append(
                f"{found} of {c.get('rows', '?')} {name.upper()} rows have a prompt matching a held-out prompt "
                "and were trained on (data.drop_contaminated leaves them out)"
            )
    iterations = []
    for t in range(1, cfg.loop.iterations + 1):
        prompts, pairs = _counts(rd.artifact(t, "prompts")), _counts(rd.artifact(t, "pairs"))
        cut, total = _truncated(rd.artifact(t, "candidates"))
        if not (prompts or total):
            continue
        skipped = (read_manifest(rd.model(t + 1)) or {}).get("skipped", {})
        iterations.append(
            {
                "iteration": t,
                "prompts_rejected": {reason: prompts.get(reason, 0) for reason in PROMPT_REJECTIONS},
                "candidates": total,
                "candidates_truncated": cut,
                "pairs_dropped_identical": pairs.get("dropped_identical", 0),
                "pairs_dropped_truncated": pairs.get("dropped_truncated", 0),
                "dpo_pairs_too_long": skipped.get("pairs_too_long", 0),
            }
        )
        warnings += _alarm(f"iteration {t} candidates", cut, total, "candidates.max_new_tokens")
    answers = {}
    for name in models:
        cut, total = _truncated(rd.eval_file(name, "answers"))
        answers[name] = {"answers": total, "truncated": cut}
        warnings += _alarm(f"{name} evaluation answers", cut, total, "eval.max_new_tokens")
    return {"seed": seed, "iterations": iterations, "models": answers}, warnings


DATA_CHECK_HEADER = ["check", "count"]


def _share(cut: int, total: int) -> str:
    return f"{cut} of {total} ({cut / total:.1%})" if total else "–"


def rows(checks: dict[str, Any] | None) -> list[list[str]]:
    """The report's table: one line per check."""
    if not checks:
        return []
    out = []
    seed = checks.get("seed") or {}
    for name, c in seed.get("counts", {}).items():
        found = c.get("exact", 0) + c.get("near", 0)
        action = "dropped" if seed.get("dropped") else "kept"
        out.append(
            [
                f"seed {name.upper()} rows matching a held-out prompt (exact / near)",
                f"{found} of {c.get('rows', 0)} ({c.get('exact', 0)} / {c.get('near', 0)}), {action}",
            ]
        )
    for entry in checks.get("iterations", []):
        t, rejected = entry["iteration"], entry["prompts_rejected"]
        out += [
            [
                f"iter{t} new prompts rejected: held-out / IFT repeat / earlier iteration / cut off",
                " / ".join(str(rejected.get(reason, 0)) for reason in PROMPT_REJECTIONS),
            ],
            [
                f"iter{t} candidates cut off at max_new_tokens",
                _share(entry["candidates_truncated"], entry["candidates"]),
            ],
            [
                f"iter{t} pairs dropped: identical texts / cut-off answers",
                f"{entry['pairs_dropped_identical']} / {entry['pairs_dropped_truncated']}",
            ],
            [f"iter{t} DPO pairs longer than dpo.max_length (dropped)", str(entry["dpo_pairs_too_long"])],
        ]
    for name, entry in checks.get("models", {}).items():
        cut = _share(entry["truncated"], entry["answers"])
        out.append([f"{name} evaluation answers cut off at max_new_tokens", cut])
    return out
