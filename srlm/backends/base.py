"""One generation interface, several engines.

A stage turns its rows into `GenItem`s (one sampled sequence each, with its own seed) and
hands them to an engine in the engine's fixed batches. Batches are planned over *all* items
of a stage, finished or not, so a resumed stage regenerates a batch exactly as an
uninterrupted run would have (same members, same padding, same per-row seeds). Engines that
run several batches at once (several servers, several worker processes) deal out whole
batches, never rows, so a batch's texts do not depend on how many workers there are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Message = dict[str, str]
BatchDone = Callable[[Sequence["GenItem"], list[str]], None]


class Completion(str):
    """A generated text that also says whether it was cut off at `max_new_tokens`.

    `truncated` is True when generation stopped at the token limit instead of at an end of
    sequence (HF: no eos among the new tokens; OpenAI-compatible servers: `finish_reason:
    "length"`). It is a `str`, so every caller that only wants the text keeps working; a plain
    `str` from an engine that cannot tell counts as complete (`is_truncated` is False).
    """

    truncated: bool

    def __new__(cls, text: str, truncated: bool = False) -> Completion:
        completion = super().__new__(cls, text)
        completion.truncated = truncated
        return completion

    def __reduce__(self) -> tuple[Any, ...]:  # worker processes send completions through pickle
        return (Completion, (str(self), self.truncated))


def is_truncated(text: str) -> bool:
    """Whether a generated text stopped at the token limit (False for a plain `str`)."""
    return bool(getattr(text, "truncated", False))


@dataclass(frozen=True)
class GenItem:
    id: str
    messages: tuple[Message, ...]
    seed: int


@dataclass(frozen=True)
class SamplingParams:
    temperature: float
    top_p: float
    max_new_tokens: int


class Engine(Protocol):
    def plan_batches(self, items: Sequence[GenItem]) -> list[list[GenItem]]:
        """Split items into the batches `generate_batch` will be called with (deterministic)."""
        ...

    def generate_batch(self, batch: Sequence[GenItem], params: SamplingParams) -> list[str]:
        """One completion text per item (the new text only, without the prompt); a `Completion`
        marks the texts cut off at `max_new_tokens`."""
        ...

    def close(self) -> None: ...


def generate_batches(
    engine: Engine, batches: Sequence[Sequence[GenItem]], params: SamplingParams, on_done: BatchDone
) -> None:
    """Generate planned batches, calling `on_done(batch, texts)` as each one finishes.

    An engine with its own `generate_batches` (same signature) runs several batches at once and
    may finish them in any order; any other engine runs them one by one.
    """
    run_all = getattr(engine, "generate_batches", None)
    if run_all is not None:
        run_all(batches, params, on_done)
        return
    for batch in batches:
        on_done(batch, engine.generate_batch(batch, params))


def row_seed(run_seed: int, stage: str, row_id: str) -> int:
    """A 63-bit seed from (run seed, stage, row id): the same row always samples the same way."""
    digest = hashlib.sha256(f"{run_seed}/{stage}/{row_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def user(content: str) -> tuple[Message, ...]:
    return ({"role": "user", "content": content},)
