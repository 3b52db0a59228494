"""alpaca_eval's file formats: prompt sets (a JSON array of `{instruction, dataset?}` objects).

srlm reads them as evaluation prompts and writes each model's answers as
`[{instruction, output, generator}]` (`eval/<model>/alpaca_eval.json`) for the official tool.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from srlm.data.io import DataError


def is_json_array(path: Path) -> bool:
    """Whether a file's first non-blank character is `[` (alpaca_eval's JSON, not JSONL)."""
    if not path.is_file():
        return False
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"[")


def read_alpaca_eval(path: Path) -> list[dict[str, Any]]:
    """alpaca_eval's prompt file: a JSON array of objects, each with a non-empty `instruction`."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a valid alpaca_eval JSON array ({error})") from None
    for index, entry in enumerate(entries):
        where = f"{path}: entry [{index}]"
        if not isinstance(entry, dict):
            raise DataError(f"{where} must be a JSON object, got {type(entry).__name__}")
        text = entry.get("instruction")
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{where} has no 'instruction' text")
        if not isinstance(entry.get("dataset", ""), str):
            raise DataError(f"{where}: field 'dataset' must be a string")
    return list(entries)
