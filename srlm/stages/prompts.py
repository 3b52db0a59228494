"""Prompts: new instructions for iteration t.

    srlm prompts RUN_DIR --iteration t

`prompts.source`:
- `self_instruct` (default): the current model is prompted with 8 example tasks (6 from IFT,
  2 from prompts accepted earlier in this stage, T=0.6, top_p=0.9) and writes one new task.
  The paper used a fixed Llama 2-Chat 70B here and notes the model itself could do it; srlm
  uses the model itself. Filters: length bounds, ROUGE-L near-duplicates, decontamination
  against every held-out prompt source (`eval.prompts`, `data.eval_prompts`, `eval.judge_eval`:
  `contaminated`), repeats of the IFT prompts (`seed_duplicate`) and of earlier iterations'
  prompts (`earlier_iteration`), exact or ROUGE-L >= `prompts.dedup_threshold`, and the world's
  grammar when the world is in use. A task cut off at `prompts.max_new_tokens` is rejected
  (`truncated`); `generations_truncated` counts every generation that hit the limit. The pool
  and world sources go through the same filters.
- `file`: a fixed pool (`prompts.path`, JSONL with `prompt`), a seeded slice per iteration.
- `world`: the built-in world's fixed prompt generator (the role of the paper's fixed model).

Generation runs in rounds of `backend.batch_size` attempts; each round's few-shot examples
depend only on what earlier rounds accepted, so a resumed stage replays the same decisions.
Rows: `{id, prompt, source}`; every attempt and its verdict is kept in `prompts.attempts.jsonl`.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from srlm.backends.base import Engine, GenItem, SamplingParams, is_truncated, row_seed, user
from srlm.config import Config
from srlm.console import begin, console, progress
from srlm.data.decontaminate import evaluation_prompts
from srlm.data.io import read_partial, read_rows, write_jsonl
from srlm.method.selfinstruct import PromptFilter, build_fewshot_prompt, extract_prompt, task_was_cut
from srlm.rundir import RunDir
from srlm.stages.common import already_done, finish, generate_missing, partial_path, stored_text


class NoPromptsError(RuntimeError):
    """Not one generated or pooled prompt passed the filters."""


def prompt_id(t: int, prompt: str) -> str:
    import hashlib

    return f"i{t}-" + hashlib.sha1(prompt.encode()).hexdigest()[:12]


def eval_prompts(cfg: Config) -> list[str]:
    """Every held-out prompt: `eval.prompts`, `data.eval_prompts` and the judge-quality set."""
    return evaluation_prompts(cfg)


def earlier_prompt_files(run: RunDir, t: int) -> list[Path]:
    """The prompts of iterations 1 … t-1 that exist."""
    return [path for s in range(1, t) if (path := run.artifact(s, "prompts")).is_file()]


def _validator(cfg: Config) -> Any:
    if cfg.model.path.startswith("world:") or cfg.prompts.source == "world":
        from srlm.world import is_valid_prompt

        return is_valid_prompt
    return None


def make_filter(cfg: Config, run: RunDir, t: int) -> PromptFilter:
    """The filters of iteration t: against held-out prompts, the IFT prompts and earlier iterations' prompts."""
    earlier = [row["prompt"] for path in earlier_prompt_files(run, t) for row in read_rows(path, {"prompt": str})]
    return PromptFilter(
        min_words=cfg.prompts.min_words,
        max_words=cfg.prompts.max_words,
        rouge_threshold=cfg.prompts.dedup_threshold,
        eval_prompts=eval_prompts(cfg),
        validate=_validator(cfg),
        references={
            "seed_duplicate": [row["prompt"] for row in read_rows(cfg.ift_file, {"prompt": str})],
            "earlier_iteration": earlier,
        },
    )


def _attempt(cfg: Config, t: int, index: int, ift: list[str], accepted: list[str]) -> GenItem:
    attempt_id = f"t{t}-a{index}"
    rng = random.Random(row_seed(cfg.loop.seed, "prompts", attempt_id))
    n_generated = min(cfg.prompts.generated_shots, len(accepted))
    shots = rng.sample(ift, min(cfg.prompts.shots - n_generated, len(ift))) + rng.sample(accepted, n_generated)
    return GenItem(attempt_id, user(build_fewshot_prompt(shots)), row_seed(cfg.loop.seed, "prompts-gen", attempt_id))


def self_instruct(cfg: Config, run: RunDir, t: int, engine: Engine, label: str) -> tuple[list[str], Counter[str]]:
    ift = [row["prompt"] for row in read_rows(cfg.ift_file, {"prompt": str})]
    keep = make_filter(cfg, run, t)
    partial = partial_path(run.artifact(t, "prompts"))
    done = {row["id"]: stored_text(row) for row in read_partial(partial)}
    params = SamplingParams(cfg.prompts.temperature, cfg.prompts.top_p, cfg.prompts.max_new_tokens)
    accepted: list[str] = []
    verdicts: Counter[str] = Counter()
    log = []
    budget, size = int(cfg.prompts.n * cfg.prompts.max_attempts_factor), cfg.backend.batch_size
    with progress(label, cfg.prompts.n) as advance:
        for start in range(0, budget, size):
            if len(accepted) >= cfg.prompts.n:
                break
            items = [_attempt(cfg, t, i, ift, accepted) for i in range(start, min(start + size, budget))]
            generate_missing(engine, items, params, partial, done, lambda n: None)
            for item in items:
                generation = done[item.id]
                candidate = extract_prompt(generation)
                if candidate and is_truncated(generation) and task_was_cut(generation, candidate):
                    reason: str | None = "truncated"  # the task itself ran into prompts.max_new_tokens
                else:
                    reason = keep.add(candidate) if candidate else "unparsed"
                verdicts[reason or "accepted"] += 1
                if is_truncated(generation):
                    verdicts["generations_truncated"] += 1
                log.append(
                    {
                        "id": item.id,
                        "generation": str(generation),
                        "truncated": is_truncated(generation),
                        "prompt": candidate,
                        "verdict": reason or "accepted",
                    }
                )
                if reason is None and len(accepted) < cfg.prompts.n:
                    accepted.append(candidate)  # type: ignore[arg-type]
                    advance(1)
    write_jsonl(run.artifact(t, "prompts.attempts"), log)
    return accepted, verdicts


def from_pool(cfg: Config, t: int, pool: list[str], keep: PromptFilter) -> tuple[list[str], Counter[str]]:
    """A seeded order of the pool, iteration t takes the next n that pass the filters."""
    order = list(dict.fromkeys(pool))
    random.Random(row_seed(cfg.loop.seed, "prompts-pool", "order")).shuffle(order)
    offset = ((t - 1) * cfg.prompts.n) % max(len(order), 1)
    verdicts, accepted = Counter[str](), list[str]()
    for prompt in order[offset:] + order[:offset]:
        if len(accepted) >= cfg.prompts.n:
            break
        reason = keep.add(prompt)
        verdicts[reason or "accepted"] += 1
        if reason is None:
            accepted.append(prompt)
    return accepted, verdicts


def run(cfg: Config, run: RunDir, t: int, engine: Engine | None) -> Path:
    artifact = run.artifact(t, "prompts")
    label = f"iter{t} prompts"
    if already_done(artifact, label):
        return artifact
    begin(label)
    started = time.perf_counter()
    inputs = [Path(cfg.ift_file)]
    earlier = earlier_prompt_files(run, t)
    if cfg.prompts.source == "self_instruct":
        assert engine is not None, "self-instruct needs a generation engine"
        prompts, verdicts = self_instruct(cfg, run, t, engine, label)
    elif cfg.prompts.source == "file":
        inputs = [Path(cfg.prompts.path or "")]
        pool = [row["prompt"] for row in read_rows(inputs[0], {"prompt": str})]
        prompts, verdicts = from_pool(cfg, t, pool, make_filter(cfg, run, t))
    else:
        from srlm.world import sample_prompts
        from srlm.world.grammar import KINDS

        seed = row_seed(cfg.loop.seed, "prompts-world", str(t))
        exclude = set(eval_prompts(cfg)) | {row["prompt"] for row in read_rows(cfg.ift_file, {"prompt": str})}
        kinds = tuple(cfg.world.rules) if cfg.world is not None else KINDS
        pool = sample_prompts(cfg.prompts.n * 2, seed, exclude, kinds)
        prompts, verdicts = from_pool(cfg, 1, pool, make_filter(cfg, run, t))
    if not prompts:
        raise NoPromptsError(f"iteration {t}: no prompt passed the filters ({dict(verdicts)})")
    if len(prompts) < cfg.prompts.n:
        console.print(f"[yellow]{label}: only {len(prompts)} of {cfg.prompts.n} prompts passed ({dict(verdicts)})")
    rows = [{"id": prompt_id(t, p), "prompt": p, "source": cfg.prompts.source} for p in prompts]
    return finish(
        artifact,
        rows,
        stage=label,
        config_hash=cfg.digest("prompts", "data", "loop"),
        inputs=inputs + earlier,
        started=started,
        engine=engine if cfg.prompts.source == "self_instruct" else None,
        counts=dict(verdicts),
    )
