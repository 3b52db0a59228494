from __future__ import annotations

from pathlib import Path

import pytest

from srlm.data.io import DataError, append_jsonl, read_partial, read_rows, write_jsonl

FIELDS = {"prompt": str, "response": str}


def lines(tmp_path: Path, *raw: bytes) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_bytes(b"\n".join(raw) + b"\n")
    return path


def test_reads_good_rows_and_skips_blank_lines(tmp_path: Path) -> None:
    path = lines(tmp_path, b'{"prompt": "a", "response": "b"}', b"", b'{"prompt": "c", "response": "d"}')
    assert [r["prompt"] for r in read_rows(path, FIELDS)] == ["a", "c"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"prompt": "a", "response": ', r"data\.jsonl:2: malformed JSON"),
        (b'{"prompt": "a"}', r"data\.jsonl:2: missing field 'response'"),
        (b'{"prompt": "a", "response": 3}', r"data\.jsonl:2: field 'response' must be str, got int"),
        (b'{"prompt": "  ", "response": "b"}', r"data\.jsonl:2: field 'prompt' is empty"),
        (b'{"prompt": "a", "response": ""}', r"data\.jsonl:2: field 'response' is empty"),
        (b'["prompt"]', r"data\.jsonl:2: expected a JSON object"),
        (b'{"prompt": "\xff\xfe", "response": "b"}', r"data\.jsonl:2: not valid UTF-8"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path: Path, raw: bytes, message: str) -> None:
    path = lines(tmp_path, b'{"prompt": "ok", "response": "ok"}', raw)
    with pytest.raises(DataError, match=message):
        read_rows(path, FIELDS)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_rows(tmp_path / "nope.jsonl")


def test_write_is_atomic_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    rows = [{"prompt": "é <script>", "response": "x"}]
    assert write_jsonl(path, rows) == 1
    assert read_rows(path) == rows
    assert not list(tmp_path.glob("*.tmp"))


def test_partial_cuts_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "x.partial"
    append_jsonl(path, [{"id": "a", "text": "1"}, {"id": "b", "text": "2"}])
    with path.open("ab") as handle:
        handle.write(b'{"id": "c", "te')
    assert [r["id"] for r in read_partial(path)] == ["a", "b"]
    append_jsonl(path, [{"id": "c", "text": "3"}])
    assert [r["id"] for r in read_partial(path)] == ["a", "b", "c"]


def test_datasets_directory(tmp_path: Path) -> None:
    import datasets

    datasets.Dataset.from_list([{"prompt": "p", "response": "r"}]).save_to_disk(str(tmp_path / "ds"))
    assert read_rows(tmp_path / "ds", FIELDS) == [{"prompt": "p", "response": "r"}]
