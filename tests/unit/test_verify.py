"""`srlm verify`: a clean run passes; each kind of torn or tampered state is named."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from srlm.cli import app
from srlm.rundir import RunDir, is_done, manifest_path
from srlm.verify import verify_run
from tests.scripted_run import scripted_run


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    return scripted_run(tmp_path_factory.mktemp("clean"))


@pytest.fixture()
def run_copy(clean_run: RunDir, tmp_path: Path) -> RunDir:
    """A copy of the clean run at another place (inputs inside the run are checked in the copy)."""
    root = tmp_path / "copy"
    shutil.copytree(clean_run.root, root)
    return RunDir(root)


def test_a_clean_run_verifies(clean_run: RunDir) -> None:
    checked, problems = verify_run(clean_run.root)
    assert problems == []
    assert checked == 5  # m1, prompts, candidates, judgments, pairs


def test_a_moved_run_dir_still_verifies(run_copy: RunDir) -> None:
    assert verify_run(run_copy.root)[1] == []


def edit_a_row(rd: RunDir) -> None:
    path = rd.artifact(1, "candidates")
    lines = path.read_text().splitlines(keepends=True)
    row = json.loads(lines[1])
    row["response"] = "a better answer, written by hand"
    lines[1] = json.dumps(row) + "\n"
    path.write_text("".join(lines))


def truncate_last_line(rd: RunDir) -> None:
    path = rd.artifact(1, "judgments")
    path.write_bytes(path.read_bytes()[:-15])


def drop_a_row(rd: RunDir) -> None:
    path = rd.artifact(1, "pairs")
    path.write_text("".join(path.read_text().splitlines(keepends=True)[1:]))


def orphan_manifest(rd: RunDir) -> None:
    shutil.copy(manifest_path(rd.artifact(1, "pairs")), manifest_path(rd.artifact(1, "lost")))


def artifact_without_manifest(rd: RunDir) -> None:
    manifest_path(rd.artifact(1, "judgments")).unlink()


def half_saved_model(rd: RunDir) -> None:
    shutil.copytree(rd.model(1), rd.root / "m2.saving")


def edit_model_weights(rd: RunDir) -> None:
    (rd.model(1) / "model.safetensors").write_bytes(b"other weights")


def corrupt_manifest(rd: RunDir) -> None:
    manifest_path(rd.artifact(1, "pairs")).write_text('{"stage": "iter1 pa')


def manifest_not_utf8(rd: RunDir) -> None:
    manifest_path(rd.artifact(1, "pairs")).write_bytes(b'{"stage": "\xff\xfe"}')


def leftover_partial(rd: RunDir) -> None:
    (rd.iteration(2)).mkdir()
    (rd.iteration(2) / "candidates.jsonl.partial").write_text('{"id": "a", "text": "b"}\n{"id": "c", "te')


def leftover_tmp(rd: RunDir) -> None:
    (rd.iteration(1) / "pairs.jsonl.tmp").write_text("half")


CORRUPTIONS: list[tuple[Callable[[RunDir], Any], str, str]] = [
    (edit_a_row, "iter1/candidates.jsonl", "sha256 mismatch"),
    (edit_a_row, "iter1/judgments.jsonl", "input .*candidates.jsonl changed"),  # the stage built on it
    (truncate_last_line, "iter1/judgments.jsonl", "no newline"),
    (truncate_last_line, "iter1/judgments.jsonl", r"line 12: not a whole JSON object"),
    (drop_a_row, "iter1/pairs.jsonl", "[0-9]+ rows, the manifest says [0-9]+"),
    (orphan_manifest, "iter1/lost.jsonl", "manifest without artifact"),
    (artifact_without_manifest, "iter1/judgments.jsonl", "artifact without manifest"),
    (half_saved_model, "m2.saving", "half-saved model dir"),
    (edit_model_weights, "m1", "sha256 mismatch"),
    (corrupt_manifest, "iter1/pairs.jsonl.manifest.json", "manifest unreadable"),
    (manifest_not_utf8, "iter1/pairs.jsonl.manifest.json", "manifest unreadable"),
    (leftover_partial, "iter2/candidates.jsonl.partial", "unfinished stage: 1 whole rows"),
    (leftover_tmp, "iter1/pairs.jsonl.tmp", "interrupted write"),
]


@pytest.mark.parametrize(
    ("corrupt", "path", "expected"), CORRUPTIONS, ids=[f"{c.__name__}-{p}" for c, p, _ in CORRUPTIONS]
)
def test_each_corruption_is_reported(
    run_copy: RunDir, corrupt: Callable[[RunDir], Any], path: str, expected: str
) -> None:
    import re

    corrupt(run_copy)
    _, problems = verify_run(run_copy.root)
    found = [p.problem for p in problems if p.path == path]
    assert any(re.search(expected, text) for text in found), problems


@pytest.mark.parametrize("corrupt", [corrupt_manifest, manifest_not_utf8])
def test_a_broken_manifest_means_the_stage_is_not_done(run_copy: RunDir, corrupt: Callable[[RunDir], Any]) -> None:
    assert is_done(run_copy.artifact(1, "pairs"))
    corrupt(run_copy)
    assert not is_done(run_copy.artifact(1, "pairs"))  # the stage runs again instead of crashing


def test_a_deleted_artifact_is_reported_with_its_dependants(run_copy: RunDir) -> None:
    run_copy.artifact(1, "prompts").unlink()
    problems = {(p.path, p.problem) for p in verify_run(run_copy.root)[1]}
    assert ("iter1/prompts.jsonl", "manifest without artifact (the artifact is missing)") in problems
    assert any(path == "iter1/candidates.jsonl" and "prompts.jsonl is gone" in text for path, text in problems)


def test_a_changed_input_file_is_reported(tmp_path: Path) -> None:
    rd = scripted_run(tmp_path)
    ift = tmp_path / "data" / "ift.jsonl"
    ift.write_text(ift.read_text() + '{"prompt": "new", "response": "row"}\n')
    problems = verify_run(rd.root)[1]
    assert [(p.path, "ift.jsonl changed" in p.problem) for p in problems] == [("m1", True)]


def test_cli_exit_codes_and_table(run_copy: RunDir) -> None:
    runner = CliRunner()
    clean = runner.invoke(app, ["verify", str(run_copy.root)])
    assert clean.exit_code == 0, clean.output
    assert "5 artifacts match their manifests" in clean.output
    edit_a_row(run_copy)
    half_saved_model(run_copy)
    broken = runner.invoke(app, ["verify", str(run_copy.root)], terminal_width=200)
    assert broken.exit_code == 1
    assert "iter1/candidates.jsonl" in broken.output and "m2.saving" in broken.output
    assert "half-saved model dir" in broken.output


def test_not_a_run_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["verify", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and "not a directory" in result.output
