from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from srlm.config import ConfigError, apply_overrides, config_from_dict, load_config

BASE = {"model": {"path": "m0"}, "data": {"ift": "ift.jsonl"}}


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_defaults_are_the_papers() -> None:
    cfg = config_from_dict(BASE)
    assert cfg.candidates.n == 4 and cfg.candidates.temperature == 0.7 and cfg.candidates.top_p == 0.9
    assert cfg.judge.samples == 3 and cfg.dpo.beta == 0.1 and cfg.loop.iterations == 2
    assert cfg.prompts.shots == 8 and cfg.prompts.generated_shots == 2 and cfg.prompts.temperature == 0.6
    assert cfg.sft.learning_rate == 5.5e-6 and cfg.dpo.learning_rate == 1e-6 and cfg.sft.batch_size == 16


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, {**BASE, "dpo": {"betta": 0.2}})
    with pytest.raises(ConfigError, match=r"dpo\.betta: unknown key") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_unknown_section_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"trainer: unknown key"):
        load_config(write(tmp_path, {**BASE, "trainer": {}}))


def test_wrong_type_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"candidates\.n: .*integer"):
        load_config(write(tmp_path, {**BASE, "candidates": {"n": "four"}}))


def test_missing_required_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.ift is required"):
        load_config(write(tmp_path, {"model": {"path": "m0"}}))
    with pytest.raises(ConfigError, match=r"model: Field required"):
        load_config(write(tmp_path, {"data": {"ift": "x"}}))


def test_world_runs_read_the_seed_sets_from_the_run_dir() -> None:
    cfg = config_from_dict({"model": {"path": "world:m0"}, "world": {"seed": 3}, "loop": {"run_dir": "runs/w"}})
    assert cfg.data.ift == "runs/w/world/ift.jsonl" and cfg.data.eft == "runs/w/world/eft.jsonl"
    assert cfg.data.eval_prompts == ["runs/w/world/eval.jsonl", "runs/w/world/dev.jsonl"]
    assert cfg.eval.judge_eval == "runs/w/world/judge_eval.jsonl"
    assert config_from_dict(cfg.to_dict()) == cfg


def test_overrides_parse_yaml_scalars(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, BASE), ["dpo.beta=0.2", "loop.iterations=3", "model.lora.r=8"])
    assert cfg.dpo.beta == 0.2 and cfg.loop.iterations == 3
    assert cfg.model.lora is not None and cfg.model.lora.r == 8


def test_override_unknown_key_fails(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"judge\.sample: unknown key"):
        load_config(write(tmp_path, BASE), ["judge.sample=2"])


@pytest.mark.parametrize("bad", ["dpo.beta", "=3", "dpo.beta.x=1"])
def test_bad_override_syntax(bad: str) -> None:
    with pytest.raises(ConfigError):
        apply_overrides({"dpo": {"beta": 0.1}}, [bad])


def test_cross_field_checks() -> None:
    with pytest.raises(ConfigError, match=r"prompts\.path is required"):
        config_from_dict({**BASE, "prompts": {"source": "file"}})
    with pytest.raises(ConfigError, match="generated_shots"):
        config_from_dict({**BASE, "prompts": {"shots": 2, "generated_shots": 3}})


def test_candidates_need_two_answers() -> None:
    with pytest.raises(ConfigError, match=r"candidates\.n"):
        config_from_dict({**BASE, "candidates": {"n": 1}})


def test_verdict_pairs_train_from_their_first_iteration() -> None:
    eft = {**BASE, "data": {"ift": "ift.jsonl", "eft": "eft.jsonl"}}
    assert not any(config_from_dict(eft).loop.trains_verdict_pairs(t) for t in (1, 2))  # off: the paper
    every = config_from_dict({**eft, "loop": {"verdict_pairs": 10}}).loop
    later = config_from_dict({**eft, "loop": {"verdict_pairs": 10, "verdict_pairs_from": 2}}).loop
    assert [every.trains_verdict_pairs(t) for t in (1, 2, 3)] == [True, True, True]
    assert [later.trains_verdict_pairs(t) for t in (1, 2, 3)] == [False, True, True]
    with pytest.raises(ConfigError, match=r"loop\.verdict_pairs_from"):
        config_from_dict({**eft, "loop": {"verdict_pairs": 10, "verdict_pairs_from": 0}})
    # the world default trains them from iteration 2: a one-iteration run of it, or one with the pairs
    # turned off, is a valid config that trains none (srlm plan shows no later-only DPO for it)
    for loop in ({"verdict_pairs": 10, "verdict_pairs_from": 3}, {"verdict_pairs": 0, "verdict_pairs_from": 2}):
        config = config_from_dict({**eft, "loop": loop}).loop
        assert not any(config.trains_verdict_pairs(t) for t in range(1, config.iterations + 1))


def test_dpo_interpolation_is_a_share_of_the_step_and_excludes_checkpoint_selection() -> None:
    assert config_from_dict(BASE).dpo.interpolation == 1.0  # the trained model itself: the paper
    assert config_from_dict({**BASE, "dpo": {"interpolation": 0.7}}).dpo.interpolation == 0.7
    for bad in (0, 1.5):
        with pytest.raises(ConfigError, match=r"dpo\.interpolation"):
            config_from_dict({**BASE, "dpo": {"interpolation": bad}})
    select = {"judge": "oracle", "prompts": "select.jsonl"}
    with pytest.raises(ConfigError, match=r"dpo\.interpolation < 1 and dpo\.select"):
        config_from_dict({**BASE, "world": {}, "dpo": {"interpolation": 0.7, "select": select}})


def test_digest_tracks_sections() -> None:
    a = config_from_dict(BASE)
    b = config_from_dict({**BASE, "dpo": {"beta": 0.3}})
    assert a.digest("judge") == b.digest("judge")
    assert a.digest("dpo") != b.digest("dpo")


def test_every_shipped_config_loads() -> None:
    shipped = sorted((Path(__file__).parents[2] / "srlm" / "configs").glob("*.yaml"))
    assert shipped, "no shipped configs found"
    for path in shipped:
        load_config(path)


def test_world_rules_are_the_worlds_kinds_each_once() -> None:
    from typing import get_args

    from srlm.config import RuleKind
    from srlm.world.grammar import KINDS, LOCAL_KINDS

    assert get_args(RuleKind) == KINDS
    world = config_from_dict({"model": {"path": "world:m0"}, "world": {}}).world
    assert world is not None and world.rules == list(LOCAL_KINDS)
    for bad, message in (([], "world.rules"), (["include", "sing"], "world.rules"), (["end", "end"], "at most once")):
        with pytest.raises(ConfigError, match=message):
            config_from_dict({"model": {"path": "world:m0"}, "world": {"rules": bad}})
