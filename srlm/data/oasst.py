"""Open Assistant message trees -> srlm's IFT rows and EFT candidates, as the paper built them.

    srlm data oasst --input 2023-04-12_oasst_ready.trees.jsonl.gz --out data/oasst
    srlm data oasst --input OpenAssistant/oasst1 --out data/oasst    (a `datasets` name or saved dir)

Both public layouts are read: flat message rows (oasst1/oasst2 on the hub, `*.messages.jsonl`)
and the nested tree export (`*.trees.jsonl`: one tree per line, a `prompt` with nested `replies`).
Only first turns are used: a root prompter message and its direct assistant replies.

- `ift.jsonl` {id, prompt, response}: a prompt with its human rank-0 answer (paper: 3,200 rows).
- `eft_candidates.jsonl` {id, prompt, responses, ranks, message_ids}: prompts with at least two
  ranked answers, best first, with the human ranks; `srlm data eft` judges and filters them.

IFT and EFT never share a prompt: prompts are put in a seeded hash order of their message ids
(independent of the input's order and layout), the first `eft_share` of those with two or more
ranked answers become EFT candidates, and the rest of the prompts with a rank-0 answer become IFT.
Deleted messages, messages that failed review, other languages, trees not ready for export and
repeated prompt texts are skipped and counted. Departure: the paper does not say how it split the
prompts between IFT and EFT; `eft_share` makes that choice visible.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from srlm.data.io import DataError, iter_jsonl, write_jsonl

ROLES = ("prompter", "assistant")
READY = "ready_for_export"
SKIPS = (  # what is skipped, and counted
    "tree_not_ready",
    "deleted_prompt",
    "failed_review_prompt",
    "other_language_prompt",
    "empty_prompt",
    "duplicate_prompt",
    "deleted_answer",
    "failed_review_answer",
    "other_language_answer",
    "empty_answer",
    "unranked_answer",
    "prompt_without_usable_answer",
    "later_turn_messages",
    "orphan_messages",
    "root_not_prompter",
)


@dataclass(frozen=True)
class Message:
    """One Open Assistant message, whichever layout it came from."""

    message_id: str
    parent_id: str | None
    role: str
    text: str
    lang: str | None
    rank: int | None
    deleted: bool
    review_result: bool | None
    tree_state: str | None
    where: str  # file:line (and field path) for messages that must be named in an error


def _optional(raw: dict[str, Any], name: str, kinds: tuple[type, ...], where: str, prefix: str) -> Any:
    value = raw.get(name)
    # bool is an int to Python, but a `rank: true` is a broken row, not rank 1.
    if value is not None and (not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds)):
        names = " or ".join(k.__name__ for k in kinds)
        raise DataError(f"{where}: field '{prefix}{name}' must be {names} or null, got {type(value).__name__}")
    return value


def _rank(raw: dict[str, Any], where: str, prefix: str) -> int | None:
    """`rank` is an int, or an integral float (hub parquet files store the nullable int as float)."""
    value = _optional(raw, "rank", (int, float), where, prefix)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if not value.is_integer():
            raise DataError(f"{where}: field '{prefix}rank' must be a whole number, got {value}")
        value = int(value)
    if value is not None and value < 0:
        raise DataError(f"{where}: field '{prefix}rank' must not be negative, got {value}")
    return value


def parse_message(raw: Any, where: str, prefix: str = "", tree_state: str | None = None) -> Message:
    """Validate one message object; errors name `where` and the field (with its path in a tree)."""
    if not isinstance(raw, dict):
        raise DataError(f"{where}: field '{prefix.rstrip('.')}' must be an object, got {type(raw).__name__}")
    for name in ("message_id", "role", "text"):
        if not isinstance(raw.get(name), str):
            got = "nothing" if name not in raw else type(raw[name]).__name__
            raise DataError(f"{where}: field '{prefix}{name}' must be a string, got {got}")
    if not raw["message_id"].strip():
        raise DataError(f"{where}: field '{prefix}message_id' is empty")
    if raw["role"] not in ROLES:
        raise DataError(f"{where}: field '{prefix}role' must be 'prompter' or 'assistant', got {raw['role']!r}")
    state = _optional(raw, "tree_state", (str,), where, prefix)
    return Message(
        message_id=raw["message_id"],
        parent_id=_optional(raw, "parent_id", (str,), where, prefix),
        role=raw["role"],
        text=raw["text"],
        lang=_optional(raw, "lang", (str,), where, prefix),
        rank=_rank(raw, where, prefix),
        deleted=bool(_optional(raw, "deleted", (bool,), where, prefix)),
        review_result=_optional(raw, "review_result", (bool,), where, prefix),
        tree_state=tree_state if tree_state is not None else state,
        where=f"{where} ({prefix.rstrip('.') or 'row'})",
    )


def flatten_tree(row: dict[str, Any], where: str) -> Iterator[Message]:
    """The messages of one nested tree (`prompt` with `replies`), depth first, parents first."""
    state = _optional(row, "tree_state", (str,), where, "")
    if row.get("prompt") is None:
        return
    stack: list[tuple[Any, str, str | None]] = [(row["prompt"], "prompt.", None)]
    while stack:
        raw, prefix, parent = stack.pop()
        message = parse_message(raw, where, prefix, tree_state=state)
        if parent is not None and message.parent_id not in (None, parent):
            raise DataError(f"{where}: field '{prefix}parent_id' is {message.parent_id!r}, its tree parent {parent!r}")
        yield replace(message, parent_id=parent)
        replies = _optional(raw, "replies", (list,), where, prefix) or []
        indexed = reversed(list(enumerate(replies)))  # reversed: the stack pops the first reply first
        stack += [(reply, f"{prefix}replies[{i}].", message.message_id) for i, reply in indexed]


def messages_from_rows(rows: Iterable[tuple[str, dict[str, Any]]]) -> Iterator[Message]:
    """Messages of (where, row) pairs in either layout: a tree row has a `prompt` object."""
    for where, row in rows:
        if "message_tree_id" in row and "prompt" in row:
            yield from flatten_tree(row, where)
        elif "message_id" in row:
            yield parse_message(row, where)
        else:
            raise DataError(
                f"{where}: neither a message (field 'message_id') nor a tree (fields 'message_tree_id', 'prompt')"
            )


def _dataset_rows(source: str) -> Iterator[tuple[str, dict[str, Any]]]:
    import datasets  # heavy: only for hub names and saved datasets directories

    path = Path(source)
    try:
        loaded = datasets.load_from_disk(str(path)) if path.is_dir() else datasets.load_dataset(source)
    except (FileNotFoundError, ValueError, ConnectionError) as error:
        raise DataError(f"{source}: cannot load as a file, a datasets directory or a dataset name ({error})") from None
    splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [("train", loaded)]
    for split, dataset in splits:  # every split: the paper's counts use the whole release
        for index, row in enumerate(dataset, start=1):
            yield f"{source}[{split}]:{index}", dict(row)


def read_messages(source: str | Path) -> list[Message]:
    """All messages of a JSONL(.gz) file in either layout, a saved `datasets` dir or a dataset name."""
    path = Path(source)
    if path.is_file():
        rows: Iterable[tuple[str, dict[str, Any]]] = ((f"{path}:{n}", row) for n, row in iter_jsonl(path))
    else:
        rows = _dataset_rows(str(source))
    return list(messages_from_rows(rows))


@dataclass
class SeedSets:
    ift: list[dict[str, Any]]
    eft: list[dict[str, Any]]
    counts: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class _Prompt:
    root: Message
    ranked: list[Message]  # usable answers with a human rank, best first

    @property
    def ift_ok(self) -> bool:
        return bool(self.ranked) and self.ranked[0].rank == 0

    @property
    def eft_ok(self) -> bool:
        return len(self.ranked) >= 2


def _skip_reason(message: Message, lang: str, kind: str) -> str | None:
    if message.deleted:
        return f"deleted_{kind}"
    if message.review_result is False:
        return f"failed_review_{kind}"
    if message.lang != lang:
        return f"other_language_{kind}"
    if not message.text.strip():
        return f"empty_{kind}"
    return None


def order_key(seed: int, message_id: str) -> str:
    """The seeded position of a prompt: a hash, so the input's order and layout do not matter."""
    return hashlib.sha256(f"{seed}/oasst/{message_id}".encode()).hexdigest()


def _index(messages: list[Message], counts: Counter[str]) -> tuple[list[Message], dict[str, list[Message]]]:
    by_id: dict[str, Message] = {}
    for message in messages:
        if (first := by_id.get(message.message_id)) is not None:
            raise DataError(f"{message.where}: message_id {message.message_id!r} is also at {first.where}")
        by_id[message.message_id] = message
    children: dict[str, list[Message]] = defaultdict(list)
    roots = []
    for message in messages:
        if message.parent_id is None and message.role == "prompter":
            roots.append(message)
        elif message.parent_id is None:
            counts["root_not_prompter"] += 1
        elif message.parent_id not in by_id:
            counts["orphan_messages"] += 1
        else:
            children[message.parent_id].append(message)
            if by_id[message.parent_id].parent_id is not None:
                counts["later_turn_messages"] += 1  # only first turns are used
    return roots, children


def _usable_prompts(messages: list[Message], lang: str, seed: int, counts: Counter[str]) -> list[_Prompt]:
    """First-turn prompts that pass the filters, in seeded order, each with its ranked answers."""
    roots, children = _index(messages, counts)
    counts["trees"] = len(roots)
    prompts, seen_texts = [], set()
    for root in sorted(roots, key=lambda m: order_key(seed, m.message_id)):
        if root.tree_state not in (None, READY):
            counts["tree_not_ready"] += 1
            continue
        if reason := _skip_reason(root, lang, "prompt"):
            counts[reason] += 1
            continue
        text_key = " ".join(root.text.split()).casefold()
        if text_key in seen_texts:
            counts["duplicate_prompt"] += 1
            continue
        seen_texts.add(text_key)
        ranked = []
        for answer in (c for c in children[root.message_id] if c.role == "assistant"):
            if reason := _skip_reason(answer, lang, "answer") or ("unranked_answer" if answer.rank is None else None):
                counts[reason] += 1
            else:
                ranked.append(answer)
        prompt = _Prompt(root, sorted(ranked, key=lambda m: (m.rank, m.message_id)))
        if prompt.ift_ok or prompt.eft_ok:
            prompts.append(prompt)
        else:
            counts["prompt_without_usable_answer"] += 1
    return prompts


def build_seed_sets(
    messages: list[Message], *, lang: str = "en", seed: int = 0, eft_share: float = 0.5, ift_size: int | None = None
) -> SeedSets:
    """Split the usable first-turn prompts into IFT rows and EFT candidates (disjoint), with counts."""
    if not 0 <= eft_share <= 1:
        raise ValueError(f"eft_share must be in [0, 1], got {eft_share}")
    counts: Counter[str] = Counter(dict.fromkeys(SKIPS, 0))  # zeros are reported too
    counts["messages"] = len(messages)
    prompts = _usable_prompts(messages, lang, seed, counts)
    eft_eligible = [p for p in prompts if p.eft_ok]
    eft = eft_eligible[: round(eft_share * len(eft_eligible))]
    eft_ids = {p.root.message_id for p in eft}
    ift = [p for p in prompts if p.ift_ok and p.root.message_id not in eft_ids]
    if ift_size is not None and len(ift) > ift_size:
        counts["ift_over_size"] = len(ift) - ift_size
        ift = ift[:ift_size]
    counts.update(usable_prompts=len(prompts), eft_eligible_prompts=len(eft_eligible))
    sets = SeedSets(
        ift=[
            {"id": p.root.message_id, "prompt": p.root.text.strip(), "response": p.ranked[0].text.strip()} for p in ift
        ],
        eft=[
            {
                "id": p.root.message_id,
                "prompt": p.root.text.strip(),
                "responses": [a.text.strip() for a in p.ranked],
                "ranks": [a.rank for a in p.ranked],
                "message_ids": [a.message_id for a in p.ranked],
            }
            for p in eft
        ],
        counts=counts,
    )
    counts.update(ift=len(sets.ift), eft_prompts=len(sets.eft), eft_answers=sum(len(r["ranks"]) for r in sets.eft))
    return sets


def write_seed_sets(sets: SeedSets, out_dir: Path, source: str, settings: dict[str, Any]) -> dict[str, Path]:
    """Write `ift.jsonl` and `eft_candidates.jsonl` atomically, each with its manifest."""
    from srlm.rundir import write_manifest

    out_dir = Path(out_dir)
    digest = hashlib.sha256(repr(sorted(settings.items())).encode()).hexdigest()[:16]
    inputs = [Path(source)] if Path(source).exists() else []  # a hub name has no file to hash
    paths = {"ift": out_dir / "ift.jsonl", "eft_candidates": out_dir / "eft_candidates.jsonl"}
    for name, rows in (("ift", sets.ift), ("eft_candidates", sets.eft)):
        write_jsonl(paths[name], rows)
        write_manifest(
            paths[name],
            stage="data oasst",
            config_hash=digest,
            inputs=inputs,
            rows=len(rows),
            counts=dict(sets.counts),
            source=source,
            settings=settings,
        )
    return paths
