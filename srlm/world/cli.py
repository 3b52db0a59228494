"""``srlm world``: build the world's seed sets, pretrain its base model M0.

    srlm world build --out data/world --seed 0
    srlm world pretrain --out runs/world/m0 --seed 0

The shipped M0 (``srlm.world.shipped_m0_path()``) was made by ``pretrain`` with the defaults;
its ``pretrain.json`` records both phases.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from srlm.world.pretrain import PHASES
from srlm.world.seeds import WorldSizes, build_world

TEXT, NOTES = PHASES  # the shipped M0's two pretraining phases
app = typer.Typer(help="The built-in offline world: seed sets and the tiny base model M0.", no_args_is_help=True)
console = Console()


@app.command()
def build(
    out: Annotated[Path, typer.Option("--out", help="Directory for ift/eft/judge_eval/eval/dev .jsonl")],
    seed: Annotated[int, typer.Option("--seed", help="World seed: which prompts and answers are drawn")] = 0,
    eval_prompts: Annotated[int, typer.Option("--eval-prompts", help="Held-out evaluation prompts")] = 1000,
) -> None:
    """Write the world's seed sets (IFT, EFT, judge-eval, eval, dev) as JSONL files."""
    started = time.perf_counter()
    with console.status("building the world's seed sets"):
        paths = build_world(out, seed=seed, sizes=WorldSizes(eval=eval_prompts))
    manifest = json.loads(paths.manifest.read_text())
    table = Table("file", "rows", title=f"world seed {seed} -> {out}")
    for name, count in manifest["counts"].items():
        table.add_row(f"{name}.jsonl", str(count))
    console.print(table)
    console.print(f"EFT score histogram: {manifest['eft_score_histogram']}")
    console.print(f"done in {time.perf_counter() - started:.1f} s")


@app.command()
def pretrain(
    out: Annotated[Path, typer.Option("--out", help="Directory for the HF model dir of M0")],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the initialisation and the corpus")] = 0,
    steps: Annotated[int, typer.Option("--steps", help="First phase: steps of 16 x 128 tokens")] = TEXT.steps,
    notes_steps: Annotated[int, typer.Option("--notes-steps", help="Second phase (notes); 0: none")] = NOTES.steps,
) -> None:
    """Pretrain the world's base model M0 on world text (never the seed sets), in two phases.

    The first phase's model is kept in OUT/text; a rerun skips a finished phase and resumes an
    interrupted one from its last checkpoint (one every tenth of a phase).
    """
    from srlm.world.pretrain import pretrain as run_pretrain

    text_dir = out / "text" if notes_steps else out
    if (text_dir / "pretrain.json").is_file():
        console.print(f"phase {TEXT.name}: done in {text_dir}")
    else:
        console.print(f"phase {TEXT.name}: {steps} steps (about 0.16 s each on 2 cores) -> {text_dir}")
        _report(run_pretrain(text_dir, seed=seed, steps=steps, phase=TEXT), text_dir)
    if notes_steps:
        console.print(f"phase {NOTES.name}: {notes_steps} steps from {text_dir} -> {out}")
        _report(run_pretrain(out, seed=seed, steps=notes_steps, phase=NOTES, init=text_dir), out)


def _report(stats: dict[str, float], out: Path) -> None:
    console.print(
        f"-> {out}: train loss {stats['train_loss']:.3f}, held-out loss {stats['heldout_loss']:.3f} nats, "
        f"look-up accuracy {stats['lookup_accuracy']:.2f}, {stats['seconds']:.0f} s"
    )
