"""Plots that do not mislead: natural ranges, whole iterations, no empty figure, every alarm listed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from srlm.report.html import render_html
from srlm.report.plots import _iterations, _model_lines, _pyplot, figures
from srlm.report.tables import RunData, run_warnings


def _run(**metrics: Any) -> RunData:
    judge = {"pairwise_accuracy": 0.722, "spearman": 0.41, "kendall_tau": 0.3, "exact_match": 0.2, "five_best": 0.5}
    models = {
        name: {"oracle_score_mean": 2.94 + i / 100, "oracle_score_ci95": [2.9, 3.0], "answer_words_mean": 40.0 + i,
               "judge": {**judge, "pairwise_accuracy": 0.722 + i / 1000}}
        for i, name in enumerate(["m1", "m2", "m3", "sft_baseline"])
    }  # fmt: skip
    health = [{"iteration": t, "prompts": 8, "pairs": 4, "tie_drop_rate": 0.1, "parse_failure_rate": 0.2,
               "mean_answer_words": 40.0, "mean_pair_gap": 1.5, "score_histogram": {"3": 2}, "alarms": []}
              for t in (1, 2)]  # fmt: skip
    return RunData("run", Path("run"), {"models": models, "iterations": health, "head_to_head": [], **metrics})


@pytest.mark.parametrize(("key", "low", "high"), [("pairwise_accuracy", 0, 1), ("spearman", -1, 1)])
def test_judge_quality_spans_each_measure_s_natural_range(key: str, low: float, high: float) -> None:
    fig, ax = _pyplot().subplots()
    _model_lines(ax, [_run()], key, lambda m: m["judge"][key])
    bottom, top = ax.get_ylim()
    assert bottom <= low and top >= high and top - bottom <= (high - low) * 1.1
    _pyplot().close(fig)


def test_lengths_start_at_zero_and_iterations_are_whole() -> None:
    fig, ax = _pyplot().subplots()
    _model_lines(ax, [_run()], "answer_words_mean", lambda m: m["answer_words_mean"])
    assert ax.get_ylim()[0] <= 0 < 43 < ax.get_ylim()[1]
    _iterations(ax, [_run()])
    assert list(ax.get_xticks()) == [1, 2]
    _pyplot().close(fig)


def test_a_plot_without_data_is_left_out_with_one_line_saying_why() -> None:
    drawn = figures([_run()])
    assert not any(title.startswith("Self-judge score per model (") for title in drawn)
    reason = "Self-judge score per model: not plotted, this run did not measure it (eval.self_judge is off)"
    assert drawn[reason] is None
    page = render_html([_run()], drawn)
    assert f'<p class="omitted">{reason}.</p>' in page and page.count("<img") == len(drawn) - 1


def test_alarms_of_iterations_and_dpo_are_warnings_even_when_metrics_did_not_list_them() -> None:
    dpo = {"loss": {"first": 0.69, "last": 0.69}, "alarms": ["DPO did not train: reward margin 0.000 -> 0.001"]}
    run = _run(warnings=["iteration 1: 50% of judge samples did not parse"])
    run.metrics["iterations"][0] |= {"alarms": ["50% of judge samples did not parse"], "dpo": dpo}
    assert run_warnings(run) == [
        "iteration 1: 50% of judge samples did not parse",
        "iteration 1: DPO did not train: reward margin 0.000 -> 0.001",
    ]
    page = render_html([run], {})
    assert "No warnings" not in page and "DPO did not train" in page
    assert "No warnings" in render_html([_run()], {})
