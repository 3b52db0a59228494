"""Meta-judge (`loop.meta_judge: true`): M_t compares two of its own judgments of one answer.

    part of `srlm run`; artifact iter<t>/meta_judgments.jsonl (pairs: iter<t>/meta_pairs.jsonl)

Which judgments, and how verdicts become pairs: `srlm/method/judging/meta.py`. Both orders are asked,
one sample each, with the judge's sampling settings. Rows are self-contained, so the pairs
stage needs nothing else: `{id (= candidate id), prompt_id, high, low, judge_prompt,
judgments: [high text, low text], scores: [high, low], text_hl, verdict_hl, text_lh, verdict_lh}`
(`hl`: the higher-scored judgment shown as A; `lh`: shown as B).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from srlm.backends.base import Engine, GenItem, SamplingParams, row_seed, user
from srlm.config import Config
from srlm.console import begin
from srlm.data.io import read_rows
from srlm.method.judging import load_template, render_template
from srlm.method.judging.meta import load_meta_template, select_judgment_pairs
from srlm.method.judging.pairwise import parse_winner
from srlm.rundir import RunDir
from srlm.stages.common import already_done, finish, partial_path, run_generation


def run(cfg: Config, run: RunDir, t: int, engine: Engine) -> Path:
    artifact = run.artifact(t, "meta_judgments")
    label = f"iter{t} meta-judge"
    if already_done(artifact, label):
        return artifact
    begin(label)
    started = time.perf_counter()
    candidates_file, judgments_file = run.artifact(t, "candidates"), run.artifact(t, "judgments")
    fields = {"id": str, "prompt": str, "response": str}
    candidates = {c["id"]: c for c in read_rows(candidates_file, fields, may_be_blank={"response"})}
    judgments = {row["id"]: row for row in read_rows(judgments_file, {"id": str, "prompt_id": str})}
    judge_template, meta_template = load_template(cfg.judge.template), load_meta_template()
    rows: list[dict[str, Any]] = []
    items: list[GenItem] = []
    for pair in select_judgment_pairs(judgments.values()):
        candidate, samples = candidates[pair.candidate_id], judgments[pair.candidate_id]["samples"]
        high, low = samples[pair.high], samples[pair.low]
        judge_prompt = render_template(judge_template, prompt=candidate["prompt"], response=candidate["response"])
        rows.append(
            {"id": pair.candidate_id, "prompt_id": pair.prompt_id, "high": pair.high, "low": pair.low,
             "judge_prompt": judge_prompt, "judgments": [high["text"], low["text"]],
             "scores": [high["score"], low["score"]]}
        )  # fmt: skip
        for order, (a, b) in (("hl", (high, low)), ("lh", (low, high))):
            item_id = f"{pair.candidate_id}-meta-{order}"
            text = render_template(
                meta_template, prompt=candidate["prompt"], response=candidate["response"],
                judgment_a=a["text"], judgment_b=b["text"],
            )  # fmt: skip
            items.append(GenItem(item_id, user(text), row_seed(cfg.loop.seed, "meta_judge", item_id)))
    params = SamplingParams(cfg.judge.temperature, cfg.judge.top_p, cfg.judge.max_new_tokens)
    texts = run_generation(engine, items, params, partial_path(artifact), label)
    for row in rows:
        for order in ("hl", "lh"):
            text = texts[f"{row['id']}-meta-{order}"]
            row[f"text_{order}"], row[f"verdict_{order}"] = text, parse_winner(text)
    unparsed = sum((row["verdict_hl"] is None) + (row["verdict_lh"] is None) for row in rows)
    return finish(
        artifact,
        rows,
        stage=label,
        config_hash=cfg.digest("judge", "loop"),
        inputs=[candidates_file, judgments_file],
        started=started,
        engine=engine,
        counts={"prompts_judged": len({c["prompt_id"] for c in judgments.values()}), "unparsed_verdicts": unparsed},
    )
