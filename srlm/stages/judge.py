"""Judge: the current model scores each candidate k times with the additive 0–5 rubric.

    srlm judge RUN_DIR --iteration t

Rows: `{id, prompt_id, samples: [{text, score}], score}` per candidate. `parse_score` reads
only the judge's own continuation (the judged response sits in the prompt, never in `text`).
A sample that does not parse keeps `score: null` and is counted; the candidate's score is the
mean of its parsed samples, or null when none parsed — never a made-up number.

With `prefix` (`"anchor_"`: `pairs.anchored_rejection`) it judges `<prefix>candidates.jsonl` into
`<prefix>judgments.jsonl`, with its own sampling seeds (`model`, the judge's dir, recorded among the
manifest's inputs).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from srlm.backends.base import Engine, GenItem, SamplingParams, row_seed, user
from srlm.config import Config
from srlm.console import begin
from srlm.data.io import read_rows
from srlm.method.judging import load_template, mean_score, parse_score, render_template
from srlm.rundir import RunDir, content_hash, read_manifest
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


def judge_file(
    cfg: Config,
    open_engine: Callable[[], AbstractContextManager[Engine]],
    targets: Sequence[Target],
    artifact: Path,
    *,
    label: str,
    seed_stage: str,
    samples: int,
    plan: str,
    inputs: list[Path],
) -> list[dict[str, Any]]:
    """Judge any (id, prompt, response) rows into `artifact` the way this stage does; return its rows.

    Resumable (a partial file, then the artifact and its manifest). `plan` names what is judged
    (e.g. a hash of the settings and the target ids): an artifact or partial file made for another
    plan or from other `inputs` is judged again. The engine is opened only when judgments are
    missing. `seed_stage` is part of every sample's seed.
    """
    manifest = read_manifest(artifact) or {}
    same = manifest.get("config_hash") == plan and manifest.get("inputs") == {str(p): content_hash(p) for p in inputs}
    if not same:
        partial_path(artifact).unlink(missing_ok=True)
    if not (same and already_done(artifact, label)):
        begin(label)
        started = time.perf_counter()
        with open_engine() as engine:
            rows = judge_all(cfg, engine, targets, stage=seed_stage, partial=partial_path(artifact), samples=samples)
        failures = sum(1 for row in rows for sample in row["samples"] if sample["score"] is None)
        counts = {"parse_failures": failures}
        finish(artifact, rows, stage=label, config_hash=plan, inputs=inputs, started=started, counts=counts)
    return read_rows(artifact)


def run(cfg: Config, run: RunDir, t: int, engine: Engine, *, prefix: str = "", model: Path | None = None) -> Path:
    artifact = run.artifact(t, f"{prefix}judgments")
    label = f"iter{t} {prefix.replace('_', ' ')}judge"
    if already_done(artifact, label):
        return artifact
    begin(label)
    started = time.perf_counter()
    candidates_file = run.artifact(t, f"{prefix}candidates")
    fields = {"id": str, "prompt_id": str, "prompt": str, "response": str}
    candidates = read_rows(candidates_file, fields, may_be_blank={"response"})
    targets = [(c["id"], c["prompt"], c["response"]) for c in candidates]
    # The stage name "judge" is part of every sample's seed, as in earlier versions.
    stage = f"{prefix}judge"
    judged = judge_all(cfg, engine, targets, stage=stage, partial=partial_path(artifact), samples=cfg.judge.samples)
    rows = [{"id": c["id"], "prompt_id": c["prompt_id"], **row} for c, row in zip(candidates, judged, strict=True)]
    failures = sum(1 for row in rows for s in row["samples"] if s["score"] is None)
    unscored = sum(1 for row in rows if row["score"] is None)
    counts = {"samples": len(rows) * cfg.judge.samples, "parse_failures": failures, "unscored_candidates": unscored}
    return finish(
        artifact,
        rows,
        stage=label,
        config_hash=cfg.digest("judge", "loop"),
        inputs=[candidates_file, *([model] if model else [])],
        started=started,
        engine=engine,
        counts=counts,
    )
