"""``srlm world build`` through the typer app (the pretrain command is covered by the slow test)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from srlm.world.cli import app


def test_build_writes_every_seed_set(tmp_path: Path) -> None:
    args = ["build", "--out", str(tmp_path), "--seed", "2", "--eval-prompts", "1200"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "world.json").read_text())
    assert manifest["seed"] == 2 and manifest["counts"]["eval"] == 1200
    for name in ("ift", "eft", "judge_eval", "eval", "dev"):
        assert (tmp_path / f"{name}.jsonl").stat().st_size > 0
    assert "EFT score histogram" in result.output
