"""`world.eft_model_answers`: EFT answers sampled from a model, judged by the oracle, added to the synthetic ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srlm.config import config_from_dict
from srlm.data.io import read_rows
from srlm.rundir import RunDir, read_manifest
from srlm.stages import world
from srlm.stages.common import partial_path
from srlm.world.grammar import parse
from srlm.world.judgment import CleanLine, write_judgment
from tests.helpers import ScriptedEngine

SIZES = {"ift": 20, "eft_prompts": 15, "eft_answers_per_prompt": 2, "judge_eval": 5, "eval": 10, "dev": 5}


def config(tmp_path: Path, answers: int = 3, clean_line: str = "verdict") -> object:
    return config_from_dict(
        {
            "model": {"path": "world:m0"},
            "world": SIZES | {"eft_model_answers": answers, "clean_line": clean_line},
            "loop": {"run_dir": str(tmp_path / "run")},
        }
    )


def built(cfg: object) -> RunDir:
    """The world's seed sets, and a stand-in for the IFT-only model dir (the engine is scripted)."""
    rd = RunDir(Path(cfg.loop.run_dir))  # type: ignore[attr-defined]
    world.run(cfg, rd)
    rd.sft_baseline.mkdir(parents=True)
    (rd.sft_baseline / "model.safetensors").write_bytes(b"weights")
    return rd


def reply(item: object, params: object) -> str:
    """A 'model' that answers each prompt with one of three fixed answers, by row."""
    key = item.id  # type: ignore[attr-defined]
    return ["sea blue fish", "tree tree tree", ""][int(key.rsplit("-a", 1)[1]) % 3]


def test_sampled_answers_are_judged_by_the_oracle_and_added_to_the_synthetic_rows(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    assert cfg.data.eft == str(cfg.world_dir / "eft_model.jsonl")  # M1 trains on the combined file
    rd = built(cfg)
    synthetic = read_rows(cfg.world_dir / "eft.jsonl")
    engine = ScriptedEngine(reply)
    artifact = world.model_eft(cfg, rd, engine)
    rows = read_rows(artifact)
    assert rows[: len(synthetic)] == synthetic
    added = rows[len(synthetic) :]
    prompts = list(dict.fromkeys(row["prompt"] for row in synthetic))
    # Every prompt was sampled 3 times with the candidates' settings, one request per answer.
    assert sum(len(call) for call in engine.calls) == 3 * len(prompts)
    assert added and {row["response"] for row in added} <= {"sea blue fish", "tree tree tree", ""}
    assert {row["prompt"] for row in added} <= set(prompts)
    for row in added:
        instruction = parse(row["prompt"])
        assert instruction is not None and row["judgment"] == write_judgment(instruction, row["response"])
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids))  # an answer the synthetic set already has is not added twice
    counts = (read_manifest(artifact) or {})["counts"]
    assert counts["synthetic"] == len(synthetic) and counts["model"] == len(added)
    # Three distinct answers per prompt, all graded; the most common score then thinned.
    assert sum(counts[f"sampled_score_{s}"] for s in range(6)) == 3 * len(prompts)
    assert len(added) + counts["model_same_as_synthetic"] < 3 * len(prompts)
    assert not partial_path(artifact).exists()
    # A finished stage is skipped: no request the second time.
    again = ScriptedEngine(reply)
    assert world.model_eft(cfg, rd, again) == artifact and again.calls == []


def test_an_interrupted_sampling_resumes_without_asking_twice(tmp_path: Path) -> None:
    cfg = config(tmp_path, answers=2)
    rd = built(cfg)

    class Dies(ScriptedEngine):
        def generate_batch(self, batch: object, params: object) -> list[str]:
            if len(self.calls) == 2:
                raise KeyboardInterrupt
            return super().generate_batch(batch, params)

    first = Dies(reply)
    with pytest.raises(KeyboardInterrupt):
        world.model_eft(cfg, rd, first)
    done = {row["id"] for row in read_rows(partial_path(Path(cfg.data.eft)))}
    assert len(done) == 8  # two batches of 4
    second = ScriptedEngine(reply)
    world.model_eft(cfg, rd, second)
    asked = {key for call in second.calls for key in call}
    prompts = {row["prompt"] for row in read_rows(cfg.world_dir / "eft.jsonl")}
    assert asked.isdisjoint(done) and len(asked) + len(done) == 2 * len(prompts)


def test_synthetic_only_is_the_default(tmp_path: Path) -> None:
    cfg = config(tmp_path, answers=0)
    assert cfg.data.eft == str(cfg.world_dir / "eft.jsonl")


def eft_rows_in_format(tmp_path: Path, clean_line: CleanLine) -> list[dict[str, object]]:
    """The world and model-EFT stages with `world.clean_line`: every row's judgment is the oracle's in
    that format, and `world.json` records it."""
    cfg = config(tmp_path, clean_line=clean_line)
    rows = read_rows(world.model_eft(cfg, built(cfg), ScriptedEngine(reply)))
    for row in rows:
        instruction = parse(row["prompt"])
        assert instruction is not None
        assert row["judgment"] == write_judgment(instruction, row["response"], clean_line)
    assert json.loads((cfg.world_dir / "world.json").read_text())["clean_line"] == clean_line
    return rows


def clean_line_of(row: dict[str, object]) -> str:
    """The row's clean line; an empty answer's judgment has none."""
    return next((line for line in str(row["judgment"]).split("\n") if line.startswith("clean")), "")


def test_clean_line_word_writes_every_eft_judgment_in_that_format(tmp_path: Path) -> None:
    """`world.clean_line: word`: the synthetic and the model-written EFT rows name the first word on clean answers."""
    rows = eft_rows_in_format(tmp_path, "word")
    default = read_rows(world.run(config(tmp_path / "default"), RunDir(tmp_path / "default" / "run")) / "eft.jsonl")
    assert [row["id"] for row in default] == [row["id"] for row in rows if row["id"] in {r["id"] for r in default}]
    clean_yes = [(row, clean_line_of(row)) for row in rows if clean_line_of(row).endswith(", yes")]
    assert clean_yes
    for row, clean in clean_yes:
        assert clean == f"clean : {str(row['response']).split()[0]} one , yes"


def test_the_iterations_world_prompts_follow_world_rules(tmp_path: Path) -> None:
    """`prompts.source: world` draws each iteration's prompts from the run's `world.rules`, like the seed sets."""
    from srlm.stages import prompts

    cfg = config_from_dict(
        {
            "model": {"path": "world:m0"},
            "world": SIZES | {"rules": ["start", "end", "order"]},
            "prompts": {"source": "world", "n": 40},
            "loop": {"run_dir": str(tmp_path / "run")},
        }
    )
    rd = RunDir(Path(cfg.loop.run_dir))
    world.run(cfg, rd)
    rd.iteration(1).mkdir(parents=True)
    prompts.run(cfg, rd, 1, None)
    kinds: set[str] = set()
    for row in read_rows(rd.artifact(1, "prompts")):
        instruction = parse(row["prompt"])
        assert instruction is not None
        kinds |= {c.kind for c in instruction.constraints}
    assert kinds == {"start", "end", "order"}
