"""Checkpoint selection (`dpo.select`, off by default): the paper's way of picking M(t+1).

The paper saved a DPO checkpoint every 200 steps and kept the one GPT-4 preferred on held-out
prompts. Here DPO saves `dpo.select.checkpoints` checkpoints evenly over training (TRL's own
`save_steps`), each answers the selection prompts (greedy, the evaluation's settings), and the
judge picks:

- `oracle` (world runs): the highest mean oracle grade;
- `judge_model`: `eval.judge_model` compares each checkpoint's answer with M_t's, pairwise in both
  orders (disagreement = tie = 1/2, as in evaluation); the highest win rate.

Equal scores go to the later checkpoint. Selection prompts are never evaluation prompts: world
runs draw fresh world prompts (none of them an evaluation, dev, judge-quality, IFT or iteration
prompt); otherwise `dpo.select.prompts`, from which any prompt matching a held-out prompt is
dropped and counted. Files, all resumable:

    m<t+1>.checkpoints/trainer/checkpoint-<step>/   TRL's checkpoints (weights only)
    m<t+1>.checkpoints/step-<step>/, final/         each as a plain model dir (LoRA merged)
    m<t+1>.checkpoints/answers/<name>.jsonl         answers to the selection prompts
    m<t+1>.checkpoints/judged/<name>.jsonl          judge_model: each checkpoint vs M_t
    m<t+1>/                                          a copy of the chosen checkpoint; its manifest's
                                                     `selection` records which one, every score and why
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from srlm.backends.base import Engine, GenItem, SamplingParams, row_seed, user
from srlm.config import Config
from srlm.console import console
from srlm.data.io import read_rows, write_error
from srlm.models.card import write_card
from srlm.rundir import RunDir, is_done, read_manifest, write_manifest
from srlm.stages.common import already_done, finish, partial_path, run_generation

EngineFactory = Callable[[str], AbstractContextManager[Engine]]
Oracle = Callable[[str, str], Any]  # (prompt, answer) -> an object with .score
_MANIFEST_OWN = ("stage", "artifact", "sha256", "config_hash", "inputs", "versions", "finished_at", "seconds")


def checkpoints_root(run: RunDir, t: int) -> Path:
    return run.root / f"m{t + 1}.checkpoints"


def final_dir(run: RunDir, t: int) -> Path:
    """Where DPO's last step is saved when `dpo.select` is on (then chosen from)."""
    return checkpoints_root(run, t) / "final"


def saving_args(cfg: Config, run: RunDir, t: int, rows: int) -> dict[str, Any]:
    """TrainingArguments that save `dpo.select.checkpoints` checkpoints evenly; {} when selection is off."""
    if cfg.dpo.select is None:
        return {}
    steps = math.ceil(math.ceil(rows / cfg.dpo.batch_size) * cfg.dpo.epochs)
    return {
        "output_dir": str(checkpoints_root(run, t) / "trainer"),
        "save_strategy": "steps",
        "save_steps": max(1, math.ceil(steps / cfg.dpo.select.checkpoints)),
        "save_only_model": True,
    }


def _step(path: Path) -> int:
    return int(path.name.rsplit("-", 1)[1])


def export_checkpoints(cfg: Config, run: RunDir, t: int) -> dict[str, Path]:
    """Every checkpoint as a plain model dir, in training order, the last step ("final") last."""
    import json

    from srlm.models.loading import load_model, load_tokenizer, save_atomically

    root = checkpoints_root(run, t)
    for checkpoint in sorted((root / "trainer").glob("checkpoint-*"), key=_step):
        state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
        out = root / f"step-{_step(checkpoint)}"
        if _step(checkpoint) >= state.get("max_steps", math.inf) or is_done(out):
            continue  # the last step is `final`; an exported one is done
        start = str(run.model(t))
        tokenizer = load_tokenizer(start, cfg.model)
        if (checkpoint / "adapter_config.json").is_file():
            from peft import PeftModel

            model = PeftModel.from_pretrained(load_model(start, cfg.model), str(checkpoint)).merge_and_unload()
        else:
            model = load_model(str(checkpoint), cfg.model)
        save_atomically(model, tokenizer, out)
        write_manifest(out, stage=f"iter{t} dpo checkpoint", config_hash=cfg.digest("model", "dpo"), inputs=[])
    shutil.rmtree(root / "trainer", ignore_errors=True)  # every checkpoint is a model dir now
    steps = sorted((path for path in root.glob("step-*") if is_done(path)), key=_step)
    return {path.name: path for path in steps} | {"final": final_dir(run, t)}


def selection_prompts(cfg: Config, run: RunDir, t: int) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """({id, prompt} rows, where they came from): never an evaluation prompt."""
    from srlm.data.decontaminate import evaluation_prompts
    from srlm.method.selfinstruct import KnownPrompts

    select = cfg.dpo.select
    assert select is not None
    held_out = evaluation_prompts(cfg)
    if select.prompts is None:  # world runs: fresh prompts from the world's generator
        from srlm.world import sample_prompts

        assert cfg.world is not None  # the config requires a world for fresh selection prompts
        files = [Path(cfg.ift_file)] + [run.artifact(s, "prompts") for s in range(1, t + 1)]
        seen = set(held_out) | {row["prompt"] for f in files if f.is_file() for row in read_rows(f, {"prompt": str})}
        seed = row_seed(cfg.loop.seed, "select-prompts", str(t))
        texts = sample_prompts(select.n_prompts, seed, seen, tuple(cfg.world.rules))
        source: dict[str, Any] = {"source": "fresh world prompts", "dropped_held_out": 0}
    else:
        known = KnownPrompts(held_out)
        pool = [row["prompt"] for row in read_rows(select.prompts, {"prompt": str})]
        fresh = [p for p in pool if not known.match(p, cfg.prompts.dedup_threshold)]
        texts = fresh[: select.n_prompts]
        source = {"source": select.prompts, "dropped_held_out": len(pool) - len(fresh)}
    return [{"id": f"s{i}", "prompt": text} for i, text in enumerate(texts)], source


def _answers(
    cfg: Config, artifact: Path, model_dir: Path, prompts: list[dict[str, str]], factory: EngineFactory
) -> dict[str, str]:
    label = f"select {artifact.stem} answers"
    if not already_done(artifact, label):
        started = time.perf_counter()
        items = [
            GenItem(p["id"], user(p["prompt"]), row_seed(cfg.loop.seed, "select-answers", p["id"])) for p in prompts
        ]
        params = SamplingParams(cfg.eval.temperature, cfg.eval.top_p, cfg.eval.max_new_tokens)
        with factory(str(model_dir)) as engine:
            texts = run_generation(engine, items, params, partial_path(artifact), label)
        rows = [{"id": p["id"], "prompt": p["prompt"], "response": texts[p["id"]]} for p in prompts]
        finish(artifact, rows, stage=label, config_hash=cfg.digest("eval", "dpo"), inputs=[], started=started)
    return {row["id"]: row["response"] for row in read_rows(artifact, None)}


def _win_rate(
    cfg: Config, artifact: Path, prompts: list[dict[str, str]], mine: dict[str, str], start: dict[str, str], judge: Any
) -> float:
    """Mean both-order outcome of a checkpoint's answers against M_t's (tie = 1/2); NaN when none parsed."""
    from srlm.method.judging import render_template
    from srlm.method.judging.pairwise import load_pairwise_template, outcome_for_a, parse_winner
    from srlm.method.metrics import both_orders_outcome

    label = f"select {artifact.stem} vs start"
    if not already_done(artifact, label):
        started = time.perf_counter()
        template = load_pairwise_template()
        items = []
        for p in prompts:
            for order, (a, b) in (("ab", (mine, start)), ("ba", (start, mine))):
                text = render_template(template, prompt=p["prompt"], response_a=a[p["id"]], response_b=b[p["id"]])
                key = f"{p['id']}-{order}"
                items.append(GenItem(key, user(text), row_seed(cfg.loop.seed, "select-pairwise", key)))
        texts = run_generation(judge, items, SamplingParams(0.0, 1.0, cfg.judge.max_new_tokens),
                               partial_path(artifact), label)  # fmt: skip
        rows = []
        for p in prompts:
            first = outcome_for_a(parse_winner(texts[f"{p['id']}-ab"]), True)
            second = outcome_for_a(parse_winner(texts[f"{p['id']}-ba"]), False)
            rows.append({"id": p["id"], "outcome": both_orders_outcome(first, second)})
        finish(artifact, rows, stage=label, config_hash=cfg.digest("eval", "dpo"), inputs=[], started=started)
    outcomes = [row["outcome"] for row in read_rows(artifact, None) if row["outcome"] is not None]
    return sum(outcomes) / len(outcomes) if outcomes else math.nan


def _copy_model(source: Path, out_dir: Path) -> None:
    """Copy a model dir under a temporary name, then rename: a half-copied dir never has the final name."""
    tmp = out_dir.with_name(out_dir.name + ".saving")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(source, tmp, ignore=shutil.ignore_patterns("*.manifest.json"))
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_error(out_dir, error) from error
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)


def select_checkpoint(
    cfg: Config, run: RunDir, t: int, factory: EngineFactory | None = None, oracle: Oracle | None = None
) -> Path:
    """Score every checkpoint, copy the chosen one to m<t+1>, and record the choice in its manifest."""
    select = cfg.dpo.select
    assert select is not None
    out_dir, label = run.model(t + 1), f"iter{t} dpo"
    if already_done(out_dir, label):
        return out_dir
    started = time.perf_counter()
    if factory is None:
        from srlm.backends import engine_for

        factory = lambda model_dir: engine_for(cfg, model_dir)  # noqa: E731
    root = checkpoints_root(run, t)
    models = export_checkpoints(cfg, run, t)
    prompts, source = selection_prompts(cfg, run, t)
    answers = {name: _answers(cfg, root / "answers" / f"{name}.jsonl", path, prompts, factory)
               for name, path in models.items()}  # fmt: skip
    scores: dict[str, float] = {}
    if select.judge == "oracle":
        from srlm.world import grade

        grader = oracle or grade
        for name, texts in answers.items():
            grades = [float(grader(p["prompt"], texts[p["id"]]).score) for p in prompts]
            scores[name] = sum(grades) / len(grades) if grades else math.nan
        how = "highest mean oracle grade on the selection prompts"
    else:
        assert cfg.eval.judge_model is not None
        start = _answers(cfg, root / "answers" / f"m{t}.jsonl", run.model(t), prompts, factory)
        with factory(cfg.eval.judge_model) as judge:
            for name, texts in answers.items():
                scores[name] = _win_rate(cfg, root / "judged" / f"{name}.jsonl", prompts, texts, start, judge)
        how = f"highest win rate against m{t} by {cfg.eval.judge_model} (both orders, disagreement = tie = 1/2)"
    order = list(models)  # training order: on equal scores the later checkpoint wins
    ranked = [name for name in order if not math.isnan(scores[name])]
    chosen = max(ranked, key=lambda name: (scores[name], order.index(name))) if ranked else "final"
    reason = how if ranked else "no checkpoint could be scored (no verdict parsed); kept the last step"
    _copy_model(models[chosen], out_dir)
    trained = read_manifest(final_dir(run, t)) or {}
    record = {
        "chosen": chosen,
        "reason": reason,
        "judge": select.judge if select.judge == "oracle" else f"judge_model: {cfg.eval.judge_model}",
        "scores": {name: (None if math.isnan(score) else score) for name, score in scores.items()},
        "prompts": len(prompts),
        **source,
    }
    write_manifest(
        out_dir,
        stage=label,
        config_hash=cfg.digest("model", "dpo"),
        inputs=[Path(p) for p in trained.get("inputs", {})],
        seconds=round(time.perf_counter() - started + float(trained.get("seconds", 0.0)), 2),
        **{k: v for k, v in trained.items() if k not in _MANIFEST_OWN},
        selection=record,
    )
    write_card(cfg, out_dir)
    shown = ", ".join(f"{name} {score:.3f}" for name, score in scores.items() if not math.isnan(score))
    console.print(f"{label}: selected {chosen} ({shown or 'no scores'}) -> {out_dir}")
    return out_dir
