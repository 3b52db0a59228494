"""JSONL input and output: schema-checked reads, atomic writes, resumable partial files.

Every read error names the file, the 1-based line and the field. Every write goes to a
temporary file first and ends with an atomic rename, so a reader never sees half a file.
Generation stages append to `<artifact>.partial` and flush each batch; a torn last line left
by a kill is cut off on resume (`read_partial`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any


class DataError(ValueError):
    """Unusable input data; the message says file, line and field."""


def _decode(path: Path, number: int, raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}:{number}: not valid UTF-8 ({error.reason} at byte {error.start})") from None
    try:
        row = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"{path}:{number}: malformed JSON: {error.msg} (column {error.colno})") from None
    if not isinstance(row, dict):
        raise DataError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
    return row


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, row) for each non-blank line; raise DataError on a bad line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield number, _decode(path, number, raw)


def check_fields(
    path: Path | str,
    number: int,
    row: Mapping[str, Any],
    fields: Mapping[str, type],
    may_be_blank: Collection[str] = (),
) -> None:
    """Each named field must be present, of the given type, and (strings) not blank unless allowed."""
    for name, kind in fields.items():
        if name not in row:
            raise DataError(f"{path}:{number}: missing field '{name}'")
        value = row[name]
        if not isinstance(value, kind):
            raise DataError(f"{path}:{number}: field '{name}' must be {kind.__name__}, got {type(value).__name__}")
        if isinstance(value, str) and not value.strip() and name not in may_be_blank:
            raise DataError(f"{path}:{number}: field '{name}' is empty")


def read_rows(
    path: str | Path, fields: Mapping[str, type] | None = None, may_be_blank: Collection[str] = ()
) -> list[dict[str, Any]]:
    """Read a JSONL file or a `datasets` directory (save_to_disk), checking `fields` on every row."""
    path = Path(path)
    if path.is_dir():
        rows = _read_dataset_dir(path)
        numbered: Iterable[tuple[int, dict[str, Any]]] = enumerate(rows, start=1)
    else:
        numbered = iter_jsonl(path)
    out = []
    for number, row in numbered:
        if fields:
            check_fields(path, number, row, fields, may_be_blank)
        out.append(row)
    return out


def _read_dataset_dir(path: Path) -> list[dict[str, Any]]:
    import datasets  # heavy: only for users who keep data as a datasets directory

    try:
        loaded = datasets.load_from_disk(str(path))
    except FileNotFoundError as error:
        raise DataError(f"{path}: not a datasets directory ({error})") from None
    if isinstance(loaded, datasets.DatasetDict):
        if "train" not in loaded:
            raise DataError(f"{path}: a DatasetDict needs a 'train' split, found {list(loaded)}")
        loaded = loaded["train"]
    return [dict(row) for row in loaded]


def _dumps(row: Mapping[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=False)


def atomic_write_text(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows atomically; return how many."""
    lines = [_dumps(row) + "\n" for row in rows]
    atomic_write_text(path, "".join(lines))
    return len(lines)


def append_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Append whole lines and fsync: a kill leaves at most one torn last line."""
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write("".join(_dumps(row) + "\n" for row in rows))
        handle.flush()
        os.fsync(handle.fileno())


def read_partial(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a partial file; a torn (unterminated or unparsable) last line is cut off."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    keep = data[: data.rfind(b"\n") + 1]
    rows = []
    good = 0
    for raw in keep.splitlines(keepends=True):
        try:
            rows.append(json.loads(raw))
        except (json.JSONDecodeError, UnicodeDecodeError):
            break
        good += len(raw)
    if good != len(data):
        with path.open("r+b") as handle:
            handle.truncate(good)
    return rows
