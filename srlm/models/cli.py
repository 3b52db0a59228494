"""``srlm model``: bring a model into the Hugging Face dir format every stage reads.

    srlm model import path/to/model.gguf models/my-model
    srlm model import smollm2 models/smollm2-135m-instruct

See ``srlm.models.gguf`` for what the import fixes and checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from srlm.console import console
from srlm.data.io import WriteError
from srlm.models.loading import ModelError

app = typer.Typer(help="Import models: GGUF -> a Hugging Face model dir.", no_args_is_help=True)


@app.command("import")
def import_(
    source: Annotated[str, typer.Argument(help="a .gguf file, or a packaged model name: smollm2")],
    out_dir: Annotated[Path, typer.Argument(help="the HF model dir to write (safetensors, float32)")],
    max_new_tokens: Annotated[int, typer.Option(min=1, help="greedy tokens compared per check prompt")] = 16,
) -> None:
    """Dequantize a GGUF causal LM to a float32 HF model dir; exit 1 if greedy generation differs."""
    from srlm.models.gguf import import_gguf, resolve_source

    try:
        gguf = resolve_source(source)
        with console.status(f"importing {gguf.name} (dequantizing to float32)"):
            result = import_gguf(gguf, out_dir, max_new_tokens=max_new_tokens)
    except (ModelError, WriteError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    for note in result.notes:
        console.print(escape(note))
    table = Table("prompt", "greedy equal", "saved dir generates", title=f"check: {gguf.name} vs {out_dir}")
    for row in result.check:
        table.add_row(escape(row.prompt), "yes" if row.equal else "[red]NO[/red]", escape(row.text))
    console.print(table)
    if not result.passed:
        console.print(f"[red]check failed: the saved model generates differently; {out_dir} not written[/red]")
        raise typer.Exit(1)
    console.print(f"check passed ({len(result.check)} prompts); {out_dir} written in {result.seconds:.0f} s")
