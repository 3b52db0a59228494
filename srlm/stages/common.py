"""What every stage shares: resumable batched generation, progress, finishing an artifact.

A generation stage stores raw generations `{id, text}` in `<artifact>.partial`, one fsynced
append per batch (`truncated: true` marks a text cut off at `max_new_tokens`). On restart the
finished ids are kept and only batches with missing ids run again; the batch plan covers all
items, so a rerun batch is the same batch as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from srlm.backends.base import Completion, Engine, GenItem, SamplingParams, generate_batches, is_truncated
from srlm.console import console, end, log, progress
from srlm.data.io import append_jsonl, read_partial, write_jsonl
from srlm.rundir import is_done, read_manifest, write_manifest

TRUNCATION_ALARM = 0.1  # warn (and alarm in metrics.json) when more generations than this share were cut off


def partial_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + ".partial")


def already_done(artifact: Path, label: str) -> bool:
    if not is_done(artifact):
        return False
    manifest = read_manifest(artifact) or {}
    console.print(f"[dim]{label}: done earlier ({manifest.get('rows', '?')} rows), skipped[/dim]")
    return True


def stored_text(row: Mapping[str, Any]) -> str:
    """A partial file's `{id, text, truncated?}` row as the `Completion` it was generated as."""
    return Completion(row["text"], bool(row.get("truncated", False)))


def truncation_count(label: str, texts: Iterable[str]) -> int:
    """How many texts were cut off at `max_new_tokens`; a warning when that exceeds TRUNCATION_ALARM."""
    flags = [is_truncated(text) for text in texts]
    cut = sum(flags)
    if flags and cut / len(flags) > TRUNCATION_ALARM:
        console.print(
            f"[yellow]{label}: {cut} of {len(flags)} generations ({cut / len(flags):.0%}) stopped at "
            "max_new_tokens without an end of sequence; raise max_new_tokens[/yellow]"
        )
    return cut


def generate_missing(
    engine: Engine,
    items: Sequence[GenItem],
    params: SamplingParams,
    partial: Path,
    done: dict[str, str],
    advance: Callable[[int], None],
) -> None:
    """Generate the items missing from `done` (in the engine's fixed batches), appending to `partial`.

    Batches are appended as they finish (with several servers or workers, in any order); the
    rows are keyed by id, so the order in the file does not matter.
    """
    partial.parent.mkdir(parents=True, exist_ok=True)
    todo = [batch for batch in engine.plan_batches(items) if any(item.id not in done for item in batch)]

    def store(batch: Sequence[GenItem], texts: list[str]) -> None:
        new = [(it.id, text) for it, text in zip(batch, texts, strict=True) if it.id not in done]
        marks = [{"truncated": True} if is_truncated(text) else {} for _, text in new]
        append_jsonl(
            partial, [{"id": key, "text": str(text), **mark} for (key, text), mark in zip(new, marks, strict=True)]
        )
        done.update(new)
        advance(len(new))

    generate_batches(engine, todo, params, store)


def run_generation(
    engine: Engine, items: Sequence[GenItem], params: SamplingParams, partial: Path, label: str
) -> dict[str, str]:
    """Generate one text per item, resuming from `partial`; return {item id: text}."""
    wanted = {item.id for item in items}
    done = {row["id"]: stored_text(row) for row in read_partial(partial) if row.get("id") in wanted}
    with progress(label, len(items)) as advance:
        advance(len(done))
        generate_missing(engine, items, params, partial, done, advance)
    return done


def finish(
    artifact: Path,
    rows: Sequence[Mapping[str, Any]],
    *,
    stage: str,
    config_hash: str,
    inputs: list[Path],
    started: float,
    counts: Mapping[str, int] | None = None,
    engine: Engine | None = None,
    note: str = "",
    show: bool = True,
) -> Path:
    """Write the artifact atomically, then its manifest; drop the partial file; print the result line.

    A generating stage passes its `engine`: the manifest then says whether that engine promises
    the same samples on a fresh run (`reproducible_samples`: HF yes, servers no). `note` is the
    stage's key number for the result line; `show=False` keeps the line in the logs only (a part
    of a stage that prints its own result line).
    """
    write_jsonl(artifact, rows)
    seconds = round(time.perf_counter() - started, 2)
    promise = {} if engine is None else {"reproducible_samples": bool(getattr(engine, "reproducible", False))}
    write_manifest(
        artifact,
        stage=stage,
        config_hash=config_hash,
        inputs=inputs,
        rows=len(rows),
        counts=dict(counts or {}),
        seconds=seconds,
        **promise,
    )
    partial_path(artifact).unlink(missing_ok=True)
    extra = "".join(f", {k} {v}" for k, v in (counts or {}).items()) + (f"; {note}" if note else "")
    line = f"{stage}: {len(rows)} rows{extra} ({seconds:.1f} s) -> {artifact}"
    if show:
        console.print(line)
        end()
    else:
        console.to_log(line)
        log.info(line)
    return artifact
