"""`srlm ablate` without training: variant configs, shared-SFT keys, finished runs, the table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from srlm.ablate import VARIANTS, applicable, is_finished, run_summary, sft_key, table_row, variant_config
from srlm.config import ConfigError, dump_config
from srlm.rundir import write_manifest
from srlm.world.grammar import KINDS, LOCAL_KINDS
from tests.helpers import tiny_config


@pytest.fixture()
def base(tmp_path: Path) -> dict[str, Any]:
    return tiny_config(tmp_path, tmp_path / "m0", loop={"iterations": 2, "sft_baseline": True})


def test_every_variant_is_a_valid_config_in_its_own_run_dir(base: dict[str, Any], tmp_path: Path) -> None:
    names = applicable(base)
    world_only = {name for name, variant in VARIANTS.items() if variant.world_only}
    # the control and the EFT variants need the world
    assert world_only == {"oracle_pairs", "synthetic_eft", "more_model_eft", "clean_word", "all_rules"}
    # the tiny config already has four answers, no NLL term, no verdict pairs and no interpolation: those
    # variants would repeat `paper`
    repeats = {"candidates_4", "no_nll", "no_verdict_pairs", "no_interpolation", "dpo_random"}
    assert set(names) == set(VARIANTS) - world_only - repeats
    configs = {name: variant_config(base, name, 7, tmp_path / "abl") for name in set(VARIANTS) - world_only}
    assert {c.loop.run_dir for c in configs.values()} == {
        str(tmp_path / "abl" / f"{n}-seed7") for n in set(VARIANTS) - world_only
    }
    assert all(c.loop.seed == 7 for c in configs.values())
    assert configs["judge_k1"].judge.samples == 1 and configs["paper"].judge.samples == 3
    assert configs["candidates_4"].candidates.n == 4
    assert configs["ift_only"].loop.ift_only and configs["sft_best"].dpo.method == "sft_best"
    assert configs["length_control"].pairs.length_control_rho == 0.2
    assert configs["anchored_rejection"].pairs.anchored_rejection
    assert configs["consistency"].dpo.consistency and configs["meta_judge"].loop.meta_judge
    assert configs["verdict_pairs"].loop.verdict_pairs == 1000 and configs["paper"].loop.verdict_pairs == 0
    assert configs["dpo_interpolated"].dpo.interpolation == 0.7 and configs["paper"].dpo.interpolation == 1
    assert configs["pairwise"].pairs.mode == "pairwise"
    assert configs["no_nll"].dpo.nll_weight == 0 and configs["weak_dpo"].dpo.epochs == 1
    assert base["judge"]["samples"] == 3  # the base dict is not changed by a variant


def test_world_variants_change_the_pairs_source_and_the_eft_answers(tmp_path: Path) -> None:
    import yaml

    from srlm.config import default_config_path

    world = yaml.safe_load(default_config_path().read_text())
    # the world default has four answers, trains verdict pairs from iteration 2, interpolates and groups
    # DPO batches by length: those variants would repeat it
    repeats = {"candidates_4", "verdict_pairs_later", "dpo_interpolated", "dpo_grouped"}
    assert set(applicable(world)) == set(VARIANTS) - repeats
    names = ("paper", "synthetic_eft", "more_model_eft", "oracle_pairs", "clean_word", "all_rules")
    configs = {name: variant_config(world, name, 0, tmp_path) for name in names}
    assert configs["paper"].world is not None and configs["paper"].world.eft_model_answers == 2
    assert configs["paper"].candidates.n == 4 and variant_config(world, "candidates_8", 0, tmp_path).candidates.n == 8
    assert configs["paper"].world.clean_line == "verdict"
    assert configs["clean_word"].world is not None and configs["clean_word"].world.clean_line == "word"
    assert configs["paper"].world is not None and configs["paper"].world.rules == list(LOCAL_KINDS)
    assert configs["all_rules"].world is not None and configs["all_rules"].world.rules == list(KINDS)
    assert configs["synthetic_eft"].world is not None and configs["synthetic_eft"].world.eft_model_answers == 0
    assert configs["more_model_eft"].world is not None and configs["more_model_eft"].world.eft_model_answers == 6
    assert configs["oracle_pairs"].pairs.source == "oracle" and configs["paper"].pairs.source == "judge"
    plain = {name: variant_config(world, name, 0, tmp_path) for name in ("no_verdict_pairs", "no_interpolation")}
    assert configs["paper"].loop.verdict_pairs == 2000 and configs["paper"].dpo.interpolation == 0.7
    assert plain["no_verdict_pairs"].loop.verdict_pairs == 0 and plain["no_interpolation"].dpo.interpolation == 1
    # the paper's ablations cannot train judge pairs: their variants turn them off
    for name in ("ift_only", "sft_best"):
        assert variant_config(world, name, 0, tmp_path).loop.verdict_pairs == 0
    assert variant_config(world, "verdict_pairs", 0, tmp_path).loop.verdict_pairs_from == 1
    # anchored rejection cannot stand beside length control: its variant turns the latter off
    world["pairs"]["length_control_rho"] = 0.2
    anchored = variant_config(world, "anchored_rejection", 0, tmp_path)
    assert anchored.pairs.anchored_rejection and anchored.pairs.length_control_rho is None


def test_a_variant_that_would_not_change_the_config_is_left_out(base: dict[str, Any]) -> None:
    assert "judge_k1" in applicable(base) and "length_control" in applicable(base)
    base["judge"]["samples"] = 1
    base["pairs"] = {**base.get("pairs", {}), "length_control_rho": 0.2}
    names = applicable(base)
    assert "judge_k1" not in names and "length_control" not in names
    assert names[0] == "paper" and "anchored_rejection" in names


def test_sft_is_shared_only_between_runs_with_the_same_sft_inputs(base: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "abl"
    paper, k1, ift = (variant_config(base, name, 0, out) for name in ("paper", "judge_k1", "ift_only"))
    assert sft_key(paper, "m1") == sft_key(k1, "m1")  # judge.samples does not change SFT
    assert sft_key(paper, "m1") != sft_key(ift, "m1")  # IFT only does
    assert sft_key(paper, "sft_baseline") == sft_key(ift, "sft_baseline")  # the baseline is IFT only anyway
    assert sft_key(paper, "m1") != sft_key(variant_config(base, "paper", 1, out), "m1")  # another seed


def test_finished_means_evaluated_under_the_same_config(base: dict[str, Any], tmp_path: Path) -> None:
    cfg = variant_config(base, "paper", 0, tmp_path / "abl")
    root = Path(cfg.loop.run_dir)
    (root / "eval").mkdir(parents=True)
    (root / "config.yaml").write_text(dump_config(cfg))
    assert not is_finished(cfg)
    (root / "eval" / "metrics.json").write_text("{}")
    assert is_finished(cfg)
    base["judge"]["samples"] = 1  # the same run dir, another config: not this run's result
    assert not is_finished(variant_config(base, "paper", 0, tmp_path / "abl"))


def test_run_summary_and_table_row(base: dict[str, Any], tmp_path: Path) -> None:
    summaries = []
    for seed, (oracle, win, pairs) in enumerate([(2.0, 0.5, [6, 4]), (3.0, 0.7, [8, 6])]):
        cfg = variant_config(base, "length_control", seed, tmp_path / "abl")
        root = Path(cfg.loop.run_dir)
        metrics = {
            "models": {"m1": {"oracle_score_mean": 1.0}, "m3": {"oracle_score_mean": oracle, "judge": None},
                       "sft_baseline": {}},
            "head_to_head": [{"a": "m3", "b": "m1", "judge": "judge_model", "win_rate": 0.1},
                             {"a": "m3", "b": "m1", "judge": "oracle", "win_rate": win}],
        }  # fmt: skip
        (root / "eval").mkdir(parents=True)
        (root / "eval" / "metrics.json").write_text(json.dumps(metrics))
        for t, n in enumerate(pairs, start=1):
            (root / f"iter{t}").mkdir()
            (root / f"iter{t}" / "pairs.jsonl").write_text("")
            write_manifest(root / f"iter{t}" / "pairs.jsonl", stage="pairs", config_hash="x", inputs=[], rows=n)
        summaries.append(run_summary(cfg))
    assert summaries[0] == {"final": "m3", "stopped_early": None, "pairs": [6, 4], "oracle": 2.0, "vs_m1": 0.5,
                            "vs_baseline": None, "judge_accuracy": None}  # fmt: skip
    row = table_row("length_control", summaries)
    assert row == ["length_control", "`pairs.length_control_rho=0.2`", "2", "no", "7.0 ± 1.4 / 5.0 ± 1.4", "m3",
                   "2.50 ± 0.71", "0.60 ± 0.14", "–", "–"]  # fmt: skip
    stopped = dict(summaries[0], final="m1", stopped_early=1, pairs=[0, 0], vs_m1=None)
    assert table_row("paper", [stopped])[2:6] == ["1", "it. 1", "0.0 / 0.0", "m1"]


def test_unknown_variant_is_a_config_error(tmp_path: Path) -> None:
    from srlm.ablate import run_ablations

    with pytest.raises(ConfigError, match="unknown variant"):
        run_ablations(tmp_path / "c.yaml", [], [0], ["paper", "nope"], tmp_path / "out")


@pytest.mark.parametrize("shipped", ["default.yaml", "paper-llama2-70b.yaml", "lora-example.yaml"])
def test_every_variant_of_every_shipped_config_is_valid(shipped: str, tmp_path: Path) -> None:
    import yaml

    from srlm.config import default_config_path

    base = yaml.safe_load((default_config_path().parent / shipped).read_text())
    for name in applicable(base):
        cfg = variant_config(base, name, 0, tmp_path)
        assert cfg.loop.run_dir == str(tmp_path / f"{name}-seed0")
