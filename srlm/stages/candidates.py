"""Candidates: N answers per prompt from the current model (paper: N=4, T=0.7, top_p=0.9).

    srlm candidates RUN_DIR --iteration t

Rows: `{id, prompt_id, prompt, candidate_index, response, truncated}`, id = `<prompt id>-c<j>`;
`truncated` marks an answer that stopped at `candidates.max_new_tokens` without an end of
sequence (counted in the manifest; such an answer stays out of pairs unless
`pairs.drop_truncated` is off).

With `prefix` (`"anchor_"`: `pairs.anchored_rejection`) the same stage writes `<prefix>candidates.jsonl`
from whichever model `engine` holds, with its own sampling seeds; `model`, the dir of that model,
is then recorded among the manifest's inputs.
"""

from __future__ import annotations

import time
from pathlib import Path

from srlm.backends.base import Engine, GenItem, SamplingParams, is_truncated, row_seed, user
from srlm.config import Config
from srlm.console import begin
from srlm.data.io import read_rows
from srlm.rundir import RunDir
from srlm.stages.common import already_done, finish, partial_path, run_generation, truncation_count


def run(cfg: Config, run: RunDir, t: int, engine: Engine, *, prefix: str = "", model: Path | None = None) -> Path:
    artifact = run.artifact(t, f"{prefix}candidates")
    label = f"iter{t} {prefix.replace('_', ' ')}candidates"
    if already_done(artifact, label):
        return artifact
    begin(label)
    started = time.perf_counter()
    prompts_file = run.artifact(t, "prompts")
    prompts = read_rows(prompts_file, {"id": str, "prompt": str})
    plan = [(p, j, f"{p['id']}-c{j}") for p in prompts for j in range(cfg.candidates.n)]
    items = [GenItem(cid, user(p["prompt"]), row_seed(cfg.loop.seed, f"{prefix}candidates", cid)) for p, _, cid in plan]
    params = SamplingParams(cfg.candidates.temperature, cfg.candidates.top_p, cfg.candidates.max_new_tokens)
    texts = run_generation(engine, items, params, partial_path(artifact), label)
    rows = [
        {
            "id": cid,
            "prompt_id": p["id"],
            "prompt": p["prompt"],
            "candidate_index": j,
            "response": texts[cid],
            "truncated": is_truncated(texts[cid]),
        }
        for p, j, cid in plan
    ]
    empty = sum(1 for row in rows if not row["response"])
    truncated = truncation_count(label, texts.values())
    return finish(
        artifact,
        rows,
        stage=label,
        config_hash=cfg.digest("candidates", "loop"),
        inputs=[prompts_file, *([model] if model else [])],
        started=started,
        engine=engine,
        counts={"prompts": len(prompts), "empty": empty, "truncated": truncated},
    )
