"""What do the judge's pairs lack? Iteration 1 again from the same M1, with its pairs edited.

    python scripts/pair_control.py runs/d0 runs/d0-strict --mode strict
    srlm run --set loop.run_dir=runs/d0-strict --set loop.iterations=1 \
        --set "eval.prompts=[runs/d0-strict/world/dev.jsonl]"

Copies what a world run needs to redo iteration 1's DPO from the same M1 (world/, the SFT
baseline, M1 and their evaluations, iteration 1's prompts, candidates and judgments) into a new
run dir, and writes iteration 1's pairs edited by `--mode`:

- `flip`: pairs the oracle calls wrong (chosen graded below rejected) are swapped; ties stay;
- `strict`: only the pairs the oracle calls right are kept (wrong ones and ties dropped);
- `unanimous`: only pairs where every judge sample of chosen scored above every sample of
  rejected are kept (no oracle: a filter the method itself could use).

`srlm run` in the new dir then skips everything up to the pairs and trains M2 on them. `flip` and
`strict` read the oracle and are controls, never the method; compare M2 vs M1 with the source
run's and with `--set pairs.source=oracle` (the oracle's own pairs). The mode and the pairs
kept are recorded in the pairs' manifest.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

SIDES = {
    "chosen": "rejected",
    "chosen_id": "rejected_id",
    "score_chosen": "score_rejected",
    "chosen_truncated": "rejected_truncated",
}
SWAP = SIDES | {b: a for a, b in SIDES.items()}  # a flipped pair's keys


class Mode(StrEnum):
    flip = "flip"
    strict = "strict"
    unanimous = "unanimous"


def edit_pairs(
    pairs: list[dict[str, Any]], grades: Sequence[tuple[float, float]], samples: dict[str, list[float]], mode: Mode
) -> list[dict[str, Any]]:
    """The pairs `mode` keeps, in order; `grades` = the oracle's (chosen, rejected) per pair."""
    kept = []
    for pair, (chosen, rejected) in zip(pairs, grades, strict=True):
        if mode is Mode.strict and not chosen > rejected:
            continue
        if mode is Mode.unanimous and not min(samples[pair["chosen_id"]]) > max(samples[pair["rejected_id"]]):
            continue
        if mode is Mode.flip and chosen < rejected:
            pair = {SWAP.get(key, key): value for key, value in pair.items()}
        kept.append(pair)
    return kept


def main(
    source: Annotated[Path, typer.Argument(help="a world run dir whose iteration 1 was judged")],
    target: Annotated[Path, typer.Argument(help="the new run dir (must not exist)")],
    mode: Annotated[Mode, typer.Option(help="how the pairs are edited")],
) -> None:
    from srlm.rundir import content_hash, read_manifest
    from srlm.world import grade

    pairs_file = source / "iter1" / "pairs.jsonl"
    manifest = read_manifest(pairs_file)
    if manifest is None:
        raise typer.BadParameter(f"{pairs_file}: missing or unfinished (run iteration 1 first)")
    if target.exists():
        raise typer.BadParameter(f"{target}: exists; give a new run dir")
    pairs = [json.loads(line) for line in pairs_file.open()]
    grades = [(grade(p["prompt"], p["chosen"]).score, grade(p["prompt"], p["rejected"]).score) for p in pairs]
    samples: dict[str, list[float]] = {}
    for line in (source / "iter1" / "judgments.jsonl").open():
        row = json.loads(line)
        samples[row["id"]] = [s["score"] for s in row["samples"] if s["score"] is not None]
    kept = edit_pairs(pairs, grades, samples, mode)

    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "iter1").mkdir(parents=True)
    (staging / "eval").mkdir()
    shutil.copytree(source / "world", staging / "world")
    for name in ("sft_baseline", "m1"):
        shutil.copytree(source / name, staging / name)
        shutil.copy2(source / f"{name}.manifest.json", staging)
        if (source / "eval" / name).is_dir():
            shutil.copytree(source / "eval" / name, staging / "eval" / name)
    for name in ("prompts", "candidates", "judgments"):
        for path in (source / "iter1").glob(f"{name}.jsonl*"):
            shutil.copy2(path, staging / "iter1")
    edited = staging / "iter1" / "pairs.jsonl"
    edited.write_text("".join(json.dumps(p) + "\n" for p in kept))
    right = sum(c > r for c, r in grades)
    equal = sum(c == r for c, r in grades)
    counts = {**manifest.get("counts", {}), "kept": len(kept)}
    manifest |= {"sha256": content_hash(edited), "rows": len(kept), "counts": counts, "edited": mode.value}
    (staging / "iter1" / "pairs.jsonl.manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    staging.rename(target)
    print(
        f"{pairs_file}: {len(pairs)} pairs, the oracle says {right} right, {equal} equal, {len(pairs) - right - equal} "
        f"wrong; {mode.value}: {len(kept)} pairs -> {target / 'iter1' / 'pairs.jsonl'}"
    )


if __name__ == "__main__":
    typer.run(main)
