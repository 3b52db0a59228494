"""Decontamination: training prompts that match a held-out evaluation prompt, found before training.

Every held-out prompt source counts: `eval.prompts` (what evaluation reads first),
`data.eval_prompts` (all of its files, a dev set included) and the ranked judge-quality set
`eval.judge_eval`. They are checked against

- new prompts of every iteration (`srlm.stages.prompts`: rejected as `contaminated`, and repeats
  of the IFT seed prompts or of earlier iterations' prompts as `seed_duplicate` /
  `earlier_iteration`);
- the seed data, IFT and EFT prompts, before SFT (`seed_check`): counted in
  `<run_dir>/seed_check.json` and the report with a warning; `data.drop_contaminated` drops them
  (counted in `m1`'s manifest under `skipped`). Public seed sets overlap public benchmarks:
  AlpacaEval itself holds Open Assistant prompts.

A match is an exact one after case/whitespace normalisation or ROUGE-L F >= `prompts.dedup_threshold`
(the self-instruct near-duplicate filter, `srlm.method.selfinstruct.KnownPrompts`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srlm.config import Config
from srlm.data.alpaca_eval import is_json_array, read_alpaca_eval
from srlm.data.io import DataError, atomic_write_text, read_rows


def evaluation_sources(cfg: Config) -> list[str]:
    """Every held-out prompt file the config names, in order, each once.

    A judge-quality file that does not exist is left out, as evaluation leaves it out.
    """
    files = [*cfg.eval.prompts, *cfg.data.eval_prompts]
    if cfg.eval.judge_eval and Path(cfg.eval.judge_eval).exists():
        files.append(cfg.eval.judge_eval)
    return list(dict.fromkeys(files))


def prompt_texts(path: str | Path) -> list[str]:
    """The prompts of one held-out file: JSONL / `datasets` rows with `prompt` (or `instruction`),
    or alpaca_eval's JSON array of `{instruction}` objects."""
    path = Path(path)
    if is_json_array(path):
        return [entry["instruction"] for entry in read_alpaca_eval(path)]
    texts = []
    for number, row in enumerate(read_rows(path), start=1):
        text = row.get("prompt", row.get("instruction"))
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{path}: row {number} has no 'prompt' (or 'instruction') text")
        texts.append(text)
    return texts


def evaluation_prompts(cfg: Config) -> list[str]:
    """The prompts of every held-out source (duplicates kept once)."""
    return list(dict.fromkeys(text for path in evaluation_sources(cfg) for text in prompt_texts(path)))


@dataclass
class SeedCheck:
    """IFT / EFT rows whose prompt matches a held-out prompt, by source and kind of match."""

    sources: list[str]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    matched: set[str] = field(default_factory=set)  # the matching seed prompts
    dropped: bool = False

    def total(self) -> int:
        return sum(c["exact"] + c["near"] for c in self.counts.values())

    def as_json(self) -> dict[str, Any]:
        return {"evaluation_sources": self.sources, "dropped": self.dropped, "counts": self.counts}


def seed_check(cfg: Config, seed_files: dict[str, str]) -> SeedCheck:
    """Match the prompts of each seed file ({"ift": path, "eft": path}) against every held-out prompt."""
    from srlm.method.selfinstruct import KnownPrompts

    check = SeedCheck(evaluation_sources(cfg), dropped=cfg.data.drop_contaminated)
    known = KnownPrompts(evaluation_prompts(cfg))
    seen: dict[str, str | None] = {}
    for name, path in seed_files.items():
        counts = {"rows": 0, "exact": 0, "near": 0}
        for row in read_rows(path, {"prompt": str}):
            prompt = row["prompt"]
            if prompt not in seen:
                seen[prompt] = known.match(prompt, cfg.prompts.dedup_threshold)
            counts["rows"] += 1
            if (kind := seen[prompt]) is not None:
                counts[kind] += 1
                check.matched.add(prompt)
        check.counts[name] = counts
    return check


def write_seed_check(check: SeedCheck, path: Path) -> None:
    atomic_write_text(path, json.dumps(check.as_json(), indent=2) + "\n")


def read_seed_check(run_root: Path) -> dict[str, Any] | None:
    path = run_root / SEED_CHECK_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


SEED_CHECK_FILE = "seed_check.json"
