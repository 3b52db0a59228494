"""``srlm data``: seed sets from real data (Open Assistant), the paper's way.

    srlm data oasst --input OpenAssistant/oasst1 --out data/oasst [--seed 0] [--lang en] [--ift-size 3200]
    srlm data eft --sft-model runs/ift-only/m1 --in data/oasst/eft_candidates.jsonl --out data/oasst

`oasst` writes ift.jsonl + eft_candidates.jsonl (see ``srlm.data.oasst``); `eft` judges the
candidates with the SFT model and writes eft_train.jsonl + judge_eval.jsonl (``srlm.data.eft``).
Each prints its counts, and each file gets a manifest beside it with the same counts. `srlm.cli`
mounts this app and gives its commands srlm's one-line errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from srlm.config import Config, apply_overrides, config_from_dict, load_config
from srlm.console import console
from srlm.data.oasst import SKIPS

app = typer.Typer(help="Seed sets from real data: Open Assistant -> IFT and EFT.", no_args_is_help=True)


def _counts_table(title: str, counts: Mapping[str, int], order: list[str]) -> Table:
    table = Table("step", "count", title=title)
    for key in [k for k in order if k in counts] + sorted(k for k in counts if k not in order):
        table.add_row(key.replace("_", " "), str(counts[key]))
    return table


OASST_ORDER = [
    "messages",
    "trees",
    *SKIPS,
    "usable_prompts",
    "eft_eligible_prompts",
    "ift_over_size",
    "ift",
    "eft_prompts",
    "eft_answers",
]
EFT_ORDER = [
    "prompts_read",
    "answers_read",
    "train_prompts",
    "eval_prompts",
    "eval_answers",
    "prompts_judged",
    "answers_judged",
    "parse_failures",
    "prompts_with_parse_failure",
    "prompts_disagreeing",
    "prompts_agreeing",
    "answers_agreeing",
    "thinned_away",
    "after_thinning",
]


@app.command()
def oasst(
    source: Annotated[str, typer.Option("--input", help="JSONL(.gz) file (messages or trees), datasets dir or name")],
    out: Annotated[Path, typer.Option("--out", help="directory for ift.jsonl and eft_candidates.jsonl")],
    seed: Annotated[int, typer.Option(help="seed of the prompt order that splits IFT from EFT")] = 0,
    lang: Annotated[str, typer.Option(help="language code of the prompts and answers kept")] = "en",
    ift_size: Annotated[int | None, typer.Option(min=1, help="keep at most this many IFT rows (paper: 3200)")] = None,
    eft_share: Annotated[
        float, typer.Option(min=0, max=1, help="share of the prompts with >= 2 ranked answers that become EFT")
    ] = 0.5,
) -> None:
    """Open Assistant trees -> IFT (prompt, rank-0 answer) and EFT candidates (ranked answers)."""
    settings = {"seed": seed, "lang": lang, "ift_size": ift_size, "eft_share": eft_share}
    _oasst(source, out, settings)


def _oasst(source: str, out: Path, settings: dict[str, Any]) -> None:
    from srlm.data.oasst import build_seed_sets, read_messages, write_seed_sets

    with console.status(f"reading {source}"):
        messages = read_messages(source)
    sets = build_seed_sets(
        messages,
        lang=settings["lang"],
        seed=settings["seed"],
        eft_share=settings["eft_share"],
        ift_size=settings["ift_size"],
    )
    paths = write_seed_sets(sets, out, source, settings)
    console.print(_counts_table(f"data oasst: {source}", sets.counts, OASST_ORDER))
    console.print(f"-> {paths['ift']} ({len(sets.ift)} rows), {paths['eft_candidates']} ({len(sets.eft)} rows)")


@app.command()
def eft(
    sft_model: Annotated[str, typer.Option("--sft-model", help="the SFT baseline (IFT only) that judges")],
    source: Annotated[Path, typer.Option("--in", help="eft_candidates.jsonl from `srlm data oasst`")],
    out: Annotated[Path, typer.Option("--out", help="directory for eft_train.jsonl and judge_eval.jsonl")],
    config: Annotated[
        Path | None, typer.Option(help="YAML config whose judge/backend/model settings to use (model.path is replaced)")
    ] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="section.key=value, repeatable")] = None,
    eval_fraction: Annotated[
        float, typer.Option(min=0, max=0.99, help="share of prompts kept for judge evaluation (paper: ~0.25)")
    ] = 0.25,
    seed: Annotated[int | None, typer.Option(help="seed of split, thinning, judge sampling; default loop.seed")] = None,
) -> None:
    """The paper's EFT filter: the SFT model judges, judgments agreeing with human ranks are kept."""
    _eft(sft_model, source, out, config, overrides or [], eval_fraction, seed)


def _eft(
    sft_model: str,
    source: Path,
    out: Path,
    config: Path | None,
    overrides: list[str],
    eval_fraction: float,
    seed: int | None,
) -> None:
    from srlm.backends import engine_for
    from srlm.data.eft import build_eft

    cfg = judge_config(config, overrides, sft_model, source)
    if seed is not None:
        cfg.loop.seed = seed
    counts = build_eft(cfg, lambda model: engine_for(cfg, model), sft_model, source, out, eval_fraction=eval_fraction)
    console.print(_counts_table(f"data eft: {source}", counts, EFT_ORDER))
    console.print(f"-> {out / 'eft_train.jsonl'} (data.eft), {out / 'judge_eval.jsonl'} (eval.judge_eval)")


def judge_config(config: Path | None, overrides: list[str], sft_model: str, source: Path) -> Config:
    """The config that judges: the given YAML (or defaults), with model.path = the SFT model."""
    if config is not None:
        cfg = load_config(config, overrides)
    else:
        # data.ift is required by every config but unused here; the candidates file stands in.
        data: dict[str, Any] = {"model": {"path": sft_model}, "data": {"ift": str(source)}}
        cfg = config_from_dict(apply_overrides(data, overrides), "srlm data eft")
    cfg.model.path = sft_model
    return cfg
