"""The end-of-run table's lines: sampled answers, the generator-verifier gap, DPO and per-check verdicts."""

from __future__ import annotations

from typing import Any

from srlm.console import console
from srlm.report.summary import iteration_line, print_summary

HEALTH: dict[str, Any] = {
    "iteration": 1,
    "pairs_source": "oracle",
    "pairs": 90,
    "prompts": 100,
    "pair_oracle": {"precision": 1.0, "chosen_longer": 0.25, "grade_gap": 1.5},
    "best_of_n": {"prompts": 100, "judge_best": 3.1, "mean": 3.0, "reference_best": 3.8, "captured": 0.125,
                  "captured_ci95": [0.05, 0.2], "reference_pairs_grade_gap": 1.5},
    "dpo": {"loss": {"first": 0.693, "last": 0.61}, "rewards_margins": {"first": 0.0, "last": 0.15}},
    "judge_checks": {"kinds": {"topic": {"verdict": 0.99}, "include": {"verdict": 0.41}, "list": {"verdict": None}}},
}  # fmt: skip


def test_iteration_line_names_the_control_the_gap_dpo_and_the_checks() -> None:
    line = iteration_line(HEALTH)
    assert "oracle pairs: a control, not the method" in line
    assert "precision 1.00, chosen longer 0.25; grade gap 1.50 (reference pairs 1.50); best of N" in line
    assert "best of N by the judge 3.10 / mean 3.00 / reference best 3.80: captured 0.12 [0.05, 0.20]" in line
    assert "DPO loss 0.693 -> 0.610, margin 0.00 -> 0.15" in line
    assert line.endswith("judge verdicts right per check: topic 0.99, include 0.41")  # no verdict: left out
    replayed = iteration_line(HEALTH | {"eft_replay": {"seed_agreement": 0.475, "pairs": 732}})
    assert "EFT replay: seed score matched in 0.47, 732 judge pairs; DPO loss" in replayed
    counts = {"pairs": 300, "flipped_yes": 218, "flipped_no": 74, "no_verdict_line": 8}
    flipped = iteration_line(HEALTH | {"verdict_pairs": counts})
    assert "captured 0.12 [0.05, 0.20]; 292 flipped-verdict pairs; DPO loss" in flipped
    bare = iteration_line({"iteration": 2, "pairs": 5, "prompts": 10})
    assert bare == "iteration 2: 5 pairs of 10 prompts"


def test_the_table_shows_the_sampled_mean_and_the_paired_difference() -> None:
    model = {"oracle_score_mean": 2.9, "oracle_score_ci95": [2.8, 3.0], "answer_words_mean": 4.0,
             "sampled": {"oracle_score_mean": 3.1, "oracle_score_ci95": [3.0, 3.2],
                         "oracle_criteria_pass_rate": {"all": 0.437, "clean": 0.5}}}  # fmt: skip
    entry = {"a": "m2", "b": "m1", "judge": "oracle", "wins": 5, "ties": 3, "losses": 2, "win_rate": 0.65,
             "win_rate_ci95": [0.55, 0.75], "lc_win_rate": 0.6, "verdict": "better", "sampled_delta": 0.2,
             "sampled_delta_ci95": [0.1, 0.3], "sampled_verdict": "better"}  # fmt: skip
    width = console.width
    console.width = 200  # one line per table row, as on a wide terminal
    try:
        with console.capture() as captured:
            changes = [{"a": "m2", "b": "m1", "delta": -0.0284, "delta_ci95": [-0.0436, -0.0129], "prompts": 300,
                        "verdict": "worse"},
                       {"a": "m3", "b": "m1", "delta": None, "delta_ci95": [None, None], "prompts": 0,
                        "verdict": "no clear difference (CI includes 0)"},
                       {"a": "m3", "b": "m2", "delta": -0.5, "delta_ci95": [None, None], "prompts": 1,
                        "verdict": "no clear difference (CI includes 0)"}]  # fmt: skip
            print_summary({"models": {"m1": model, "m2": model}, "head_to_head": [entry], "judge_changes": changes,
                           "iterations": [HEALTH]})  # fmt: skip
    finally:
        console.width = width
    text = captured.get()
    assert "sampled mean" in text and "3.10 [3.00, 3.20]" in text
    assert "every rule met" in text and text.count("0.44") == 2  # m1 and m2: sampled answers meeting every rule
    assert "M2 vs M1 (oracle): W/T/L 5/3/2" in text and "sampled +0.200 [0.10, 0.30] — better" in text
    assert "judge M2 vs M1: pairwise accuracy -0.028 [-0.044, -0.013] — worse" in text
    assert "judge M3 vs M1" not in text  # no pair both judges scored: nothing to say
    assert "judge M3 vs M2: pairwise accuracy -0.500 – — no clear" in text  # one prompt: no CI
    assert "iteration 1: 90 pairs of 100 prompts" in text
