"""The console: run.log keeps what srlm printed; the libraries' logs, warnings and prints go to logs/<stage>.log."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest

from srlm.console import begin, console, end, progress, run_logs, slug, stage_log_file


def test_a_stage_s_library_logs_warnings_and_prints_go_to_its_log_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with run_logs(tmp_path, "srlm test"):
        begin("iter1 candidates")
        logging.getLogger("transformers.generation").warning("a library warning")
        warnings.warn("a deprecated argument", FutureWarning, stacklevel=1)
        print({"loss": "1.139"})
        with progress("iter1 candidates", 3) as advance:
            advance(3)
        console.print("iter1 candidates: 3 rows (0.1 s)")
        end()
        logging.getLogger("datasets").warning("after the stage")
    out, err = capsys.readouterr()
    assert out == ""
    assert "a library warning" not in err and "FutureWarning" not in err and "loss" not in err
    assert "iter1 candidates …" in err and "iter1 candidates: 3 rows" in err
    stage_log = (tmp_path / "logs" / "iter1-candidates.log").read_text()
    assert "a library warning" in stage_log and "FutureWarning: a deprecated argument" in stage_log
    assert "{'loss': '1.139'}" in stage_log
    assert "after the stage" in (tmp_path / "logs" / "srlm.log").read_text()
    run_log = (tmp_path / "run.log").read_text()
    assert run_log.startswith("--- ") and "srlm test" in run_log
    assert "iter1 candidates …" in run_log and "iter1 candidates: 3 rows (0.1 s)" in run_log
    assert "\n\n" not in run_log  # no empty lines from live displays


def test_everything_is_restored_afterwards(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    transformers = logging.getLogger("transformers")
    handlers, propagate, level = transformers.handlers[:], transformers.propagate, logging.getLogger().level
    with run_logs(tmp_path, "srlm test"):
        begin("sft")
        assert stage_log_file() == tmp_path / "logs" / "sft.log"
    assert stage_log_file() is None
    assert transformers.handlers == handlers and transformers.propagate == propagate
    assert logging.getLogger().level == level and console.copy is None
    console.print("not kept")
    assert "not kept" not in (tmp_path / "run.log").read_text()


def test_verbose_shows_them_live_and_still_keeps_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with run_logs(tmp_path, "srlm test", verbose=True):
        begin("sft")
        assert stage_log_file() is None  # child processes write to the terminal
        warnings.warn("shown live", UserWarning, stacklevel=1)
    assert "shown live" in capsys.readouterr().err
    assert "shown live" in (tmp_path / "logs" / "sft.log").read_text()


def test_a_nested_command_writes_into_the_outer_run(tmp_path: Path) -> None:
    with run_logs(tmp_path / "outer", "srlm run"), run_logs(tmp_path / "inner", "srlm sft"):
        console.print("inside")
    assert "inside" in (tmp_path / "outer" / "run.log").read_text()
    assert not (tmp_path / "inner").exists()


def test_stage_labels_become_file_names() -> None:
    assert slug("iter1 candidates") == "iter1-candidates"
    assert slug("eval sft_baseline") == "eval-sft_baseline"
    assert slug("eval m1 vs m2/x") == "eval-m1-vs-m2-x"
