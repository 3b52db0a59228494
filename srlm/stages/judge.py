"""Judge: the current model scores each candidate k times with the additive 0–5 rubric.

    srlm judge RUN_DIR --iteration t

Rows: `{id, prompt_id, samples: [{text, score}], score}` per candidate. `parse_score` reads
only the judge's own continuation (the judged response sits in the prompt, never in `text`).
A sample that does not parse keeps `score: null` and is counted; the candidate's score is the
mean of its parsed samples, or null when none parsed — never a made-up number.
"""

from __future__ import annotations

import time
from pathlib import Path

from srlm.backends.base import Engine, GenItem, SamplingParams, row_seed, user
from srlm.config import Config
from srlm.data.io import read_rows
from srlm.judging import load_template, mean_score, parse_score, render_template
from srlm.rundir import RunDir
from srlm.stages.common import already_done, finish, partial_path, run_generation


def run(cfg: Config, run: RunDir, t: int, engine: Engine) -> Path:
    artifact = run.artifact(t, "judgments")
    label = f"iter{t} judge"
    if already_done(artifact, label):
        return artifact
    started = time.perf_counter()
    candidates_file = run.artifact(t, "candidates")
    candidates = read_rows(
        candidates_file,
        {"id": str, "prompt_id": str, "prompt": str, "response": str},
        may_be_blank={"response"},
    )
    template = load_template(cfg.judge.template)
    items = []
    for cand in candidates:
        messages = user(render_template(template, prompt=cand["prompt"], response=cand["response"]))
        for s in range(cfg.judge.samples):
            sample_id = f"{cand['id']}-j{s}"
            items.append(GenItem(sample_id, messages, row_seed(cfg.loop.seed, "judge", sample_id)))
    params = SamplingParams(cfg.judge.temperature, cfg.judge.top_p, cfg.judge.max_new_tokens)
    texts = run_generation(engine, items, params, partial_path(artifact), label)
    rows = []
    for cand in candidates:
        samples = [texts[f"{cand['id']}-j{s}"] for s in range(cfg.judge.samples)]
        parsed = [parse_score(text) for text in samples]
        rows.append(
            {
                "id": cand["id"],
                "prompt_id": cand["prompt_id"],
                "samples": [{"text": x, "score": score} for x, score in zip(samples, parsed, strict=True)],
                "score": mean_score(parsed),
            }
        )
    failures = sum(1 for row in rows for s in row["samples"] if s["score"] is None)
    unscored = sum(1 for row in rows if row["score"] is None)
    counts = {"samples": len(items), "parse_failures": failures, "unscored_candidates": unscored}
    return finish(
        artifact,
        rows,
        stage=label,
        config_hash=cfg.digest("judge", "loop"),
        inputs=[candidates_file],
        started=started,
        counts=counts,
    )
