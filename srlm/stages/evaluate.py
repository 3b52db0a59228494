"""Evaluate: every model of a run on held-out prompts, by every judge the config names.

    srlm eval RUN_DIR            (also the last stage of `srlm run`)

Models: m1 … m{T+1} that are done, plus the IFT-only `sft_baseline` when `loop.sft_baseline`.
Per model, under `<run>/eval/<model>/` (each resumable and skipped when done):

    answers.jsonl         {id, prompt, response, truncated}   one answer per eval prompt, per-row seeds
    samples.jsonl         {id, prompt, responses, truncated}  eval.samples answers per prompt at the
                                                   candidates' temperature (eval.samples > 0; oracle-graded)
    self_judgments.jsonl  {id, samples, score}     the model judging its own answers, k samples
    judge_eval.jsonl      {id, prompt_id, answer_index, gold, samples, score}   ranked set

    alpaca_eval.json      [{instruction, output, generator}]   for the official alpaca_eval

With `eval.judge_model`: `<run>/eval/judge_model/<a>_vs_<b>.jsonl`, both orders per prompt.
`eval/metrics.json` is then recomputed from these files on every call (schema:
`srlm.stages.evaluate_metrics`), and a table with plain verdicts is printed.

Departures from the paper: the paper's GPT-4 head-to-head becomes the world oracle (world
runs; per prompt the higher oracle score wins, equal = tie) and/or an HF `eval.judge_model`
judging pairwise in both orders (disagreement = tie). Self-judge scores are reported apart:
the model grades itself. Judge quality is measured with the loop's judge settings (template,
k = judge.samples averaged, judge sampling), i.e. the judge as it builds pairs. Evaluation
prompts are `eval.prompts`, else `data.eval_prompts[0]` only — never the dev set.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from typing import Any

from srlm.backends.base import Engine, GenItem, SamplingParams, is_truncated, row_seed, user
from srlm.config import Config
from srlm.console import begin, console, end
from srlm.data.alpaca_eval import is_json_array, read_alpaca_eval, store_official_results
from srlm.data.io import DataError, atomic_write_text, read_rows
from srlm.method.judging import render_template
from srlm.method.judging.pairwise import load_pairwise_template, outcome_for_a, parse_winner
from srlm.method.metrics import both_orders_outcome
from srlm.models.card import write_card
from srlm.report.summary import print_summary
from srlm.report.trackers import log_loop
from srlm.rundir import RunDir, is_done, read_manifest
from srlm.stages.common import already_done, finish, partial_path, run_generation, truncation_count
from srlm.stages.evaluate_metrics import (
    alpaca_eval_results_file,
    comparisons,
    compute_metrics,
    eval_dir,
    model_file,
    pairwise_file,
)
from srlm.stages.judge import Target, judge_all
from srlm.stages.metric_helpers import Oracle, judge_eval_targets

EngineFactory = Callable[[str], AbstractContextManager[Engine]]


def run(
    cfg: Config,
    rd: RunDir,
    engine_factory: EngineFactory | None = None,
    oracle: Oracle | None = None,
    alpaca_eval_dir: Path | None = None,
) -> Path:
    """Generate what is missing, then write `eval/metrics.json` and print the summary.

    `alpaca_eval_dir` (or `eval.alpaca_eval_results`): alpaca_eval's results to store beside ours.
    """
    factory = engine_factory or _default_factory(cfg)
    oracle = oracle if oracle is not None else default_oracle(cfg)
    models = run_models(cfg, rd)
    if not models:
        raise FileNotFoundError(f"{rd.root}: no finished model to evaluate (m1 is not done)")
    prompt_file, prompts = eval_prompts(cfg)
    ranked = judge_eval_targets(cfg)
    for name, model_dir in models.items():
        _evaluate_model(cfg, rd, factory, name, model_dir, (prompt_file, prompts), ranked)
    if cfg.eval.judge_model:
        _judge_model_pairs(cfg, rd, factory, list(models), prompts)
    for name in models:
        export_alpaca_eval(rd, name)
    import_alpaca_eval(cfg, rd, list(models), alpaca_eval_dir)
    tokens = {name: answer_token_counts(cfg, rd, name, path) for name, path in models.items()}
    settings = {
        "eval_prompts": len(prompts),
        "eval_prompts_file": str(prompt_file),
        "judge_eval_file": cfg.eval.judge_eval,
        "judge_eval_answers": len(ranked),
        "temperature": cfg.eval.temperature,
    }
    metrics = compute_metrics(cfg, rd, list(models), oracle, tokens, settings)
    path = eval_dir(rd) / "metrics.json"
    atomic_write_text(path, json.dumps(metrics, indent=2) + "\n")
    written = json.loads(path.read_text(encoding="utf-8"))
    log_loop(cfg.train.report_to, cfg.train.project, rd.root, written)
    for model_dir in models.values():
        write_card(cfg, model_dir, written)  # the evaluation numbers join each model's card
    print_summary(metrics)
    console.print(f"eval: metrics -> {path}")
    return path


def _default_factory(cfg: Config) -> EngineFactory:
    from srlm.backends import engine_for

    return lambda model_dir: engine_for(cfg, model_dir)


def default_oracle(cfg: Config) -> Oracle | None:
    """The world's oracle for world runs; no oracle otherwise."""
    if cfg.world is None:
        return None
    from srlm.world import grade

    return grade


def run_models(cfg: Config, rd: RunDir) -> dict[str, Path]:
    """Finished models by name, in iteration order, the SFT baseline last."""
    models = {f"m{t}": rd.model(t) for t in range(1, cfg.loop.iterations + 2) if is_done(rd.model(t))}
    if cfg.loop.sft_baseline and is_done(rd.sft_baseline):
        models["sft_baseline"] = rd.sft_baseline
    return models


def eval_prompts(cfg: Config) -> tuple[Path, list[dict[str, str]]]:
    """{id, prompt} rows of the evaluation file(s), in order; the first file's path.

    Each file is JSONL (or a `datasets` dir) of `{id?, prompt}` rows, or alpaca_eval's format: one
    JSON array of `{instruction, dataset?, ...}` objects (read when the file starts with `[`).
    An `instruction` is accepted in JSONL rows too. Without an `id`, a prompt's id is `e<index>`,
    its 0-based position over all the files, so ids are stable for an unchanged prompt set.
    """
    files = cfg.eval.prompts or cfg.data.eval_prompts[:1]
    if not files:
        raise DataError("no evaluation prompts: set eval.prompts or data.eval_prompts")
    prompts: list[dict[str, str]] = []
    for file in files:
        if is_json_array(Path(file)):
            for entry in read_alpaca_eval(Path(file)):
                prompts.append({"id": str(entry.get("id", f"e{len(prompts)}")), "prompt": entry["instruction"]})
            continue
        for number, row in enumerate(read_rows(file), start=1):
            text = row.get("prompt", row.get("instruction"))
            if not isinstance(text, str) or not text.strip():
                raise DataError(f"{file}: row {number} has no 'prompt' (or 'instruction') text")
            prompts.append({"id": str(row.get("id", f"e{len(prompts)}")), "prompt": text})
    path = Path(files[0])
    seen: set[str] = set()
    for prompt in prompts:
        if prompt["id"] in seen:
            raise DataError(f"{path}: evaluation prompt ids are not unique: {prompt['id']!r} appears twice")
        seen.add(prompt["id"])
    return path, prompts[: cfg.eval.max_prompts]


def _evaluate_model(
    cfg: Config,
    rd: RunDir,
    factory: EngineFactory,
    name: str,
    model_dir: Path,
    prompt_set: tuple[Path, list[dict[str, str]]],
    ranked: list[dict[str, Any]],
) -> None:
    """Run this model's missing steps with one engine (loaded only when something is missing)."""
    prompt_file, prompts = prompt_set
    answers = model_file(rd, name, "answers")
    steps: list[tuple[Path, Callable[[Engine], Path]]] = [
        (answers, partial(write_answers, cfg, answers, name, prompts, prompt_file, show=False))
    ]
    if cfg.eval.samples:
        out = model_file(rd, name, "samples")
        steps.append((out, partial(write_samples, cfg, out, name, prompts, prompt_file, show=False)))
    if cfg.eval.self_judge:
        out = model_file(rd, name, "self_judgments")
        steps.append((out, partial(write_self_judgments, cfg, out, name, answers, show=False)))
    if ranked:
        out = model_file(rd, name, "judge_eval")
        steps.append((out, partial(write_judge_eval, cfg, out, name, ranked, show=False)))
    missing = [step for artifact, step in steps if not already_done(artifact, f"eval {name} {artifact.stem}")]
    if missing:
        begin(f"eval {name}", f"{len(missing)} of {len(steps)} files with {model_dir}")
        started = time.perf_counter()
        with factory(str(model_dir)) as engine:
            for step in missing:
                step(engine)
        console.print(model_line(name, [artifact for artifact, _ in steps], time.perf_counter() - started))
        end()


def model_line(name: str, artifacts: list[Path], seconds: float) -> str:
    """One model's evaluation result line: each file's rows and counts."""
    parts = []
    for artifact in artifacts:
        manifest = read_manifest(artifact) or {}
        counts = ", ".join(f"{k} {v}" for k, v in (manifest.get("counts") or {}).items())
        parts.append(f"{artifact.stem} {manifest.get('rows', '?')}" + (f" ({counts})" if counts else ""))
    return f"eval {name}: {'; '.join(parts)} ({seconds:.1f} s) -> {artifacts[0].parent}"


def write_answers(
    cfg: Config,
    artifact: Path,
    name: str,
    prompts: list[dict[str, str]],
    prompt_file: Path,
    engine: Engine,
    *,
    show: bool = True,
) -> Path:
    started = time.perf_counter()
    items = [GenItem(p["id"], user(p["prompt"]), row_seed(cfg.loop.seed, "eval-answers", p["id"])) for p in prompts]
    params = SamplingParams(cfg.eval.temperature, cfg.eval.top_p, cfg.eval.max_new_tokens)
    texts = run_generation(engine, items, params, partial_path(artifact), f"eval {name} answers")
    rows = [
        {"id": p["id"], "prompt": p["prompt"], "response": texts[p["id"]], "truncated": is_truncated(texts[p["id"]])}
        for p in prompts
    ]
    empty = sum(1 for p in prompts if not texts[p["id"]].strip())
    truncated = truncation_count(f"eval {name} answers", texts.values())
    return finish(
        artifact,
        rows,
        stage=f"eval {name} answers",
        config_hash=cfg.digest("eval", "loop"),
        inputs=[prompt_file],
        started=started,
        engine=engine,
        counts={"empty": empty, "truncated": truncated},
        show=show,
    )


def write_samples(
    cfg: Config,
    artifact: Path,
    name: str,
    prompts: list[dict[str, str]],
    prompt_file: Path,
    engine: Engine,
    *,
    show: bool = True,
) -> Path:
    """`eval.samples` answers per prompt at the candidates' temperature and top_p (the loop's own sampling)."""
    started = time.perf_counter()
    n = cfg.eval.samples
    items = [
        GenItem(key, user(p["prompt"]), row_seed(cfg.loop.seed, "eval-samples", key))
        for p in prompts
        for key in (f"{p['id']}-s{j}" for j in range(n))
    ]
    params = SamplingParams(cfg.candidates.temperature, cfg.candidates.top_p, cfg.eval.max_new_tokens)
    texts = run_generation(engine, items, params, partial_path(artifact), f"eval {name} samples")
    rows = []
    for p in prompts:
        responses = [texts[f"{p['id']}-s{j}"] for j in range(n)]
        rows.append({"id": p["id"], "prompt": p["prompt"], "responses": responses,
                     "truncated": [is_truncated(text) for text in responses]})  # fmt: skip
    truncated = truncation_count(f"eval {name} samples", texts.values())
    return finish(
        artifact,
        rows,
        stage=f"eval {name} samples",
        config_hash=cfg.digest("eval", "candidates", "loop"),
        inputs=[prompt_file],
        started=started,
        engine=engine,
        counts={"samples": n * len(rows), "truncated": truncated},
        show=show,
    )


def judge_targets(
    cfg: Config, engine: Engine, targets: Sequence[Target], stage: str, artifact: Path
) -> list[dict[str, Any]]:
    """The loop's judge (template, sampling) on evaluation targets; `eval.judge_samples` each."""
    samples = cfg.eval.judge_samples or cfg.judge.samples
    return judge_all(cfg, engine, targets, stage=stage, partial=partial_path(artifact), samples=samples)


def _failures(rows: list[dict[str, Any]]) -> int:
    return sum(1 for row in rows for sample in row["samples"] if sample["score"] is None)


def write_self_judgments(
    cfg: Config, artifact: Path, name: str, answers: Path, engine: Engine, *, show: bool = True
) -> Path:
    started = time.perf_counter()
    stage = f"eval {name} self_judgments"
    targets = [(r["id"], r["prompt"], r["response"]) for r in read_rows(answers, None)]
    rows = judge_targets(cfg, engine, targets, stage, artifact)
    return finish(
        artifact,
        rows,
        stage=stage,
        config_hash=cfg.digest("judge", "loop"),
        inputs=[answers],
        started=started,
        engine=engine,
        counts={"parse_failures": _failures(rows)},
        show=show,
    )


def write_judge_eval(
    cfg: Config, artifact: Path, name: str, ranked: list[dict[str, Any]], engine: Engine, *, show: bool = True
) -> Path:
    started = time.perf_counter()
    stage = f"eval {name} judge_eval"
    targets = [(t["id"], t["prompt"], t["response"]) for t in ranked]
    judged = judge_targets(cfg, engine, targets, stage, artifact)
    keys = ("prompt_id", "answer_index", "gold")
    rows = [{**row, **{k: t[k] for k in keys}} for row, t in zip(judged, ranked, strict=True)]
    inputs = [Path(cfg.eval.judge_eval)] if cfg.eval.judge_eval else []
    return finish(
        artifact,
        rows,
        stage=stage,
        config_hash=cfg.digest("judge", "loop"),
        inputs=inputs,
        started=started,
        engine=engine,
        counts={"parse_failures": _failures(rows)},
        show=show,
    )


def _judge_model_pairs(
    cfg: Config, rd: RunDir, factory: EngineFactory, models: list[str], prompts: list[dict[str, str]]
) -> None:
    assert cfg.eval.judge_model is not None
    todo = [(a, b) for a, b in comparisons(models) if not already_done(pairwise_file(rd, a, b), f"eval {a} vs {b}")]
    if not todo:
        return
    begin("eval judge_model", f"{len(todo)} comparisons by {cfg.eval.judge_model}")
    with factory(cfg.eval.judge_model) as engine:
        for a, b in todo:
            write_pairwise(cfg, rd, engine, a, b, prompts)


def write_pairwise(cfg: Config, rd: RunDir, engine: Engine, a: str, b: str, prompts: list[dict[str, str]]) -> Path:
    """a vs b by the judge model: each prompt shown in both orders, disagreement = tie."""
    started = time.perf_counter()
    artifact, stage = pairwise_file(rd, a, b), f"eval {a} vs {b}"
    files = [model_file(rd, a, "answers"), model_file(rd, b, "answers")]
    answer_a, answer_b = ({r["id"]: r["response"] for r in read_rows(f, None)} for f in files)
    template = load_pairwise_template()
    items = []
    for p in prompts:
        for order, (first, second) in (("ab", (answer_a, answer_b)), ("ba", (answer_b, answer_a))):
            text = render_template(template, prompt=p["prompt"], response_a=first[p["id"]], response_b=second[p["id"]])
            item_id = f"{p['id']}-{order}"
            items.append(GenItem(item_id, user(text), row_seed(cfg.loop.seed, "eval-pairwise", item_id)))
    params = SamplingParams(0.0, 1.0, cfg.judge.max_new_tokens)  # greedy: a verdict, not a sample
    texts = run_generation(engine, items, params, partial_path(artifact), stage)
    rows = []
    for p in prompts:
        ab, ba = texts[f"{p['id']}-ab"], texts[f"{p['id']}-ba"]
        shown_first, shown_second = (
            outcome_for_a(parse_winner(ab), True),
            outcome_for_a(parse_winner(ba), False),
        )
        rows.append(
            {
                "id": p["id"],
                "judgment_ab": ab,
                "judgment_ba": ba,
                "outcome_ab": shown_first,
                "outcome_ba": shown_second,
                "outcome": both_orders_outcome(shown_first, shown_second),
            }
        )
    unjudged = sum(1 for row in rows if row["outcome"] is None)
    return finish(
        artifact,
        rows,
        stage=stage,
        config_hash=cfg.digest("eval"),
        inputs=files,
        started=started,
        engine=engine,
        counts={"unjudged": unjudged},
    )


def export_alpaca_eval(rd: RunDir, name: str) -> Path:
    """`eval/<model>/alpaca_eval.json`: the answers in alpaca_eval's format, for the official tool."""
    rows = read_rows(model_file(rd, name, "answers"), None)
    outputs = [{"instruction": r["prompt"], "output": r["response"], "generator": name} for r in rows]
    path = eval_dir(rd) / name / "alpaca_eval.json"
    atomic_write_text(path, json.dumps(outputs, ensure_ascii=False, indent=1) + "\n")
    return path


def import_alpaca_eval(cfg: Config, rd: RunDir, models: list[str], given: Path | None = None) -> Path | None:
    """Store alpaca_eval's numbers for the run's models in `eval/alpaca_eval_results.json`.

    Read from `given`, `eval.alpaca_eval_results` and `eval/` (alpaca_eval's default output place
    for the exported files); when none is found an earlier import stays.
    """
    roots = [Path(p) for p in (given, cfg.eval.alpaca_eval_results) if p]
    path = alpaca_eval_results_file(rd)
    found = store_official_results(roots, [eval_dir(rd)], models, path)
    if found:
        console.print(f"eval: alpaca_eval results for {', '.join(found)} -> {path}")
    return path if found else None


def answer_token_counts(cfg: Config, rd: RunDir, name: str, model_dir: Path) -> list[int] | None:
    """Answer lengths in the model's own tokens; None when the dir has no tokenizer files."""
    if not any((model_dir / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")):
        return None
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), trust_remote_code=cfg.model.trust_remote_code)
    answers = read_rows(model_file(rd, name, "answers"), None)
    return [len(tokenizer(r["response"], add_special_tokens=False)["input_ids"]) for r in answers]
