"""The bad-input catalogue (docs/bad-input.md), the classes not already covered elsewhere.

Each test feeds one kind of bad input and checks the documented outcome: an error naming the
file, line or row and field, or a skip that is counted where the user sees it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from srlm.config import ConfigError, config_from_dict, load_config
from srlm.data.io import DataError, read_partial, read_rows
from srlm.rundir import RunDir, manifest_path
from srlm.stages import candidates, judge
from srlm.stages.evaluate import eval_prompts, judge_eval_targets
from srlm.world import grammar
from tests.helpers import ScriptedEngine, tiny_config, write_jsonl

BASE = {"model": {"path": "m0"}, "data": {"ift": "ift.jsonl"}}


def make(tmp_path: Path, **sections: Any) -> tuple[Any, RunDir]:
    cfg = config_from_dict(tiny_config(tmp_path, tmp_path / "m0", **sections))
    rd = RunDir(Path(cfg.loop.run_dir))
    rd.iteration(1).mkdir(parents=True)
    return cfg, rd


# --- JSONL rows ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"prompt": "a", "response": "\\udc80"}', r"rows\.jsonl:2: a string holds an unpaired UTF-16 surrogate"),
        (b'{"prompt": ' + b"7" * 5000 + b', "response": "b"}', r"rows\.jsonl:2: unreadable JSON: Exceeds the limit"),
        (b"[" * 5000 + b"]" * 5000, r"rows\.jsonl:2: unreadable JSON: .*recursion"),
    ],
    ids=["unpaired-surrogate", "5000-digit-number", "nested-5000-deep"],
)
def test_rows_json_cannot_hold_are_errors_with_file_and_line(tmp_path: Path, raw: bytes, message: str) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"prompt": "fine", "response": "fine"}\n' + raw + b"\n")
    with pytest.raises(DataError, match=message):
        read_rows(path, {"prompt": str, "response": str})


def test_a_partial_file_with_a_non_object_line_is_cut_there(tmp_path: Path) -> None:
    path = tmp_path / "x.partial"
    path.write_text('{"id": "a", "text": "1"}\n["not", "a", "row"]\n{"id": "b", "text": "2"}\n')
    assert read_partial(path) == [{"id": "a", "text": "1"}]
    assert path.read_text() == '{"id": "a", "text": "1"}\n'  # the rest is generated again on resume


def test_an_empty_generated_answer_is_kept_and_counted(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path)
    rd.artifact(1, "prompts").write_text(json.dumps({"id": "p0", "prompt": "q"}) + "\n")
    candidates.run(cfg, rd, 1, ScriptedEngine(lambda item, params: "" if item.id.endswith("c1") else "an answer"))
    rows = read_rows(rd.artifact(1, "candidates"), None)
    assert [row["response"] for row in rows] == ["an answer", "", "an answer", "an answer"]
    manifest = json.loads(manifest_path(rd.artifact(1, "candidates")).read_text())
    assert manifest["counts"] == {"prompts": 1, "empty": 1, "truncated": 0}
    # The judge still sees the empty answer (it is a real failure to score), never skips it.
    judge.run(cfg, rd, 1, ScriptedEngine(lambda item, params: "Score: 0"))
    assert len(read_rows(rd.artifact(1, "judgments"), None)) == 4


# --- duplicate ids ---------------------------------------------------------------------------


def test_duplicate_evaluation_prompt_ids_are_named(tmp_path: Path) -> None:
    rows = [{"id": "q1", "prompt": "one"}, {"id": "q2", "prompt": "two"}, {"id": "q1", "prompt": "three"}]
    path = write_jsonl(tmp_path / "eval.jsonl", rows)
    cfg = config_from_dict({**BASE, "data": {"ift": "x", "eval_prompts": [str(path)]}})
    with pytest.raises(DataError, match=r"eval\.jsonl: evaluation prompt ids are not unique: 'q1' appears twice"):
        eval_prompts(cfg)


def test_duplicate_judge_eval_ids_are_named(tmp_path: Path) -> None:
    rows = [{"id": "r", "prompt": "p", "responses": ["a", "b"]}, {"id": "r", "prompt": "p2", "responses": ["c", "d"]}]
    path = write_jsonl(tmp_path / "judge_eval.jsonl", rows)
    cfg = config_from_dict({**BASE, "eval": {"judge_eval": str(path)}})
    with pytest.raises(DataError, match=r"judge_eval\.jsonl: row 2: field 'id' 'r' is used by an earlier row"):
        judge_eval_targets(cfg)


# --- configs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("run_dir", ["../elsewhere", "runs/../../etc", "runs/a/.."])
def test_a_run_dir_that_steps_out_with_dot_dot_is_refused(tmp_path: Path, run_dir: str) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump({**BASE, "loop": {"run_dir": run_dir}}))
    with pytest.raises(ConfigError, match=r"loop\.run_dir: .*steps out with '\.\.'") as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert load_config(path, ["loop.run_dir=runs/ok"]).loop.run_dir == "runs/ok"


def write_ok(tmp_path: Path) -> Path:
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(BASE))
    return path


def test_a_run_dir_override_with_dot_dot_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"loop\.run_dir"):
        load_config(write_ok(tmp_path), ["loop.run_dir=../up"])
    assert load_config(write_ok(tmp_path), ["loop.run_dir=/abs/runs/x"]).loop.run_dir == "/abs/runs/x"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"model: {path: m0\n", "not valid YAML"),
        (b"model: {path: m0}\ndata: {ift: x}\nloop: {seed: 2001-13-45}\n", "not valid YAML: month must be in 1..12"),
        (b"model: {path: m0\xff}\n", "not valid YAML: 'utf-8' codec can't decode"),
        (b"- model\n- data\n", "the top level must be a mapping"),
    ],
    ids=["unclosed-brace", "impossible-date", "not-utf8", "a-list"],
)
def test_config_files_that_are_not_yaml_mappings_name_the_file(tmp_path: Path, text: bytes, message: str) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_bytes(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_an_override_whose_value_is_not_yaml_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"override 'dpo\.beta=\[': the value is not valid YAML"):
        load_config(write_ok(tmp_path), ["dpo.beta=["])


def test_pickle_and_remote_code_are_off_by_default() -> None:
    cfg = config_from_dict(BASE)
    assert cfg.model.allow_pickle is False and cfg.model.trust_remote_code is False


# --- the world's instruction parser ----------------------------------------------------------


@pytest.mark.parametrize("number", ["²", "٣", "10" * 3000, "0005"])
def test_instructions_with_odd_numbers_are_rejected_not_crashed(number: str) -> None:
    assert grammar.parse(f"write about the sea . use exactly {number} words .") is None
    assert grammar.parse("write about the sea . use exactly 5 words .") is not None


def test_corrupt_or_cut_gzip_is_a_data_error(tmp_path: Path) -> None:
    import gzip

    whole = gzip.compress(b'{"prompt": "p", "response": "r"}\n' * 50)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"cut\.jsonl\.gz:\d+: not a readable gzip file"):
        read_rows(cut, {"prompt": str})
    junk = tmp_path / "junk.jsonl.gz"
    junk.write_bytes(b"not gzip at all\n")
    with pytest.raises(DataError, match=r"junk\.jsonl\.gz:1: not a readable gzip file"):
        read_rows(junk, {"prompt": str})
