"""Probe: keep the judge trained on its own judgments of its own answers (Learning without Forgetting).

    python scripts/own_judgment_probe.py --rows 300 -- --set loop.run_dir=runs/oj0 \
        --set "eval.prompts=[runs/oj0/world/dev.jsonl]"
    python scripts/own_judgment_probe.py --rows 300 --score-mix -- --set loop.run_dir=runs/om0 ...

Runs `srlm run` (the built-in world config, or `--config`; everything after `--` is passed as
its `--set` options) with the stage of `loop.verdict_pairs` replaced. Each iteration, `--rows`
of that iteration's candidates become DPO rows with both sides equal: prompt = the judge prompt,
chosen = rejected = the one of the candidate's k judgments whose score is the most common (the
first such). DPO's term is then constant and only the NLL term trains them, so the next model is
pulled towards judging as this one did, on the answers it writes. Nothing is generated: the
judgments are the ones the iteration made anyway. With `--score-mix` the candidates are drawn so
that their scores keep the EFT seed set's mix (as far as the candidates have each score) instead
of the candidates' own. The rows land in `iter<t>/verdict_pairs.jsonl`, which the DPO stage reads
when `loop.verdict_pairs` is on (the script sets it to `--rows`). Measured in docs/world.md
(*Settings tried*): the `end with` drift goes, and the judge falls further than without it.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from srlm.backends.base import row_seed
from srlm.config import Config, default_config_path, load_config
from srlm.console import begin
from srlm.data.io import read_rows
from srlm.method.judging import load_template, parse_score, render_template
from srlm.rundir import RunDir
from srlm.stages import verdict_pairs
from srlm.stages.common import already_done, finish


def modal_judgment(samples: Sequence[Mapping[str, Any]]) -> tuple[str, float] | None:
    """(text, score) of the first judgment whose score is the most common among the scored ones; None if none is."""
    scored = [(sample["text"], float(sample["score"])) for sample in samples if sample["score"] is not None]
    if not scored:
        return None
    mode = Counter(score for _, score in scored).most_common(1)[0][0]
    return next((text, score) for text, score in scored if score == mode)


def draw(scores: Sequence[tuple[str, float]], n: int, seed: int, mix: Mapping[float, int] | None = None) -> list[str]:
    """n of the (candidate id, score) items' ids, drawn without replacement in draw order.

    With `mix` (score -> count) each score, in ascending order, gets its share of n from one
    random stream, or all its items where it has fewer.
    """
    rng = random.Random(seed)
    if mix is None:
        return [cid for cid, _ in rng.sample(list(scores), min(n, len(scores)))]
    by_score: dict[float, list[str]] = defaultdict(list)
    for cid, score in scores:
        by_score[score].append(cid)
    total = sum(mix.values())
    picked: list[str] = []
    for score in sorted(mix):
        pool = by_score.get(score, [])
        picked += rng.sample(pool, min(round(n * mix[score] / total), len(pool)))
    return picked


def own_judgment_rows(cfg: Config, run: RunDir, t: int, score_mix: bool) -> Path:
    """The stage that replaces `srlm.stages.verdict_pairs.run` for this probe."""
    artifact = run.artifact(t, "verdict_pairs")
    label = f"iter{t} own-judgment rows"
    if already_done(artifact, label):
        return artifact
    begin(label)
    started = time.perf_counter()
    candidates = {row["id"]: row for row in read_rows(run.artifact(t, "candidates"), {"id": str})}
    modal = {
        row["id"]: judged
        for row in read_rows(run.artifact(t, "judgments"), {"id": str})
        if (judged := modal_judgment(row["samples"])) is not None
    }
    mix = None
    if score_mix:
        assert cfg.data.eft is not None  # loop.verdict_pairs requires EFT data
        eft = read_rows(Path(cfg.data.eft), {"judgment": str})
        mix = dict(Counter(score for row in eft if (score := parse_score(row["judgment"])) is not None))
    seed = row_seed(cfg.loop.seed, "verdict_pairs", str(t))  # the stream the stage it replaces draws from
    chosen = draw([(cid, score) for cid, (_, score) in modal.items()], cfg.loop.verdict_pairs, seed, mix)
    template = load_template(cfg.judge.template)
    rows = []
    for cid in chosen:
        text = "\n".join(line.strip() for line in modal[cid][0].split("\n"))
        prompt = render_template(template, prompt=candidates[cid]["prompt"], response=candidates[cid]["response"])
        rows.append({"id": cid, "prompt": prompt, "chosen": text, "rejected": text, "score": modal[cid][1]})
    counts = {"own_judgment_rows": len(rows), "flipped_yes": 0, "flipped_no": 0}
    return finish(
        artifact,
        rows,
        stage=label,
        config_hash=cfg.digest("judge", "loop"),
        inputs=[run.artifact(t, "candidates"), run.artifact(t, "judgments")],
        started=started,
        counts=counts,
    )


def main(
    overrides: Annotated[list[str] | None, typer.Argument(help="srlm run's --set options, after --")] = None,
    rows: Annotated[int, typer.Option(min=1, help="own-judgment rows per iteration")] = 300,
    score_mix: Annotated[bool, typer.Option(help="draw the rows with the EFT seed set's score mix")] = False,
    config: Annotated[Path | None, typer.Option(help="YAML config; default: the built-in world run")] = None,
) -> None:
    from srlm.loop import run as run_loop

    sets = [value for value in (overrides or []) if value != "--set"]
    cfg = load_config(config or default_config_path(), [*sets, f"loop.verdict_pairs={rows}"])
    verdict_pairs.run = lambda cfg, run, t: own_judgment_rows(cfg, run, t, score_mix)
    run_loop(cfg)


if __name__ == "__main__":
    typer.run(main)
