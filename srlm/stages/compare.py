"""Compare (`pairs.mode: pairwise`): M_t judges every two answers of a prompt side by side.

    part of `srlm run`; artifact iter<t>/comparisons.jsonl (instead of judgments.jsonl)

Instead of k pointwise scores per answer, the model reads two answers in the pairwise prompt
(`srlm/method/judging/pairwise.txt`), once with a shown first and once with b shown first, one sample
per order with the judge's sampling settings (`judge.temperature`, `top_p`, `max_new_tokens`).
With N = 4 answers that is 6 comparisons × 2 orders = 12 generations per prompt, the same as
k = 3 pointwise judgments of 4 answers.

Rows: `{id: "<a>~<b>", prompt_id, a, b, text_ab, verdict_ab, text_ba, verdict_ba, outcome}`;
`outcome` is a's: 1 won in both orders, 0 lost in both, 0.5 the orders disagree (a tie, the
paper's rule), null when a verdict did not parse (counted, never turned into a verdict).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from srlm.backends.base import Engine, GenItem, SamplingParams, row_seed, user
from srlm.config import Config
from srlm.console import begin
from srlm.data.io import read_rows
from srlm.method.judging.pairwise import load_pairwise_template, outcome_for_a, parse_winner
from srlm.method.judging.template import render_template
from srlm.method.metrics import both_orders_outcome
from srlm.rundir import RunDir
from srlm.stages.common import already_done, finish, partial_path, run_generation

CANDIDATE_FIELDS = {"id": str, "prompt_id": str, "prompt": str, "response": str}


def comparison_plan(candidates: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every unordered pair (a, b) of candidates of the same prompt, a before b in file order."""
    by_prompt: dict[str, list[dict[str, Any]]] = {}
    for candidate in candidates:
        by_prompt.setdefault(candidate["prompt_id"], []).append(candidate)
    return [(a, b) for group in by_prompt.values() for i, a in enumerate(group) for b in group[i + 1 :]]


def run(cfg: Config, run: RunDir, t: int, engine: Engine) -> Path:
    artifact = run.artifact(t, "comparisons")
    label = f"iter{t} compare"
    if already_done(artifact, label):
        return artifact
    begin(label)
    started = time.perf_counter()
    candidates_file = run.artifact(t, "candidates")
    plan = comparison_plan(read_rows(candidates_file, CANDIDATE_FIELDS, may_be_blank={"response"}))
    template = load_pairwise_template()
    items = []
    for a, b in plan:
        for order, (first, second) in (("ab", (a, b)), ("ba", (b, a))):
            item_id = f"{a['id']}~{b['id']}-{order}"
            text = render_template(
                template, prompt=a["prompt"], response_a=first["response"], response_b=second["response"]
            )
            items.append(GenItem(item_id, user(text), row_seed(cfg.loop.seed, "compare", item_id)))
    params = SamplingParams(cfg.judge.temperature, cfg.judge.top_p, cfg.judge.max_new_tokens)
    texts = run_generation(engine, items, params, partial_path(artifact), label)
    rows = []
    for a, b in plan:
        cid = f"{a['id']}~{b['id']}"
        text_ab, text_ba = texts[f"{cid}-ab"], texts[f"{cid}-ba"]
        verdict_ab, verdict_ba = parse_winner(text_ab), parse_winner(text_ba)
        outcome = both_orders_outcome(outcome_for_a(verdict_ab, True), outcome_for_a(verdict_ba, False))
        rows.append(
            {"id": cid, "prompt_id": a["prompt_id"], "a": a["id"], "b": b["id"], "text_ab": text_ab,
             "verdict_ab": verdict_ab, "text_ba": text_ba, "verdict_ba": verdict_ba, "outcome": outcome}
        )  # fmt: skip
    counts = {
        "comparisons": len(rows),
        "unparsed_verdicts": sum((r["verdict_ab"] is None) + (r["verdict_ba"] is None) for r in rows),
        "order_disagreements": sum(1 for r in rows if r["outcome"] == 0.5),
    }
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
