"""`srlm ablate`: the paper's ablations and the follow-up fixes as separate runs, one table.

    srlm ablate CONFIG [--seeds 0,1,2] [--variants paper,judge_k1] [--out DIR] [--set key=value ...]

Each variant is CONFIG plus a few overrides (``VARIANTS``), run as an ordinary run dir
``<out>/<variant>-seed<s>/`` with ``loop.seed = s``; ``srlm report`` and ``srlm eval`` work on
each. Finished runs (``eval/metrics.json`` written under the same config) are skipped and an
interrupted one resumes like ``srlm run``, so rerunning the command continues the ablation. A
run that fails is reported and the others go on.

Variants that differ only after SFT start from the same M1 (and SFT baseline) for a seed: a
finished one is copied from another run of this ablation instead of trained again. This saves
the longest stage and makes the comparison cleaner: only the variant differs, not M1.

Writes ``<out>/report.html`` / ``report.md`` (every run side by side) and ``<out>/ablations.md``
(one row per variant: mean ± sd over seeds).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import shutil
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from srlm.config import Config, ConfigError, apply_overrides, config_from_dict, dump_config
from srlm.console import console
from srlm.data.io import atomic_write_text
from srlm.rundir import RunDir, is_done, manifest_path, read_manifest
from srlm.world.grammar import KINDS


@dataclass(frozen=True)
class Variant:
    overrides: tuple[str, ...]
    what: str
    world_only: bool = False  # needs the world's oracle: skipped for other configs unless asked for


VARIANTS: dict[str, Variant] = {
    "paper": Variant((), "the loop as configured (paper: IFT+EFT, k = 3, DPO on best vs worst)"),
    "ift_only": Variant(
        ("loop.ift_only=true", "loop.verdict_pairs=0"),
        "M1 trained on IFT only, without EFT (paper's ablation; no judge data in DPO either)",
    ),
    "sft_best": Variant(
        ("dpo.method=sft_best", "loop.verdict_pairs=0"),
        "SFT on each prompt's best answer instead of DPO (paper's ablation; answer pairs only)",
    ),
    "judge_k1": Variant(("judge.samples=1",), "one judgment per answer instead of k"),
    "candidates_4": Variant(("candidates.n=4",), "four answers per prompt, the paper's N"),
    "candidates_8": Variant(("candidates.n=8",), "eight answers per prompt: the judge's best and worst further apart"),
    "length_control": Variant(("pairs.length_control_rho=0.2",), "Meta-Rewarding's length-controlled pairs, ρ = 0.2"),
    "consistency": Variant(("dpo.consistency=true",), "CREAM: DPO weighted by agreement with the previous judge"),
    "pairwise": Variant(("pairs.mode=pairwise",), "pairs from both-order pairwise judging instead of scores"),
    "meta_judge": Variant(("loop.meta_judge=true",), "Meta-Rewarding: DPO also on meta-judged pairs of judgments"),
    "eft_replay": Variant(
        ("loop.eft_replay=1000",), "judge data kept: DPO also on seed vs own judgments of 1,000 EFT rows"
    ),
    "verdict_pairs": Variant(
        ("loop.verdict_pairs=1000", "loop.verdict_pairs_from=1"),
        "judge data kept, no generation: DPO also on 1,000 EFT seed judgments vs the same with one verdict flipped",
    ),
    "no_verdict_pairs": Variant(
        ("loop.verdict_pairs=0",), "no judge data in the iterations (the paper): DPO on the answer pairs alone"
    ),
    "verdict_pairs_later": Variant(
        ("loop.verdict_pairs=2000", "loop.verdict_pairs_from=2"),
        "judge data from iteration 2 on: 2,000 flipped-verdict pairs in the DPO of iteration 2 and later only",
    ),
    "dpo_grouped": Variant(
        ("dpo.group_by_length=true",), "DPO batches of pairs of similar length (less padding), not random ones"
    ),
    "dpo_random": Variant(("dpo.group_by_length=false",), "DPO batches drawn at random (TRL's default)"),
    "dpo_interpolated": Variant(
        ("dpo.interpolation=0.7",),
        "each DPO model moved back toward its start: M(t+1) = M(t) + 0.7 (trained - M(t)) (WiSE-FT, WARP's LERP)",
    ),
    "no_interpolation": Variant(("dpo.interpolation=1",), "each DPO model kept as trained (the paper)"),
    "anchored_rejection": Variant(
        ("pairs.anchored_rejection=true", "pairs.length_control_rho=null"),
        "Temporal Self-Rewarding: from iteration 2, rejected = the worst of M1's answers to the same prompt",
    ),
    "oracle_pairs": Variant(("pairs.source=oracle",), "control: the oracle's pairs, not the judge's", world_only=True),
    "no_nll": Variant(("dpo.nll_weight=0",), "plain DPO, without the NLL term on the chosen answer"),
    "synthetic_eft": Variant(
        ("world.eft_model_answers=0",),
        "EFT answers from the world's flaw generator only, none written by a model",
        True,
    ),
    "more_model_eft": Variant(
        ("world.eft_model_answers=6",),
        "six answers per EFT prompt sampled from the IFT-only model and judged by the oracle (the default: two)",
        True,
    ),
    "clean_word": Variant(
        ("world.clean_line=word",),
        "EFT judgments whose clean yes line names the answer's first word (`clean : the one , yes`)",
        True,
    ),
    "all_rules": Variant(
        (f"world.rules=[{', '.join(KINDS)}]",),
        "instructions of all ten constraint kinds, with list n items, say W n times and A before B",
        True,
    ),
    "weak_dpo": Variant(
        (
            "dpo.learning_rate=3e-5",
            "dpo.min_learning_rate=3e-6",
            "dpo.epochs=1",
            "dpo.warmup_ratio=0",
            "dpo.nll_weight=0",
        ),
        "the earlier DPO budget: lr 3e-5, one epoch, no warm-up, no NLL",
    ),
}


class AblationError(RuntimeError):
    """Some runs of the ablation failed; the others finished and are in the table."""


def parse_list(text: str, what: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ConfigError(f"--{what}: expected a comma-separated list, got {text!r}")
    return items


def variant_config(base: dict[str, Any], name: str, seed: int, out: Path) -> Config:
    """The config of one run: base + the variant's overrides + its seed and run dir."""
    extra = [f"loop.seed={seed}", f"loop.run_dir={out / f'{name}-seed{seed}'}"]
    data = apply_overrides(copy.deepcopy(base), [*VARIANTS[name].overrides, *extra])
    return config_from_dict(data, f"variant {name}, seed {seed}")


def is_finished(cfg: Config) -> bool:
    """Evaluated (eval/metrics.json is the last thing a run writes) under this very config."""
    root = Path(cfg.loop.run_dir)
    stored = root / "config.yaml"
    if not (root / "eval" / "metrics.json").is_file() or not stored.is_file():
        return False
    return yaml.safe_load(stored.read_text(encoding="utf-8")) == yaml.safe_load(dump_config(cfg))


def sft_key(cfg: Config, model: str) -> str:
    """What an SFT model dir (m1 / sft_baseline) depends on, with the run dir factored out."""
    data = cfg.to_dict()
    inputs = {name: data[name] for name in ("model", "data", "sft", "world")}
    inputs |= {"judge_template": cfg.judge.template, "seed": cfg.loop.seed, "model_dir": model}
    inputs["ift_only"] = model == "sft_baseline" or cfg.loop.ift_only
    text = json.dumps(inputs, sort_keys=True).replace(str(Path(cfg.loop.run_dir)), "<run_dir>")
    return hashlib.sha256(text.encode()).hexdigest()


def share_sft(cfg: Config, others: list[Config]) -> None:
    """Copy a finished m1 / sft_baseline with the same SFT inputs from another run, if any."""
    names = ["m1"] + (["sft_baseline"] if cfg.loop.sft_baseline else [])
    for name in names:
        target = Path(cfg.loop.run_dir) / name
        if is_done(target):
            continue
        for other in others:
            source = Path(other.loop.run_dir) / name
            if other is not cfg and is_done(source) and sft_key(other, name) == sft_key(cfg, name):
                tmp = target.with_name(name + ".copying")
                shutil.rmtree(tmp, ignore_errors=True)
                shutil.copytree(source, tmp)
                shutil.rmtree(target, ignore_errors=True)
                os.replace(tmp, target)
                shutil.copy2(manifest_path(source), manifest_path(target))
                console.print(f"[dim]{target}: same SFT inputs as {source}, copied[/dim]")
                break


def _final(metrics: dict[str, Any]) -> str:
    trained = [name for name in metrics.get("models", {}) if name[1:].isdigit()]
    return max(trained, key=lambda name: int(name[1:]), default="m1")


def _win_rate(metrics: dict[str, Any], a: str, b: str) -> float | None:
    entries = [e for e in metrics.get("head_to_head", []) if (e["a"], e["b"]) == (a, b)]
    entries.sort(key=lambda e: e["judge"] != "oracle")  # the oracle first, where there is one
    return entries[0]["win_rate"] if entries else None


def run_summary(cfg: Config) -> dict[str, Any]:
    """One run's numbers for the table, from its files."""
    rd = RunDir(Path(cfg.loop.run_dir))
    metrics = json.loads((rd.root / "eval" / "metrics.json").read_text(encoding="utf-8"))
    final = _final(metrics)
    model = metrics.get("models", {}).get(final, {})
    pairs = [(read_manifest(rd.artifact(t, "pairs")) or {}).get("rows") for t in range(1, cfg.loop.iterations + 1)]
    return {
        "final": final,
        "stopped_early": (metrics.get("stopped_early") or {}).get("iteration"),
        "pairs": [n or 0 for n in pairs],
        "oracle": model.get("oracle_score_mean"),
        "vs_m1": _win_rate(metrics, final, "m1") if final != "m1" else None,
        "vs_baseline": _win_rate(metrics, final, "sft_baseline"),
        "judge_accuracy": (model.get("judge") or {}).get("pairwise_accuracy"),
    }


def _stat(values: list[Any], digits: int = 2) -> str:
    numbers = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not numbers:
        return "–"
    mean = f"{statistics.fmean(numbers):.{digits}f}"
    return mean + (f" ± {statistics.stdev(numbers):.{digits}f}" if len(numbers) > 1 else "")


TABLE_HEADER = [
    "variant", "switch", "runs", "stopped early", "pairs per iteration", "final model", "oracle mean",
    "final vs M1", "final vs SFT baseline", "judge pairwise acc.",
]  # fmt: skip


def table_row(name: str, summaries: list[dict[str, Any]]) -> list[str]:
    """Mean ± sd over seeds (sd only with more than one finished seed)."""
    iterations = max((len(s["pairs"]) for s in summaries), default=0)
    pairs = " / ".join(_stat([s["pairs"][t] for s in summaries if t < len(s["pairs"])], 1) for t in range(iterations))
    stopped = [f"it. {s['stopped_early']}" for s in summaries if s["stopped_early"]]
    return [
        name,
        ", ".join(f"`{item}`" for item in VARIANTS[name].overrides) or "(none)",
        str(len(summaries)),
        ", ".join(stopped) or "no",
        pairs or "–",
        ", ".join(sorted({s["final"] for s in summaries})),
        _stat([s["oracle"] for s in summaries]),
        _stat([s["vs_m1"] for s in summaries]),
        _stat([s["vs_baseline"] for s in summaries]),
        _stat([s["judge_accuracy"] for s in summaries]),
    ]


def write_table(path: Path, config: Path, seeds: list[int], rows: list[list[str]], failed: list[str]) -> None:
    lines = [
        f"# Ablations of {config}",
        "",
        f"Seeds {', '.join(map(str, seeds))}; each cell is the mean ± sd over the finished seeds. Win rates are",
        "the final model's head to head (oracle where there is one; a tie counts half). Runs:",
        f"`{path.parent}/<variant>-seed<s>/`; every run side by side: `report.html`.",
        "",
        "| " + " | ".join(TABLE_HEADER) + " |",
        "|" + "---|" * len(TABLE_HEADER),
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]
    if failed:
        lines += ["Failed runs (rerun the command to retry):", "", *(f"- {item}" for item in failed), ""]
    atomic_write_text(path, "\n".join(lines))


def _with(base: dict[str, Any], name: str) -> dict[str, Any]:
    """The validated config of a variant, as a dict (no seed or run dir of its own)."""
    return config_from_dict(apply_overrides(copy.deepcopy(base), list(VARIANTS[name].overrides)), name).to_dict()


def applicable(base: dict[str, Any]) -> list[str]:
    """The variants a config can run, `paper` first: the world-only ones need the world, and a variant
    that would not change the config (it already has those settings) is left out."""
    paper = _with(base, "paper")
    return [
        name
        for name, variant in VARIANTS.items()
        if (base.get("world") is not None or not variant.world_only) and (name == "paper" or _with(base, name) != paper)
    ]


def run_ablations(
    config: Path, overrides: list[str], seeds: list[int], names: list[str] | None, out: Path
) -> tuple[Path, list[str]]:
    """Run every (variant, seed) not yet finished; write the report and the table. Returns (table, failures).

    `names` None: every variant the config can run (`applicable`).
    """
    from srlm.loop import run as run_loop
    from srlm.report import write_report

    unknown = [name for name in names or [] if name not in VARIANTS]
    if unknown:
        raise ConfigError(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    if not config.is_file():
        raise ConfigError(f"config file not found: {config}")
    base = apply_overrides(yaml.safe_load(config.read_text(encoding="utf-8")) or {}, overrides)
    names = names or applicable(base)
    plan = [(name, variant_config(base, name, seed, out)) for seed in seeds for name in names]
    failed = []
    for name, cfg in plan:
        if is_finished(cfg):
            console.print(f"[dim]{cfg.loop.run_dir}: finished earlier, skipped[/dim]")
            continue
        console.print(f"[bold]ablation: {name}, seed {cfg.loop.seed} -> {cfg.loop.run_dir}[/bold]")
        try:
            share_sft(cfg, [other for _, other in plan])
            run_loop(cfg)
        except Exception as error:  # one failed variant must not cost the hours spent on the others
            failed.append(f"{cfg.loop.run_dir}: {type(error).__name__}: {error}")
            console.print(f"[red]{failed[-1]}[/red]")
    finished = [(name, cfg) for name, cfg in plan if is_finished(cfg)]
    if finished:
        console.print(f"report -> {write_report([Path(cfg.loop.run_dir) for _, cfg in finished], out_dir=out)}")
    rows = [table_row(name, [run_summary(cfg) for n, cfg in finished if n == name]) for name in names]
    table = out / "ablations.md"
    write_table(table, config, seeds, rows, failed)
    console.print(f"table -> {table}")
    return table, failed
