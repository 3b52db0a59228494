"""Fail fast: every input is checked before a model loads or the run dir is written."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from srlm.cli import app
from srlm.config import ConfigError, config_from_dict
from srlm.preflight import check_inputs, model_problem
from srlm.rundir import RunDir
from tests.helpers import tiny_config


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))


def test_a_missing_model_and_missing_data_fail_at_once_writing_nothing(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "x"
    config = tmp_path / "bad.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model": {"path": "nowhere/model"},
                "data": {"ift": "data/missing-ift.jsonl", "eval_prompts": ["data/missing-eval.jsonl"]},
                "loop": {"run_dir": str(run_dir)},
            }
        )
    )
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["run", str(config)])
    assert result.exit_code == 2, result.output
    assert time.perf_counter() - started < 10  # no hub retries
    assert "Traceback" not in result.output
    assert "model.path: 'nowhere/model' is not a local dir and not in the Hugging Face cache" in result.output
    assert "HF_HUB_OFFLINE is set" in result.output
    assert "data.ift: file not found: data/missing-ift.jsonl" in result.output
    assert "data.eval_prompts[0]: file not found: data/missing-eval.jsonl" in result.output
    assert not run_dir.exists()  # not even config.yaml


def test_a_cached_hub_id_and_a_local_dir_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = tmp_path / "hub-cache" / "models--org--name" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    refs = tmp_path / "hub-cache" / "models--org--name" / "refs"
    refs.mkdir()
    (refs / "main").write_text("a" * 40)
    assert model_problem("org/name", "model.path") is None
    assert model_problem("org/other", "model.path") is not None
    local = tmp_path / "m"
    local.mkdir()
    assert "not a Hugging Face model dir" in str(model_problem(str(local), "model.path"))
    (local / "config.json").write_text("{}")
    assert model_problem(str(local), "model.path") is None
    assert model_problem("./no/such/dir", "model.path") == "model.path: model dir not found: ./no/such/dir"
    assert model_problem("world:m0", "model.path") is None


def model_dir(tmp_path: Path) -> Path:
    """A model dir as far as the checks look (they never load it)."""
    path = tmp_path / "m0"
    path.mkdir(exist_ok=True)
    (path / "config.json").write_text("{}")
    return path


def test_bad_data_rows_and_a_run_dir_that_cannot_be_made_are_named(tmp_path: Path) -> None:
    tiny_model_dir = model_dir(tmp_path)
    cfg = config_from_dict(tiny_config(tmp_path, tiny_model_dir))
    check_inputs(cfg)  # the fixture is fine
    Path(cfg.ift_file).write_text(json.dumps({"prompt": "q"}) + "\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    bad = config_from_dict(tiny_config(tmp_path, tiny_model_dir, loop={"run_dir": str(blocker / "run")}))
    Path(bad.ift_file).write_text(json.dumps({"prompt": "q"}) + "\n")
    with pytest.raises(ConfigError) as error:
        check_inputs(bad)
    lines = str(error.value).splitlines()
    assert f"data.ift: {bad.ift_file}:1: missing field 'response'" in lines
    assert f"loop.run_dir: {blocker / 'run'} cannot be created: {blocker} is not a directory" in lines


def test_stage_verbs_check_their_inputs_before_loading_anything(tmp_path: Path) -> None:
    cfg = config_from_dict(tiny_config(tmp_path, model_dir(tmp_path)))
    rd = RunDir(Path(cfg.loop.run_dir))
    rd.root.mkdir(parents=True)
    (rd.root / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    result = CliRunner().invoke(app, ["candidates", str(rd.root), "--iteration", "2"])
    assert result.exit_code == 2
    assert "candidates: the model of iteration 2" in result.output and "is not finished" in result.output
    Path(cfg.data.eval_prompts[0]).unlink()
    result = CliRunner().invoke(app, ["sft", str(rd.root)])
    assert result.exit_code == 2 and "data.eval_prompts[0]: file not found" in result.output
    assert not rd.model(1).exists()
