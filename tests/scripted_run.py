"""A small finished run written by the real stages with a scripted engine: no model, no torch."""

from __future__ import annotations

from pathlib import Path

from srlm.config import config_from_dict
from srlm.rundir import RunDir, open_run, write_manifest
from srlm.stages import candidates, judge, pairs, prompts
from tests.helpers import ScriptedEngine, tiny_config


def scripted_run(tmp_path: Path) -> RunDir:
    """config.yaml, a stand-in m1 model dir, and iteration 1's prompts, candidates, judgments, pairs."""
    cfg = config_from_dict(tiny_config(tmp_path, tmp_path / "m0", prompts={"n": 3}))
    rd = open_run(cfg)
    model = rd.model(1)
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "llama"}\n')
    (model / "model.safetensors").write_bytes(b"weights")
    write_manifest(model, stage="sft", config_hash="x", inputs=[Path(cfg.ift_file)], rows=80)
    prompts.run(cfg, rd, 1, None)
    candidates.run(cfg, rd, 1, ScriptedEngine(lambda item, params: f"answer {item.id}"))
    # Candidate j gets score j + 1, so every prompt yields a pair.
    judge.run(cfg, rd, 1, ScriptedEngine(lambda item, params: f"Score: {int(item.id.split('-c')[1][0]) + 1}"))
    pairs.run(cfg, rd, 1)
    return rd
