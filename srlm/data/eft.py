"""EFT seed data the paper's way: the SFT baseline judges human-ranked answers, agreeing ones stay.

    srlm data eft --sft-model runs/ift-only/m1 --in data/oasst/eft_candidates.jsonl --out data/oasst

Reads `eft_candidates.jsonl` ({id, prompt, responses, ranks}: `srlm data oasst`, or any file of
that shape), splits it by prompt into train and eval, and writes under `--out`:

    eft_judgments.jsonl  {id, samples: [{text, score}], score}   one judgment per train answer
    eft_train.jsonl      {id, prompt_id, prompt, response, judgment, score, human_rank}  = data.eft
    judge_eval.jsonl     {id, prompt, responses, scores}   eval prompts, human ranks  = eval.judge_eval

Judging is the loop's judge stage (`srlm.stages.judge.judge_file`: judge template and sampling
from the config, per-row seeds, resumable partial file, manifest) with any engine `engine_for`
builds. The
filter and the thinning are the pure functions of `srlm.data.eft_filter`, where the decisions the
paper leaves open are written down.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from srlm.backends.base import Engine
from srlm.config import Config
from srlm.data.eft_filter import JudgedAnswer, agreeing_rows, judge_eval_row, split_by_prompt, thin_most_common
from srlm.data.io import DataError, read_rows, write_jsonl
from srlm.rundir import write_manifest
from srlm.stages.judge import judge_file

EngineFactory = Callable[[str], AbstractContextManager[Engine]]
CANDIDATE_FIELDS = {"id": str, "prompt": str, "responses": list, "ranks": list}


def read_candidates(path: Path) -> list[dict[str, Any]]:
    """EFT candidate rows, checked: at least two string responses, one whole-number rank each."""
    rows = read_rows(path, CANDIDATE_FIELDS)
    for number, row in enumerate(rows, start=1):
        where = f"{path}:{number}"
        responses, ranks = row["responses"], row["ranks"]
        if len(responses) < 2:
            raise DataError(f"{where}: field 'responses' needs at least 2 ranked answers, got {len(responses)}")
        if len(ranks) != len(responses):
            raise DataError(f"{where}: field 'ranks' has {len(ranks)} entries for {len(responses)} responses")
        if not all(isinstance(r, str) for r in responses):
            raise DataError(f"{where}: field 'responses' must hold strings only")
        if not all(isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in ranks):
            raise DataError(f"{where}: field 'ranks' must hold whole numbers >= 0 (0 = best)")
    if len({row["id"] for row in rows}) != len(rows):
        raise DataError(f"{path}: prompt ids are not unique")
    return rows


def _judgments(
    cfg: Config, factory: EngineFactory, model: str, train: list[dict[str, Any]], artifact: Path, source: Path
) -> dict[str, dict[str, Any]]:
    """One judgment per train answer (resumable; the model is loaded only when some are missing).

    Judgments made for another candidates file, train split or model/judge config are made again.
    """
    targets = [(f"{r['id']}-a{j}", r["prompt"], text) for r in train for j, text in enumerate(r["responses"])]
    plan = cfg.digest("model", "judge", "loop") + "".join(f"\n{tid}" for tid, _, _ in targets)
    rows = judge_file(
        cfg,
        lambda: factory(model),
        targets,
        artifact,
        label="data eft judgments",
        seed_stage="data-eft",
        samples=1,
        plan=hashlib.sha256(plan.encode()).hexdigest()[:16],
        inputs=[source],
    )
    return {row["id"]: row for row in rows}


def build_eft(
    cfg: Config, factory: EngineFactory, model: str, source: Path, out_dir: Path, *, eval_fraction: float = 0.25
) -> Counter[str]:
    """Judge, filter, thin and split the EFT candidates; write the three files; return the counts."""
    out_dir = Path(out_dir)
    candidates = read_candidates(source)
    counts: Counter[str] = Counter(prompts_read=len(candidates), answers_read=sum(len(r["ranks"]) for r in candidates))
    seed = cfg.loop.seed
    train_ids, eval_ids = split_by_prompt([r["id"] for r in candidates], eval_fraction, seed)
    by_id = {r["id"]: r for r in candidates}
    train = [by_id[i] for i in train_ids]
    judged = _judgments(cfg, factory, model, train, out_dir / "eft_judgments.jsonl", source)
    prompts = []
    for row in train:
        answers = []
        for j, (text, rank) in enumerate(zip(row["responses"], row["ranks"], strict=True)):
            judgment = judged[f"{row['id']}-a{j}"]
            sample = judgment["samples"][0]
            answers.append(JudgedAnswer(judgment["id"], text, rank, sample["text"], sample["score"]))
        prompts.append((row["id"], row["prompt"], answers))
    agreeing, filter_counts = agreeing_rows(prompts)
    counts.update(filter_counts)
    kept = thin_most_common(agreeing, seed)
    eval_rows = [judge_eval_row(i, by_id[i]["prompt"], by_id[i]["responses"], by_id[i]["ranks"]) for i in eval_ids]
    counts.update(
        train_prompts=len(train),
        eval_prompts=len(eval_rows),
        eval_answers=sum(len(r["responses"]) for r in eval_rows),
        after_thinning=len(kept),
        thinned_away=len(agreeing) - len(kept),
    )
    histogram = {"score_histogram": dict(sorted(Counter(str(round(float(r["score"]))) for r in kept).items()))}
    for name, rows, extra in (("eft_train", kept, histogram), ("judge_eval", eval_rows, {})):
        path = out_dir / f"{name}.jsonl"
        write_jsonl(path, rows)
        write_manifest(
            path,
            stage="data eft",
            config_hash=cfg.digest("model", "judge", "loop"),
            inputs=[source, out_dir / "eft_judgments.jsonl"],
            rows=len(rows),
            counts=dict(counts),
            settings={"eval_fraction": eval_fraction, "seed": seed, "sft_model": model},
            **extra,
        )
    return counts
