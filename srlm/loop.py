"""The paper's algorithm on one screen.

    M1 = SFT(M0, IFT ∪ EFT)
    for t = 1 … T:
        prompts    = self_instruct(M_t)                    # or a fixed prompt pool
        candidates = N samples of M_t per prompt
        judgments  = k samples of M_t-as-judge per candidate, averaged
        pairs      = (best, worst) per prompt, ties dropped
        M_{t+1}    = DPO(M_t, pairs), reference = M_t
    evaluate M1 … M_{T+1} (and an IFT-only SFT baseline) on held-out prompts

Switches beyond the paper (docs/ablations.md) are small branches: pairwise judging instead of
scores (pairs.mode), a meta-judge of the model's own judgments (loop.meta_judge), CREAM's
consistency with the previous judge (dpo.consistency), EFT judged again and trained as judgment
pairs (loop.eft_replay) or with one verdict flipped (loop.verdict_pairs), rejected answers
anchored in M1's (pairs.anchored_rejection); length control and SFT-instead-of-DPO live inside
the pairs and dpo stages.

Every stage reads and writes fixed file names in the run dir and skips itself when its
artifact is already complete, so rerunning the same command resumes an interrupted run.
"""

from __future__ import annotations

import json

from srlm.backends import engine_for
from srlm.config import Config
from srlm.console import console, run_logs
from srlm.data.io import atomic_write_text
from srlm.preflight import check_inputs
from srlm.report import write_report
from srlm.report.summary import print_summary
from srlm.rundir import RunDir, is_done, open_run
from srlm.stages import (
    anchor,
    candidates,
    compare,
    consistency,
    eft_replay,
    evaluate,
    judge,
    meta_judge,
    pairs,
    prompts,
    verdict_pairs,
    world,
)
from srlm.training import dpo, sft


def final_artifacts(cfg: Config, run: RunDir) -> list:
    models = [run.model(t) for t in range(1, cfg.loop.iterations + 2)]
    return models + ([run.sft_baseline] if cfg.loop.sft_baseline else [])


def stop_early(rd: RunDir, t: int, reason: str) -> None:
    """No usable pairs: train nothing more, evaluate the models so far, and say so everywhere."""
    console.print(f"[bold red]iteration {t} stopped: {reason}[/bold red]")
    record = {"iteration": t, "reason": reason}
    atomic_write_text(rd.root / "stopped_early.json", json.dumps(record, indent=2) + "\n")


def run(cfg: Config, *, force: bool = False, verbose: bool = False) -> RunDir:
    """The loop on `loop.run_dir`; the console's output is kept in run.log, the libraries' in logs/."""
    check_inputs(cfg)  # models, data files, run dir: before anything loads or is written
    rd = open_run(cfg, force=force)
    with run_logs(rd.root, "srlm run", verbose=verbose):
        self_rewarding(cfg, rd)
    return rd


def self_rewarding(cfg: Config, rd: RunDir) -> None:
    """The algorithm above, stage by stage; each stage skips itself when its artifact is complete."""
    (rd.root / "stopped_early.json").unlink(missing_ok=True)
    metrics = rd.root / "eval" / "metrics.json"
    if metrics.is_file() and all(is_done(path) for path in final_artifacts(cfg, rd)):
        console.print(f"{rd.root}: every stage is complete; nothing to do")
        print_summary(json.loads(metrics.read_text(encoding="utf-8")))
        return
    if cfg.world is not None:
        world.run(cfg, rd)  # the built-in world's seed sets
    needs_model_eft = cfg.world is not None and cfg.world.eft_model_answers > 0 and not is_done(rd.model(1))
    if cfg.loop.sft_baseline or needs_model_eft:
        baseline = sft.run(cfg, rd, ift_only=True)  # the IFT-only baseline
        if needs_model_eft:  # it writes answers to the EFT prompts, which the oracle judges
            with engine_for(cfg, str(baseline)) as engine:
                world.model_eft(cfg, rd, engine)
    sft.run(cfg, rd)  # M1 = SFT(M0, IFT ∪ EFT)
    for t in range(1, cfg.loop.iterations + 1):
        if is_done(rd.model(t + 1)):
            console.print(f"[dim]iteration {t}: m{t + 1} done earlier, skipped[/dim]")
            continue
        with engine_for(cfg, str(rd.model(t))) as engine:
            prompts.run(cfg, rd, t, engine)  # new prompts
            candidates.run(cfg, rd, t, engine)  # N answers each
            if cfg.pairs.mode == "pairwise":
                compare.run(cfg, rd, t, engine)  # every two answers, both orders
            else:
                judge.run(cfg, rd, t, engine)  # k judgments per answer
            if cfg.loop.meta_judge:
                meta_judge.run(cfg, rd, t, engine)  # its own two judgments compared
            if cfg.loop.eft_replay:
                eft_replay.run(cfg, rd, t, engine)  # its EFT seed rows judged again
        if cfg.loop.trains_verdict_pairs(t):
            verdict_pairs.run(cfg, rd, t)  # EFT seed judgments vs the same with one verdict flipped
        if cfg.pairs.anchored_rejection and t > 1:
            anchor.run(cfg, rd, t)  # M1 answers the same prompts, M(t) judges: the rejected side
        try:
            pairs.run(cfg, rd, t)  # best vs worst
        except pairs.DegenerateJudgeError as error:
            stop_early(rd, t, str(error))
            break
        if cfg.dpo.consistency and t > 1:
            with engine_for(cfg, str(rd.model(t - 1))) as previous:
                consistency.run(cfg, rd, t, previous)  # M(t-1) re-judges the same answers
        dpo.run(cfg, rd, t)  # M(t+1) = DPO(M(t), pairs)
    evaluate.run(cfg, rd)  # M1 … M(T+1) and the baseline on held-out prompts
    console.print(f"report -> {write_report([rd.root])}")
    stopped = (rd.root / "stopped_early.json").is_file()  # `srlm run` exits 3
    console.print(f"[bold red]{rd.root}: stopped early[/bold red]" if stopped else f"[green]{rd.root}: done[/green]")
