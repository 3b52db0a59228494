"""alpaca_eval interop: its JSON prompt files are evaluation prompts; answers export in its format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from srlm.config import config_from_dict
from srlm.data.io import DataError
from srlm.rundir import RunDir
from srlm.stages import evaluate
from srlm.stages.evaluate_metrics import model_file
from tests.helpers import tiny_config, write_jsonl

ALPACA = [
    {"instruction": "What is the capital of France?", "dataset": "helpful_base", "output": "Paris.", "generator": "x"},
    {"instruction": "Write a haiku about <b>rain</b> & wind.", "dataset": "koala"},
    {"instruction": "List three primes."},  # dataset is optional
]


def _prompts(tmp_path: Path, *files: Path, **eval_section: Any) -> tuple[Path, list[dict[str, str]]]:
    cfg = config_from_dict(
        tiny_config(tmp_path, tmp_path / "m0", eval={"prompts": [str(f) for f in files], **eval_section})
    )
    return evaluate.eval_prompts(cfg)


def _write_json(path: Path, value: Any, indent: int | None = 2) -> Path:
    path.write_text(json.dumps(value, indent=indent), encoding="utf-8")
    return path


def test_alpaca_eval_json_array_is_read_as_prompts(tmp_path: Path) -> None:
    source = _write_json(tmp_path / "alpaca_eval.json", ALPACA)
    path, prompts = _prompts(tmp_path, source)
    assert path == source
    assert prompts == [
        {"id": "e0", "prompt": "What is the capital of France?"},
        {"id": "e1", "prompt": "Write a haiku about <b>rain</b> & wind."},
        {"id": "e2", "prompt": "List three primes."},
    ]
    # Ids are index-based, hence stable: the same file read again (even written on one line) gives the same ids.
    assert _prompts(tmp_path, _write_json(tmp_path / "one_line.json", ALPACA, indent=None))[1] == prompts
    assert _prompts(tmp_path, source, max_prompts=2)[1] == prompts[:2]


def test_alpaca_eval_file_and_jsonl_mix_with_unique_ids(tmp_path: Path) -> None:
    jsonl = write_jsonl(tmp_path / "extra.jsonl", [{"prompt": "jsonl prompt"}, {"instruction": "jsonl instruction"}])
    alpaca = _write_json(tmp_path / "alpaca.json", ALPACA[:2])
    path, prompts = _prompts(tmp_path, jsonl, alpaca)
    assert path == jsonl
    assert [p["id"] for p in prompts] == ["e0", "e1", "e2", "e3"]
    assert [p["prompt"] for p in prompts] == [
        "jsonl prompt",
        "jsonl instruction",
        ALPACA[0]["instruction"],
        ALPACA[1]["instruction"],
    ]


def test_explicit_ids_are_kept(tmp_path: Path) -> None:
    source = _write_json(tmp_path / "ids.json", [{"id": "q7", "instruction": "a"}, {"instruction": "b"}])
    assert [p["id"] for p in _prompts(tmp_path, source)[1]] == ["q7", "e1"]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"instruction": "ok"}, {"dataset": "koala"}], r"bad\.json: entry \[1\] has no 'instruction' text"),
        ([{"instruction": "ok"}, {"instruction": "ok 2"}, {"instruction": "  "}], r"entry \[2\] has no 'instruction'"),
        ([{"instruction": 3}], r"entry \[0\] has no 'instruction'"),
        ([{"instruction": "ok"}, "just a string"], r"entry \[1\] must be a JSON object, got str"),
        ([{"instruction": "ok", "dataset": 5}], r"entry \[0\]: field 'dataset' must be a string"),
    ],
)
def test_bad_alpaca_eval_entries_name_file_index_and_field(tmp_path: Path, entries: list[Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        _prompts(tmp_path, _write_json(tmp_path / "bad.json", entries))


def test_malformed_alpaca_eval_json_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('[{"instruction": "a"},', encoding="utf-8")
    with pytest.raises(DataError, match=r"broken\.json: not a valid alpaca_eval JSON array"):
        _prompts(tmp_path, broken)


def test_jsonl_row_without_text_names_its_own_file_and_line(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [{"prompt": "fine"}])
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "fine"}, {"text": "wrong field"}])
    with pytest.raises(DataError, match=r"bad\.jsonl: row 2 has no 'prompt' \(or 'instruction'\) text"):
        _prompts(tmp_path, good, bad)


def test_export_writes_alpaca_eval_format_and_reads_back_as_prompts(tmp_path: Path) -> None:
    rd = RunDir(tmp_path / "run")
    answers = [
        {"id": "e0", "prompt": "What is 2 + 2?", "response": "4"},
        {"id": "e1", "prompt": "Say <script>hi</script> — ünïcode", "response": "hi & bye"},
    ]
    answers_file = model_file(rd, "m2", "answers")
    answers_file.parent.mkdir(parents=True)
    write_jsonl(answers_file, answers)
    path = evaluate.export_alpaca_eval(rd, "m2")
    assert path == rd.root / "eval" / "m2" / "alpaca_eval.json"
    exported = json.loads(path.read_text(encoding="utf-8"))
    assert exported == [
        {"instruction": "What is 2 + 2?", "output": "4", "generator": "m2"},
        {"instruction": "Say <script>hi</script> — ünïcode", "output": "hi & bye", "generator": "m2"},
    ]
    assert "ünïcode" in path.read_text(encoding="utf-8")  # written as UTF-8, not \u escapes
    # The export is itself a valid alpaca_eval prompt file.
    assert [p["prompt"] for p in _prompts(tmp_path, path)[1]] == [a["prompt"] for a in answers]
