"""Reopening a run dir: a changed config is refused with its differing keys; new default keys are not changes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from srlm.config import Config, ConfigError
from srlm.rundir import open_run


def _config(tmp_path: Path, **dpo: float) -> Config:
    data = tmp_path / "ift.jsonl"
    data.write_text('{"prompt": "p", "response": "r"}\n')
    return Config.model_validate(
        {"model": {"path": "m"}, "data": {"ift": str(data)}, "loop": {"run_dir": str(tmp_path / "run")}, "dpo": dpo}
    )


def test_changed_key_is_refused_naming_it_unless_forced(tmp_path: Path) -> None:
    open_run(_config(tmp_path))
    changed = _config(tmp_path, beta=0.5)
    with pytest.raises(ConfigError, match=r"differing keys:\n  dpo.beta: 0.1 -> 0.5\nuse --force"):
        open_run(changed)
    open_run(changed, force=True)
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["dpo"]["beta"] == 0.5


def test_key_missing_from_an_older_config_at_its_default_is_not_a_change(tmp_path: Path) -> None:
    run = open_run(_config(tmp_path))
    stored = yaml.safe_load(run.config_file.read_text())
    del stored["dpo"]["beta"]  # as if the run predates the key
    run.config_file.write_text(yaml.safe_dump(stored))
    open_run(_config(tmp_path))  # beta at its default: reopened
    run.config_file.write_text(yaml.safe_dump(stored))
    with pytest.raises(ConfigError, match=r"dpo.beta: 0.1 -> 0.3"):
        open_run(_config(tmp_path, beta=0.3))
