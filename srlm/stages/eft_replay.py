"""EFT replay (`loop.eft_replay: n`): M_t re-judges n EFT rows; its misjudged ones become DPO pairs.

    part of `srlm run`; artifacts iter<t>/eft_judgments.jsonl and iter<t>/eft_pairs.jsonl

Which rows and which judgment is rejected: `srlm/method/judging/replay.py`. Each row is judged
`judge.samples` times with the judge's sampling settings, exactly as candidates are. Pair rows
follow TRL's preference format (prompt = the judge prompt, chosen = the seed judgment, rejected
= the model's) plus the two scores; DPO trains them beside the answer pairs. The manifest counts
how often the model's score equals the seed's (`samples_right`), a measure of the judge on its
own training data as the loop goes on.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from srlm.backends.base import Engine, row_seed
from srlm.config import Config
from srlm.console import begin
from srlm.data.io import read_rows
from srlm.method.judging import load_template, parse_score, render_template
from srlm.method.judging.replay import Replayed, choose_rows, replay_pairs
from srlm.rundir import RunDir
from srlm.stages.common import already_done, finish, partial_path
from srlm.stages.judge import judge_all

EFT_FIELDS = {"prompt": str, "response": str, "judgment": str}


def eft_seed_rows(eft_file: Path) -> dict[str, dict[str, Any]]:
    """The EFT seed rows by id `eft<line>`: named by their line, so user EFT files need no id field."""
    return {f"eft{i}": row for i, row in enumerate(read_rows(eft_file, EFT_FIELDS, may_be_blank={"response"}))}


def drawn_eft_rows(cfg: Config, t: int, n: int, stream: str) -> dict[str, dict[str, Any]]:
    """Iteration t's draw of n EFT seed rows (random stream `stream`), by id in file order.

    Each row also holds `judge_prompt`, its answer shown to the judge with the judge's template.
    Shared by `loop.eft_replay` and `loop.verdict_pairs`.
    """
    assert cfg.data.eft is not None  # the config requires EFT data for both switches
    rows = eft_seed_rows(Path(cfg.data.eft))
    template = load_template(cfg.judge.template)
    drawn = {rid: rows[rid] for rid in choose_rows(list(rows), n, row_seed(cfg.loop.seed, stream, str(t)))}
    for row in drawn.values():
        row["judge_prompt"] = render_template(template, prompt=row["prompt"], response=row["response"])
    return drawn


def run(cfg: Config, run: RunDir, t: int, engine: Engine) -> Path:
    assert cfg.data.eft is not None  # the config requires EFT data for loop.eft_replay
    artifact, judgments_file = run.artifact(t, "eft_pairs"), run.artifact(t, "eft_judgments")
    label = f"iter{t} eft replay"
    if already_done(artifact, label):
        return artifact
    begin(label)
    started = time.perf_counter()
    eft_file = Path(cfg.data.eft)
    rows = drawn_eft_rows(cfg, t, cfg.loop.eft_replay, "eft_replay")
    targets = [(rid, row["prompt"], row["response"]) for rid, row in rows.items()]
    if not already_done(judgments_file, f"iter{t} eft judge"):
        judged = judge_all(
            cfg,
            engine,
            targets,
            stage=f"eft_replay{t}",
            partial=partial_path(judgments_file),
            samples=cfg.judge.samples,
        )
        finish(
            judgments_file,
            judged,
            stage=f"iter{t} eft judge",
            config_hash=cfg.digest("judge", "loop"),
            inputs=[eft_file],
            started=started,
            engine=engine,
            show=False,
        )
    judged_rows = {row["id"]: row for row in read_rows(judgments_file, {"id": str})}
    items = [
        Replayed(
            row_id=rid,
            judge_prompt=row["judge_prompt"],
            seed_judgment=row["judgment"],
            seed_score=parse_score(row["judgment"]),
            samples=[(sample["text"], sample["score"]) for sample in judged_rows[rid]["samples"]],
        )
        for rid, row in rows.items()
    ]
    pairs, counts = replay_pairs(items)
    right = counts["samples_right"] / max(counts["samples"], 1)
    return finish(
        artifact,
        [asdict(pair) for pair in pairs],
        stage=label,
        config_hash=cfg.digest("judge", "loop"),
        inputs=[eft_file, judgments_file],
        started=started,
        counts=counts,
        note=f"judged as the seed set does in {right:.0%} of {counts['samples']} samples",
    )
