"""`dpo.select`: DPO saves checkpoints, a judge picks one on held-out prompts, m2 is a copy of it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from srlm.config import ConfigError, config_from_dict
from srlm.data.io import read_rows
from srlm.rundir import RunDir, is_done, manifest_path
from srlm.training import dpo
from srlm.verify import verify_run
from tests.helpers import ScriptedEngine, fixture_rows, tiny_config, write_jsonl

ANSWERS = {"step-1": "apple blue", "final": "stone", "m1": "x"}  # what each model "says"


def judge_reply(item: Any, params: Any) -> str:
    """Prefers whichever answer says apple; otherwise a tie."""
    text = item.messages[0]["content"]
    a, b = text.split("Answer A:")[1].split("Answer B:")
    return "Winner: A" if "apple" in a else "Winner: B" if "apple" in b else "Winner: tie"


@contextmanager
def scripted(model_dir: str) -> Iterator[ScriptedEngine]:
    name = Path(model_dir).name
    yield ScriptedEngine(judge_reply if name == "judge" else lambda item, params: ANSWERS[name])


def select_config(tmp_path: Path, model_dir: Path, **select: Any) -> dict[str, Any]:
    pool = write_jsonl(tmp_path / "select.jsonl", [{"prompt": f"Name a colour please {i}"} for i in range(5)])
    settings = {"checkpoints": 2, "judge": "judge_model", "prompts": str(pool)} | select
    return tiny_config(
        tmp_path,
        model_dir,
        dpo={"learning_rate": 1e-3, "min_learning_rate": 1e-4, "batch_size": 4, "select": settings},
        eval={"judge_model": str(tmp_path / "judge")},
    )


def test_the_judge_s_checkpoint_becomes_m2_and_its_manifest_says_why(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import srlm.backends

    monkeypatch.setattr(srlm.backends, "engine_for", lambda cfg, model_dir: scripted(model_dir))
    evals = fixture_rows()["eval"]
    cfg = config_from_dict(select_config(tmp_path, tiny_model_dir))
    write_jsonl(Path(cfg.dpo.select.prompts), [{"prompt": f"Name a colour please {i}"} for i in range(5)]
                + [{"prompt": evals[0]["prompt"]}])  # fmt: skip
    rd = RunDir(Path(cfg.loop.run_dir))
    shutil.copytree(tiny_model_dir, rd.model(1))
    rows = [
        {"id": f"p{i}", "prompt": f"Say the words apple and blue please {i}", "chosen": "apple blue", "rejected": "x"}
        for i in range(8)
    ]
    rd.iteration(1).mkdir(parents=True)
    write_jsonl(rd.artifact(1, "pairs"), rows)

    m2 = dpo.run(cfg, rd, 1)  # 2 steps, a checkpoint after each: step-1 and the last step
    assert is_done(m2)
    selection = json.loads(manifest_path(m2).read_text())["selection"]
    assert selection["chosen"] == "step-1" and selection["scores"] == {"step-1": 1.0, "final": 0.5}
    assert selection["prompts"] == 5 and selection["dropped_held_out"] == 1  # the evaluation prompt never used
    assert "win rate against m1" in selection["reason"]
    chosen = rd.root / "m2.checkpoints" / "step-1"
    assert not [problem for problem in verify_run(rd.root)[1] if problem.path.startswith("m2")]
    assert (m2 / "model.safetensors").read_bytes() == (chosen / "model.safetensors").read_bytes()
    assert (m2 / "model.safetensors").read_bytes() != (
        rd.root / "m2.checkpoints" / "final" / "model.safetensors"
    ).read_bytes()


def test_selection_settings_are_checked(tmp_path: Path, tiny_model_dir: Path) -> None:
    cfg = select_config(tmp_path, tiny_model_dir)
    with pytest.raises(ConfigError, match="is an evaluation file"):
        config_from_dict(
            cfg | {"dpo": cfg["dpo"] | {"select": {**cfg["dpo"]["select"], "prompts": cfg["data"]["eval_prompts"][0]}}}
        )
    with pytest.raises(ConfigError, match="'oracle' needs a world run"):
        config_from_dict(cfg | {"dpo": cfg["dpo"] | {"select": {**cfg["dpo"]["select"], "judge": "oracle"}}})
    assert config_from_dict(tiny_config(tmp_path, tiny_model_dir)).dpo.select is None  # off by default


def test_world_selection_prompts_are_fresh_never_held_out(tmp_path: Path) -> None:
    from srlm.data.decontaminate import evaluation_prompts
    from srlm.stages import world
    from srlm.training.select import selection_prompts

    sizes = {"ift": 40, "eft_prompts": 40, "judge_eval": 20, "eval": 40, "dev": 20}
    cfg = config_from_dict(
        {
            "model": {"path": "world:m0"},
            "world": sizes,
            "loop": {"run_dir": str(tmp_path / "run")},
            "dpo": {"select": {"n_prompts": 30}},
        }
    )
    rd = RunDir(Path(cfg.loop.run_dir))
    world.run(cfg, rd)
    prompts, source = selection_prompts(cfg, rd, 1)
    assert len(prompts) == 30 and source["source"] == "fresh world prompts"
    held_out = set(evaluation_prompts(cfg)) | {row["prompt"] for row in read_rows(cfg.ift_file)}
    assert not {p["prompt"] for p in prompts} & held_out
    assert len(evaluation_prompts(cfg)) == 40 + 20 + 20  # eval, dev and the judge-quality set
