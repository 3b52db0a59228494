"""A whole run with API keys and tokens in the environment: none of them reaches the run dir or the log.

Generic on purpose: every environment variable named like `*API_KEY` or `*TOKEN` that is set
while the run goes is looked for, in every file of the run dir (config dump, manifests,
artifacts, report) and in everything printed. The finished run must also verify clean.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from srlm.config import config_from_dict
from srlm.loop import run as run_loop
from srlm.verify import verify_run
from tests.helpers import tiny_config

pytestmark = pytest.mark.slow
SECRET_NAME = re.compile(r"(API_KEY|TOKEN)$", re.IGNORECASE)
PLANTED = {
    "SRLM_TEST_API_KEY": "sk-planted-7f3a9c1e5b2d4f60",
    "OPENAI_API_KEY": "sk-planted-openai-0c8e2b7d9a41",
    "HF_TOKEN": "hf_plantedTokenQwErTyUiOp123",
    "WANDB_API_KEY": "planted-wandb-5e6f7a8b9c0d1e2f",
}


def secret_values() -> dict[str, str]:
    """Values of the set env vars named like secrets (long enough not to match by chance)."""
    return {name: value for name, value in os.environ.items() if SECRET_NAME.search(name) and len(value) >= 12}


def test_no_secret_reaches_the_run_dir_or_the_log(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = tiny_config(
        tmp_path,
        tiny_model_dir,
        sft={"epochs": 2},
        candidates={"n": 2, "max_new_tokens": 6},
        judge={"samples": 1, "max_new_tokens": 8},
        loop={"iterations": 1},
    )
    rd = run_loop(config_from_dict(data))
    printed = "".join(capfd.readouterr())
    secrets = secret_values()
    assert set(PLANTED) <= set(secrets)
    files = [p for p in rd.root.rglob("*") if p.is_file()]
    assert len(files) > 10 and (rd.root / "config.yaml") in files
    leaks = [
        (str(path.relative_to(rd.root)), name)
        for path in files
        for name, value in secrets.items()
        if value.encode() in path.read_bytes()
    ]
    assert leaks == []
    assert [name for name, value in secrets.items() if value in printed] == []
    assert "m1" in printed  # the log was captured, so its check above means something
    assert verify_run(rd.root)[1] == []
