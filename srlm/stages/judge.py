"""Judge: the current model scores each candidate k times with the additive 0–5 rubric.

    srlm judge RUN_DIR --iteration t

Rows: `{id, prompt_id, samples: [{text, score}], score}` per candidate. `parse_score` reads
only the judge's own continuation (the judged response sits in the prompt, never in `text`).
A sample that does not parse keeps `score: null` and is counted; the candidate's score is the
mean of its parsed samples, or null when none parsed — never a made-up number.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from srlm.backends.base import Engine, GenItem, SamplingParams, row_seed, user
from srlm.config import Config
from srlm.data.io import read_rows
from srlm.judging import load_template, mean_score, parse_score, render_template
from srlm.rundir import RunDir
from srlm.stages.common import already_done, finish, partial_path, run_generation

Target = tuple[str, str, str]  # (id, prompt, response) to be judged


def judge_all(
    cfg: Config, engine: Engine, targets: Sequence[Target], *, stage: str, partial: Path, samples: int
) -> list[dict[str, Any]]:
    """`samples` judgments per target (resumable); rows `{id, samples: [{text, score}], score}`."""
    template = load_template(cfg.judge.template)
    items = []
    for tid, prompt, response in targets:
        messages = user(render_template(template, prompt=prompt, response=response))
        for s in range(samples):
            sample_id = f"{tid}-j{s}"
            items.append(GenItem(sample_id, messages, row_seed(cfg.loop.seed, stage, sample_id)))
    params = SamplingParams(cfg.judge.temperature, cfg.judge.top_p, cfg.judge.max_new_tokens)
    texts = run_generation(engine, items, params, partial, stage)
    rows = []
    for tid, _, _ in targets:
        outputs = [texts[f"{tid}-j{s}"] for s in range(samples)]
        scores = [parse_score(text) for text in outputs]
        rows.append(
            {
                "id": tid,
                "samples": [{"text": x, "score": y} for x, y in zip(outputs, scores, strict=True)],
                "score": mean_score(scores),
            }
        )
    return rows


def run(cfg: Config, run: RunDir, t: int, engine: Engine) -> Path:
    artifact = run.artifact(t, "judgments")
    label = f"iter{t} judge"
    if already_done(artifact, label):
        return artifact
    started = time.perf_counter()
    candidates_file = run.artifact(t, "candidates")
    fields = {"id": str, "prompt_id": str, "prompt": str, "response": str}
    candidates = read_rows(candidates_file, fields, may_be_blank={"response"})
    targets = [(c["id"], c["prompt"], c["response"]) for c in candidates]
    # The stage name "judge" is part of every sample's seed, as in earlier versions.
    judged = judge_all(cfg, engine, targets, stage="judge", partial=partial_path(artifact), samples=cfg.judge.samples)
    rows = [{"id": c["id"], "prompt_id": c["prompt_id"], **row} for c, row in zip(candidates, judged, strict=True)]
    failures = sum(1 for row in rows for s in row["samples"] if s["score"] is None)
    unscored = sum(1 for row in rows if row["score"] is None)
    counts = {"samples": len(rows) * cfg.judge.samples, "parse_failures": failures, "unscored_candidates": unscored}
    return finish(
        artifact,
        rows,
        stage=label,
        config_hash=cfg.digest("judge", "loop"),
        inputs=[candidates_file],
        started=started,
        engine=engine,
        counts=counts,
    )
