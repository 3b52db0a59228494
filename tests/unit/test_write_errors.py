"""Write errors (disk full, permission denied): a clear error naming the file, the old state kept."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from srlm.data.io import WriteError, append_jsonl, atomic_write_text, read_partial, read_rows, write_jsonl
from srlm.models.loading import save_atomically
from srlm.rundir import is_done, manifest_path, write_manifest

OLD_ROWS = [{"id": "a", "text": "kept"}, {"id": "b", "text": "kept too"}]


def raise_on_fsync(code: int) -> Any:
    def fsync(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    return fsync


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_disk_full_in_an_atomic_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    write_jsonl(path, OLD_ROWS)
    # A real ENOSPC from the kernel: the temporary file is /dev/full.
    path.with_name("pairs.jsonl.tmp").symlink_to("/dev/full")
    with pytest.raises(WriteError, match=r"cannot write .*pairs\.jsonl: disk full") as info:
        write_jsonl(path, [{"id": "new", "text": "x" * 100_000}])
    assert info.value.errno == errno.ENOSPC
    assert read_rows(path) == OLD_ROWS
    assert not path.with_name("pairs.jsonl.tmp").exists()


@pytest.mark.parametrize(("code", "reason"), [(errno.ENOSPC, "disk full"), (errno.EDQUOT, "disk quota exceeded")])
def test_a_failed_flush_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, reason: str
) -> None:
    path = tmp_path / "config.yaml"
    atomic_write_text(path, "old: 1\n")
    monkeypatch.setattr(os, "fsync", raise_on_fsync(code))
    with pytest.raises(WriteError, match=rf"config\.yaml: {reason}"):
        atomic_write_text(path, "new: 2\n")
    assert path.read_text() == "old: 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_permission_denied_on_the_rename_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "judgments.jsonl"
    write_jsonl(path, OLD_ROWS)

    def replace(src: Any, dst: Any) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(dst))

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(WriteError, match=r"cannot write .*judgments\.jsonl: permission denied; its previous"):
        write_jsonl(path, [{"id": "new"}])
    assert read_rows(path) == OLD_ROWS
    assert not path.with_name("judgments.jsonl.tmp").exists()


def test_permission_denied_creating_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = Path.open

    def open_(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name.endswith(".tmp"):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)
    with pytest.raises(WriteError, match=r"new\.jsonl: permission denied"):
        write_jsonl(tmp_path / "new.jsonl", OLD_ROWS)
    assert not (tmp_path / "new.jsonl").exists()


def test_disk_full_while_appending_leaves_only_whole_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "candidates.jsonl.partial"
    append_jsonl(path, OLD_ROWS)
    before = path.read_bytes()
    monkeypatch.setattr(os, "fsync", raise_on_fsync(errno.ENOSPC))
    with pytest.raises(WriteError, match=r"candidates\.jsonl\.partial: disk full"):
        append_jsonl(path, [{"id": "c", "text": "lost"}, {"id": "d", "text": "lost"}])
    assert path.read_bytes() == before  # the failed batch is cut off again, no torn line
    monkeypatch.undo()
    assert read_partial(path) == OLD_ROWS


def test_disk_full_while_writing_a_manifest_keeps_the_old_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    artifact = tmp_path / "prompts.jsonl"
    write_jsonl(artifact, OLD_ROWS)
    write_manifest(artifact, stage="iter1 prompts", config_hash="h", inputs=[], rows=2)
    old_manifest = manifest_path(artifact).read_text()
    monkeypatch.setattr(os, "fsync", raise_on_fsync(errno.ENOSPC))
    with pytest.raises(WriteError, match=r"prompts\.jsonl\.manifest\.json: disk full"):
        write_manifest(artifact, stage="iter1 prompts", config_hash="other", inputs=[], rows=2)
    monkeypatch.undo()
    assert manifest_path(artifact).read_text() == old_manifest and is_done(artifact)


class FullDiskModel:
    """Writes a first shard, then the disk is full (as `save_pretrained` would fail)."""

    def save_pretrained(self, out: Path, **kwargs: Any) -> None:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "model-00001.safetensors").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")


class Tokenizer:
    def save_pretrained(self, out: Path) -> None:
        (Path(out) / "tokenizer.json").write_text("{}")


def test_disk_full_while_saving_a_model_keeps_the_previous_model(tmp_path: Path) -> None:
    model_dir = tmp_path / "m2"
    model_dir.mkdir()
    (model_dir / "model.safetensors").write_bytes(b"the good model")
    with pytest.raises(WriteError, match=r"cannot write .*m2: disk full \(No space left on device\)"):
        save_atomically(FullDiskModel(), Tokenizer(), model_dir)  # type: ignore[arg-type]
    assert (model_dir / "model.safetensors").read_bytes() == b"the good model"
    assert not (tmp_path / "m2.saving").exists()


def test_the_cli_prints_the_write_error_without_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`srlm pairs` on a full disk: exit 2, one line naming the file, no artifact, no partial state."""
    from srlm.cli import app
    from tests.scripted_run import scripted_run

    rd = scripted_run(tmp_path)
    pairs_file = rd.artifact(1, "pairs")
    old = pairs_file.read_bytes()
    for path in (pairs_file, manifest_path(pairs_file)):
        path.unlink()
    pairs_file.write_bytes(old)  # an earlier, unfinished attempt: no manifest
    monkeypatch.setattr(os, "fsync", raise_on_fsync(errno.ENOSPC))
    result = CliRunner().invoke(app, ["pairs", str(rd.root), "--iteration", "1"])
    monkeypatch.undo()
    assert result.exit_code == 2, result.output
    assert "pairs.jsonl: disk full" in " ".join(result.output.split()) and "Traceback" not in result.output
    assert pairs_file.read_bytes() == old and not manifest_path(pairs_file).exists()


class Model:
    def save_pretrained(self, out: Path, **kwargs: Any) -> None:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "model.safetensors").write_bytes(b"new weights")


def test_a_saved_copy_that_fails_its_check_never_replaces_the_model(tmp_path: Path) -> None:
    model_dir = tmp_path / "m0"
    model_dir.mkdir()
    (model_dir / "model.safetensors").write_bytes(b"the good model")
    seen: list[Path] = []

    def reject(saved: Path) -> bool:
        seen.append(saved)
        return (saved / "model.safetensors").read_bytes() == b"something else"

    assert save_atomically(Model(), Tokenizer(), model_dir, accept=reject) is False  # type: ignore[arg-type]
    assert seen == [tmp_path / "m0.saving"] and not seen[0].exists()
    assert (model_dir / "model.safetensors").read_bytes() == b"the good model"
    assert save_atomically(Model(), Tokenizer(), model_dir, accept=lambda saved: True) is True  # type: ignore[arg-type]
    assert (model_dir / "model.safetensors").read_bytes() == b"new weights"
