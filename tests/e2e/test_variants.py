"""Each ablation switch end to end through `srlm run` on the tiny model, and `srlm ablate` itself.

M1 is trained once for the module and copied into each run dir (a copied model dir with its
manifest counts as done), so each test spends its time on the part its switch changes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from srlm.config import config_from_dict
from srlm.data.io import read_rows
from srlm.rundir import RunDir, is_done, manifest_path
from tests.helpers import tiny_config

pytestmark = pytest.mark.slow

FAST = {
    "prompts": {"n": 4},
    "candidates": {"n": 4},
    "loop": {"iterations": 1},
    "eval": {"self_judge": False, "max_prompts": 4},
}


def srlm(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "srlm", *args], capture_output=True, text=True, timeout=900)
    assert proc.returncode in (0, 3), proc.stderr[-3000:]  # 3: the run stopped early (checked by the caller)
    return proc


def config_data(tmp: Path, model: Path, name: str, **sections: dict[str, Any]) -> dict[str, Any]:
    data = tiny_config(tmp, model, **FAST)
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    data["loop"]["run_dir"] = str(tmp / name)
    return data


@pytest.fixture(scope="module")
def tiny_m1(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """M1 = SFT(tiny M0, fixture IFT + EFT), trained once; its judge writes parsable scores."""
    from srlm.training import sft

    tmp = tmp_path_factory.mktemp("m1")
    cfg = config_from_dict(config_data(tmp, tiny_model_dir, "shared"))
    return sft.run(cfg, RunDir(Path(cfg.loop.run_dir)))


def run_variant(tmp: Path, model: Path, m1: Path | None, name: str, **sections: dict[str, Any]) -> Path:
    """`srlm run` of one variant; M1 copied in when given. Returns the run dir."""
    run = tmp / name
    if m1 is not None:
        run.mkdir()
        shutil.copytree(m1, run / "m1")
        shutil.copy2(manifest_path(m1), manifest_path(run / "m1"))
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config_data(tmp, model, name, **sections)))
    proc = srlm("run", str(path))
    assert proc.returncode == (3 if stopped(run) else 0) and (run / "eval" / "metrics.json").is_file()
    return run


def stopped(run: Path) -> dict[str, Any] | None:
    path = run / "stopped_early.json"
    return json.loads(path.read_text()) if path.is_file() else None


def manifest(path: Path) -> dict[str, Any]:
    return json.loads(manifest_path(path).read_text())


def test_ift_only_trains_m1_without_eft(tmp_path: Path, tiny_model_dir: Path) -> None:
    run = run_variant(tmp_path, tiny_model_dir, None, "ift", loop={"ift_only": True}, sft={"epochs": 2})
    m1 = manifest(run / "m1")
    assert m1["rows"] == 40 and not any("eft" in path for path in m1["inputs"])  # 40 IFT rows, no EFT
    assert is_done(run / "m2") or "no usable preference pairs" in stopped(run)["reason"]  # type: ignore[index]


def test_judge_k1_samples_one_judgment(tmp_path: Path, tiny_model_dir: Path, tiny_m1: Path) -> None:
    run = run_variant(tmp_path, tiny_model_dir, tiny_m1, "k1", judge={"samples": 1})
    rows = read_rows(run / "iter1" / "judgments.jsonl")
    assert len(rows) == 16 and all(len(row["samples"]) == 1 for row in rows)
    assert manifest(run / "iter1" / "judgments.jsonl")["counts"]["samples"] == 16


def test_length_control_pairs_follow_the_rho_rule(tmp_path: Path, tiny_model_dir: Path, tiny_m1: Path) -> None:
    rho = 0.4
    run = run_variant(tmp_path, tiny_model_dir, tiny_m1, "lc", pairs={"length_control_rho": rho})
    scores = {r["id"]: r["score"] for r in read_rows(run / "iter1" / "judgments.jsonl")}
    candidates = read_rows(run / "iter1" / "candidates.jsonl")
    pairs = read_rows(run / "iter1" / "pairs.jsonl")
    assert pairs and is_done(run / "m2")
    for pair in pairs:
        group = [(c["id"], len(c["response"]), scores[c["id"]]) for c in candidates if c["prompt_id"] == pair["id"]]
        scored = [g for g in group if g[2] is not None]
        top, bottom = max(s for *_, s in scored), min(s for *_, s in scored)
        upper = [g for g in scored if g[2] >= top - rho * (top - bottom)]
        lower = [g for g in scored if g[2] <= bottom + rho * (top - bottom)]
        assert pair["chosen_id"] == min(upper, key=lambda g: g[1])[0]
        assert pair["rejected_id"] == max(lower, key=lambda g: g[1])[0]


def test_sft_best_trains_sft_on_the_chosen_answers(tmp_path: Path, tiny_model_dir: Path, tiny_m1: Path) -> None:
    run = run_variant(tmp_path, tiny_model_dir, tiny_m1, "sftbest", dpo={"method": "sft_best"})
    m2 = manifest(run / "m2")
    assert m2["stage"] == "iter1 sft_best" and m2["rows"] == len(read_rows(run / "iter1" / "pairs.jsonl")) > 0


def test_consistency_rejudges_iteration_2_with_m2s_predecessor(
    tmp_path: Path, tiny_model_dir: Path, tiny_m1: Path
) -> None:
    run = run_variant(tmp_path, tiny_model_dir, tiny_m1, "cream", dpo={"consistency": True}, loop={"iterations": 2})
    assert not (run / "iter1" / "consistency.jsonl").exists()  # iteration 1: plain DPO
    if stopped(run):
        pytest.fail(f"the tiny run stopped early, so iteration 2 was not exercised: {stopped(run)}")
    pair_prompts = {p["id"] for p in read_rows(run / "iter2" / "pairs.jsonl")}
    rows = read_rows(run / "iter2" / "consistency.jsonl")
    assert {r["id"] for r in rows} == pair_prompts and all(-1 <= r["kendall_tau"] <= 1 for r in rows)
    previous = read_rows(run / "iter2" / "judgments_previous.jsonl")
    assert len(previous) == 4 * len(pair_prompts) and all(len(r["samples"]) == 3 for r in previous)
    assert any(path.endswith("consistency.jsonl") for path in manifest(run / "m3")["inputs"])


def test_pairwise_mode_compares_every_two_answers(tmp_path: Path, tiny_model_dir: Path, tiny_m1: Path) -> None:
    run = run_variant(tmp_path, tiny_model_dir, tiny_m1, "pairwise", pairs={"mode": "pairwise"})
    rows = read_rows(run / "iter1" / "comparisons.jsonl")
    assert len(rows) == 4 * 6 and not (run / "iter1" / "judgments.jsonl").exists()
    for row in rows:
        if None in (row["verdict_ab"], row["verdict_ba"]):
            assert row["outcome"] is None
        elif row["verdict_ab"] == row["verdict_ba"]:  # the same letter in both orders: position bias
            assert row["outcome"] == 0.5
    # The tiny model never learned pairwise verdicts; the run either built pairs or stopped saying so.
    if stopped(run):
        assert "no usable preference pairs" in stopped(run)["reason"]  # type: ignore[index]
    else:
        assert is_done(run / "m2") and read_rows(run / "iter1" / "pairs.jsonl")


def test_meta_judge_adds_judge_pairs_to_dpo(tmp_path: Path, tiny_model_dir: Path, tiny_m1: Path) -> None:
    run = run_variant(tmp_path, tiny_model_dir, tiny_m1, "meta", loop={"meta_judge": True})
    compared = read_rows(run / "iter1" / "meta_judgments.jsonl")
    assert compared and all(row["scores"][0] > row["scores"][1] for row in compared)
    meta_pairs = read_rows(run / "iter1" / "meta_pairs.jsonl")
    counts = manifest(run / "iter1" / "meta_pairs.jsonl")["counts"]
    assert sum(counts.values()) == len(compared) and counts["kept"] == len(meta_pairs)
    answer_pairs = read_rows(run / "iter1" / "pairs.jsonl")
    assert manifest(run / "m2")["rows"] == len(answer_pairs) + len(meta_pairs)


def test_eft_replay_adds_seed_judgment_pairs_to_dpo(tmp_path: Path, tiny_model_dir: Path, tiny_m1: Path) -> None:
    run = run_variant(tmp_path, tiny_model_dir, tiny_m1, "replay", loop={"eft_replay": 10})
    judged = read_rows(run / "iter1" / "eft_judgments.jsonl")
    assert len(judged) == 10 and all(len(row["samples"]) == 3 for row in judged)
    replay_pairs = read_rows(run / "iter1" / "eft_pairs.jsonl")
    counts = manifest(run / "iter1" / "eft_pairs.jsonl")["counts"]
    assert counts["rows"] == 10 and counts["pairs"] == len(replay_pairs) > 0
    assert all(row["chosen"] != row["rejected"] and row["rejected_score"] != row["seed_score"] for row in replay_pairs)
    answer_pairs = read_rows(run / "iter1" / "pairs.jsonl")
    assert manifest(run / "m2")["rows"] == len(answer_pairs) + len(replay_pairs)
    health = json.loads((run / "eval" / "metrics.json").read_text())["iterations"][0]
    assert health["eft_replay"]["pairs"] == len(replay_pairs)


def test_verdict_pairs_add_flipped_verdict_pairs_to_dpo(tmp_path: Path, tiny_model_dir: Path, tiny_m1: Path) -> None:
    eft = tmp_path / "verdict_eft.jsonl"
    rows = [{"prompt": f"Say the word {w} please", "response": w, "judgment": f"says {w} : {w} , yes\nScore: 5"}
            for w in ("sea", "fish", "tree", "blue", "red", "green")]  # fmt: skip
    eft.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    loop = {"verdict_pairs": 4, "iterations": 2, "verdict_pairs_from": 2}
    run = run_variant(tmp_path, tiny_model_dir, tiny_m1, "verdicts", data={"eft": str(eft)}, loop=loop)
    # loop.verdict_pairs_from: 2: iteration 1's DPO trains the answer pairs alone
    assert not (run / "iter1" / "verdict_pairs.jsonl").exists()
    assert manifest(run / "m2")["rows"] == len(read_rows(run / "iter1" / "pairs.jsonl"))
    flipped = read_rows(run / "iter2" / "verdict_pairs.jsonl")
    assert len(flipped) == 4 and manifest(run / "iter2" / "verdict_pairs.jsonl")["counts"]["flipped_yes"] == 4
    assert all(row["rejected"] == row["chosen"].replace(", yes", ", no") for row in flipped)
    answer_pairs = read_rows(run / "iter2" / "pairs.jsonl")
    assert manifest(run / "m3")["rows"] == len(answer_pairs) + len(flipped)
    assert str(run / "iter2" / "verdict_pairs.jsonl") in manifest(run / "m3")["inputs"]
    health = json.loads((run / "eval" / "metrics.json").read_text())["iterations"]
    assert "verdict_pairs" not in health[0] and health[1]["verdict_pairs"]["pairs"] == 4


def test_anchored_rejection_takes_the_rejected_answers_from_m1_in_iteration_2(
    tmp_path: Path, tiny_model_dir: Path, tiny_m1: Path
) -> None:
    sections: dict[str, Any] = {"loop": {"iterations": 2}, "pairs": {"anchored_rejection": True}}
    run = run_variant(tmp_path, tiny_model_dir, tiny_m1, "anchored", **sections)
    assert not (run / "iter1" / "anchor_candidates.jsonl").exists()  # iteration 1: the paper's pairs
    anchors = {row["id"]: row for row in read_rows(run / "iter2" / "anchor_candidates.jsonl")}
    assert len(anchors) == 4 * 4 and str(run / "m1") in manifest(run / "iter2" / "anchor_candidates.jsonl")["inputs"]
    judged = read_rows(run / "iter2" / "anchor_judgments.jsonl")
    assert str(run / "m2") in manifest(run / "iter2" / "anchor_judgments.jsonl")["inputs"]  # the current model judges
    assert {row["id"] for row in judged} == set(anchors)
    own = {row["id"] for row in read_rows(run / "iter2" / "candidates.jsonl")}
    answer_pairs = read_rows(run / "iter2" / "pairs.jsonl")
    for pair in answer_pairs:
        assert pair["chosen_id"] in own and pair["rejected"] == anchors[pair["rejected_id"]]["response"]
        assert pair["score_chosen"] > pair["score_rejected"]
    health = json.loads((run / "eval" / "metrics.json").read_text())["iterations"]
    assert "anchored" not in health[0] and health[1]["anchored"]["anchor_candidates"] == 16


def test_ablate_runs_variants_shares_m1_and_skips_finished_runs(
    tmp_path: Path, tiny_model_dir: Path, tiny_m1: Path
) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(config_data(tmp_path, tiny_model_dir, "unused")))
    out = tmp_path / "abl"
    (out / "paper-seed0").mkdir(parents=True)
    shutil.copytree(tiny_m1, out / "paper-seed0" / "m1")  # the first variant's M1; the second must copy it
    shutil.copy2(manifest_path(tiny_m1), manifest_path(out / "paper-seed0" / "m1"))
    args = ["ablate", str(config), "--seeds", "0", "--variants", "paper,judge_k1", "--out", str(out)]
    first = srlm(*args)
    assert "same SFT inputs" in first.stderr
    assert manifest(out / "judge_k1-seed0" / "m1")["sha256"] == manifest(tiny_m1)["sha256"]
    for name in ("paper", "judge_k1"):
        assert (out / f"{name}-seed0" / "eval" / "metrics.json").is_file()
    table = (out / "ablations.md").read_text()
    assert "| paper | (none) | 1 |" in table and "| judge_k1 | `judge.samples=1` | 1 |" in table
    assert (out / "report.html").is_file() and "paper-seed0" in (out / "report.md").read_text()
    again = srlm(*args)
    assert again.stderr.count("finished earlier, skipped") == 2
