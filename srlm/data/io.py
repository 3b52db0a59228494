"""JSONL input and output: schema-checked reads, atomic writes, resumable partial files.

Every read error names the file, the 1-based line and the field. Every write goes to a
temporary file first and ends with an atomic rename, so a reader never sees half a file; a
write that fails (disk full, permission denied) raises `WriteError` naming the file and the
reason, and leaves the previous version of the file as it was.
Generation stages append to `<artifact>.partial` and flush each batch; a torn last line left
by a kill is cut off on resume (`read_partial`).
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import os
import re
import zlib
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
    except (ValueError, RecursionError) as error:  # a 5000-digit number, nesting past the recursion limit
        raise DataError(f"{path}:{number}: unreadable JSON: {str(error) or type(error).__name__}") from None
    if not isinstance(row, dict):
        raise DataError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
    if _SURROGATE_ESCAPE.search(raw) and _has_lone_surrogate(row):
        raise DataError(f"{path}:{number}: a string holds an unpaired UTF-16 surrogate escape (not valid text)")
    return row


# "\ud800"-style escapes decode to strings that cannot be written back as UTF-8.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(row: dict[str, Any]) -> bool:
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, row) for each non-blank line; raise DataError on a bad line.

    A `.gz` file is read through gzip (public exports such as Open Assistant's ship that way).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    number = 0
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if raw.strip():
                    yield number, _decode(path, number, raw)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:  # a corrupt or cut-off .gz file
        raise DataError(f"{path}:{number + 1}: not a readable gzip file ({error})") from None


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


class WriteError(OSError):
    """A file that could not be written (disk full, no permission); its previous version is intact."""


_WRITE_REASONS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
}


def write_error(path: Path, error: OSError) -> WriteError:
    """The error to raise for a failed write of `path`: names the file and the reason."""
    reason = _WRITE_REASONS.get(error.errno or 0, error.strerror or str(error))
    detail = f" ({error.strerror})" if error.strerror and error.strerror.lower() != reason else ""
    failure = WriteError(f"cannot write {path}: {reason}{detail}; its previous version (if any) is unchanged")
    failure.errno = error.errno
    return failure


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `path` through `<path>.tmp` and a rename; on failure the old file is untouched."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise write_error(path, error) from error
        raise


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows atomically; return how many."""
    lines = [_dumps(row) + "\n" for row in rows]
    atomic_write_text(path, "".join(lines))
    return len(lines)


def append_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Append whole lines and fsync: a kill leaves at most one torn last line, a failed
    write (disk full) none: the file is cut back to its rows before the call."""
    path = Path(path)
    data = "".join(_dumps(row) + "\n" for row in rows).encode("utf-8")
    size: int | None = None
    try:
        size = path.stat().st_size if path.exists() else 0
        with path.open("ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        if size is not None:
            with contextlib.suppress(OSError):
                os.truncate(path, size)
        raise write_error(path, error) from error


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
            row = json.loads(raw)
        except (ValueError, RecursionError):  # includes JSONDecodeError and UnicodeDecodeError
            break
        if not isinstance(row, dict):
            break
        rows.append(row)
        good += len(raw)
    if good != len(data):
        with path.open("r+b") as handle:
            handle.truncate(good)
    return rows
