"""Probe a model before any training: judge parse failures and scores, and world-oracle answers.

    python scripts/judge_probe.py srlm/configs/smollm2-world.yaml --out runs/probe \
        --judge-prompts 30 --eval-prompts 200 --template world:judge
    python scripts/judge_probe.py srlm/configs/smollm2-world.yaml --out runs/probe \
        --judge-prompts 30 --eval-prompts 0 --template rubric --set judge.max_new_tokens=256

For each template, the model judges the answers of the first `--judge-prompts` prompts of the
world's ranked judge-eval set with the config's judge settings (one sample per answer) and the
script prints the parse-failure rate, the score histogram and the pairwise accuracy. Then it
answers the first `--eval-prompts` held-out prompts greedily (`eval.max_new_tokens`) and prints
the oracle's mean (`--eval-prompts 0` skips this). The model is `model.path` of the config; the
seed sets are built with the config's `world` section into `<out>/world/`. Every artifact lands
under `--out` with a manifest, through the same functions `srlm eval` uses.
"""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from srlm.backends import engine_for
from srlm.backends.base import Engine
from srlm.config import Config, load_config
from srlm.data.io import read_rows, write_jsonl
from srlm.models.loading import resolve_model_path
from srlm.rundir import RunDir
from srlm.stages import world
from srlm.stages.evaluate import eval_prompts, judge_eval_targets, write_answers, write_judge_eval
from srlm.stages.evaluate_metrics import oracle_scores
from srlm.stages.judge_eval_metrics import judge_quality_from_rows


def _template_path(name: str) -> str:
    """`rubric` = the shipped English rubric; anything else is passed on (world:judge, a file)."""
    return str(resources.files("srlm.method.judging") / "rubric.txt") if name == "rubric" else name


def _judge(cfg: Config, out: Path, template: str, engine: Engine) -> None:
    cfg.judge.template = _template_path(template)
    ranked = judge_eval_targets(cfg)
    artifact = out / f"judge_eval.{template.replace(':', '_')}.jsonl"
    started = time.perf_counter()
    write_judge_eval(cfg, artifact, "m0", ranked, engine)
    seconds = time.perf_counter() - started
    quality = judge_quality_from_rows(read_rows(artifact, None))
    print(
        f"judge {template}: {quality['n_answers']} answers, parse failures {quality['parse_failure_rate']:.1%}, "
        f"histogram {quality['score_histogram']}, pairwise accuracy {quality['pairwise_accuracy']:.3f}, "
        f"{seconds:.0f} s ({quality['n_answers'] / seconds:.2f} judgments/s at judge.max_new_tokens="
        f"{cfg.judge.max_new_tokens})"
    )


def main(
    config: Annotated[Path, typer.Argument(help="a world config; model.path is the model probed")],
    out: Annotated[Path, typer.Option(help="where the seed sets and probe artifacts go")] = Path("runs/probe"),
    judge_prompts: Annotated[int, typer.Option(help="ranked judge-eval prompts (each ~3.5 answers)")] = 30,
    eval_prompts_n: Annotated[int, typer.Option("--eval-prompts", help="held-out prompts answered")] = 200,
    templates: Annotated[list[str] | None, typer.Option("--template", help="world:judge, rubric or a file")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="config overrides, section.key=value")] = None,
) -> None:
    cfg = load_config(config, [*(overrides or []), f"loop.run_dir={out}", "eval.judge_samples=1"])
    world.run(cfg, RunDir(out))
    ranked_file = out / "judge_eval.head.jsonl"
    write_jsonl(ranked_file, read_rows(str(cfg.eval.judge_eval), None)[:judge_prompts])
    cfg.eval.judge_eval = str(ranked_file)
    cfg.eval.max_prompts = eval_prompts_n or None
    with engine_for(cfg, resolve_model_path(cfg.model.path)) as engine:
        for template in templates or ["world:judge", "rubric"]:
            _judge(cfg, out, template, engine)
        if eval_prompts_n == 0:
            return
        prompt_file, prompts = eval_prompts(cfg)
        started = time.perf_counter()
        answers = write_answers(cfg, out / "answers.jsonl", "m0", prompts, prompt_file, engine)
        seconds = time.perf_counter() - started
    from srlm.world import grade

    grades = oracle_scores(read_rows(answers, None), grade)
    scores = [g.score for g in grades.values() if g is not None]
    histogram = {str(s): scores.count(s) for s in range(6)}
    summary = {"oracle_mean": sum(scores) / len(scores), "graded": len(scores), "histogram": histogram}
    print(f"oracle on {len(prompts)} eval prompts: {json.dumps(summary)}; {seconds:.0f} s")


if __name__ == "__main__":
    typer.run(main)
