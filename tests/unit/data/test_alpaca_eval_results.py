"""alpaca_eval's results read back: leaderboard.csv and annotations.json -> metrics.json -> report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from srlm.data.alpaca_eval import official_results, read_annotations, read_leaderboard, summarize_annotations
from srlm.data.io import DataError
from srlm.stages import evaluate
from tests.unit.stages.test_evaluate import Factory, fake_oracle, make_run

FIXTURES = Path(__file__).parents[2] / "fixtures" / "alpaca_eval"
BOARD = FIXTURES / "m2" / "weighted_alpaca_eval_gpt4_turbo" / "leaderboard.csv"


def test_leaderboard_rows_by_model() -> None:
    board = read_leaderboard(BOARD)
    assert list(board) == ["m2", "gpt4_1106_preview", "some-other-model"]
    assert board["m2"] == {
        "win_rate": 12.5,
        "standard_error": 1.1,
        "lc_win_rate": 15.25,
        "lc_standard_error": 0.6,
        "n": 805,
        "avg_length": 1552.0,
    }
    assert board["gpt4_1106_preview"]["lc_standard_error"] is None  # an empty cell


def test_leaderboard_without_lc_columns(tmp_path: Path) -> None:
    old = tmp_path / "leaderboard.csv"
    old.write_text(",win_rate,standard_error,n_total,avg_length\nm1,44.0,4.99,100,798\n")
    assert read_leaderboard(old)["m1"]["lc_win_rate"] is None and read_leaderboard(old)["m1"]["n"] == 100


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (",win_rate,n_total\nm1,high,3\n", r"leaderboard\.csv:2: field 'win_rate' is not a number: 'high'"),
        (",win_rate,n_total\nm1,4\n", r"leaderboard\.csv:2: 2 cells for 3 columns"),
        (",accuracy\nm1,4\n", r"leaderboard\.csv:1: not an alpaca_eval leaderboard"),
    ],
)
def test_bad_leaderboards(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "leaderboard.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_leaderboard(path)


def test_annotations_summary_by_hand() -> None:
    m2 = summarize_annotations(read_annotations(BOARD.parent / "annotations.json"))["m2"]
    # preference - 1 over annotated entries: 1, 0, 0.5, 0.73 -> mean 0.5575; the null is counted apart.
    assert m2["win_rate"] == pytest.approx(55.75)
    assert (m2["n"], m2["n_wins"], m2["n_draws"], m2["n_wins_reference"], m2["unannotated"]) == (4, 2, 1, 1, 1)
    assert m2["reference"] == ["gpt4_1106_preview"] and m2["annotator"] == ["weighted_alpaca_eval_gpt4_turbo"]
    m1 = summarize_annotations(read_annotations(FIXTURES / "m1" / "alpaca_eval_gpt4" / "annotations.json"))["m1"]
    assert m1["win_rate"] == pytest.approx(37.5) and m1["n_draws"] == 1  # the legacy 0 is a draw
    assert m1["standard_error"] == pytest.approx(100 * (0.6875 / 3) ** 0.5 / 2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"preference": 3}, r"entry \[0\]: field 'preference' must be in \[1, 2\]"),
        ({"preference": "2"}, r"entry \[0\]: field 'preference' must be a number or null"),
        ({"generator_2": None}, r"entry \[0\]: field 'generator_2' must be a string"),
    ],
)
def test_bad_annotations(tmp_path: Path, change: dict[str, object], message: str) -> None:
    entry = {"instruction": "i", "output_1": "a", "output_2": "b", "generator_1": "r", "generator_2": "m1"}
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps([{**entry, "preference": 2, **change}]))
    with pytest.raises(DataError, match=message):
        read_annotations(path)


def test_official_results_prefer_the_leaderboard_and_keep_only_run_models() -> None:
    results = official_results([FIXTURES], ["m1", "m2", "m3"])
    assert set(results) == {"m1", "m2"}
    assert results["m2"]["win_rate"] == 12.5 and results["m2"]["lc_win_rate"] == 15.25 and results["m2"]["n"] == 805
    assert results["m2"]["reference"] == ["gpt4_1106_preview"] and len(results["m2"]["sources"]) == 2
    assert results["m1"]["win_rate"] == pytest.approx(37.5) and results["m1"]["lc_win_rate"] is None


def test_conflicting_numbers_for_one_model_are_an_error(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "a")
    other = tmp_path / "a" / "copy" / "leaderboard.csv"
    other.parent.mkdir()
    other.write_text(BOARD.read_text().replace("m2,12.5", "m2,13.5"))
    with pytest.raises(DataError, match="m2 has different alpaca_eval leaderboard numbers"):
        official_results([tmp_path / "a"], ["m2"])


def test_eval_stores_official_numbers_and_report_shows_them(tmp_path: Path) -> None:
    from srlm.report import write_report

    cfg, rd = make_run(tmp_path)
    metrics = json.loads(evaluate.run(cfg, rd, Factory(), fake_oracle, alpaca_eval_dir=FIXTURES).read_text())
    assert set(metrics["alpaca_eval"]) == {"m1", "m2"}
    assert metrics["alpaca_eval"]["m2"]["lc_win_rate"] == 15.25
    assert metrics["models"]["m2"]["oracle_score_mean"] == pytest.approx(1.8)  # our own numbers unchanged
    # A later `srlm eval` without the option keeps the imported numbers.
    again = json.loads(evaluate.run(cfg, rd, Factory(), fake_oracle).read_text())
    assert again["alpaca_eval"] == metrics["alpaca_eval"]
    page = write_report([rd.root]).read_text()
    assert "alpaca_eval (official numbers, read from alpaca_eval&#x27;s own files)" in page
    assert "<td>m2</td><td>weighted_alpaca_eval_gpt4_turbo</td><td>gpt4_1106_preview</td><td>12.5</td>" in page
    assert "<td>15.2</td>" in page  # LC, one decimal
    markdown = (rd.root / "report.md").read_text()
    assert "| m1 | alpaca_eval_gpt4 | gpt4 | 37.5 |" in markdown and "vs m1 (oracle)" in markdown


def test_results_written_next_to_the_export_are_found_without_the_option(tmp_path: Path) -> None:
    cfg, rd = make_run(tmp_path)
    target = rd.root / "eval" / "m2" / "weighted_alpaca_eval_gpt4_turbo"
    shutil.copytree(BOARD.parent, target)  # where alpaca_eval writes by default
    metrics = json.loads(evaluate.run(cfg, rd, Factory(), fake_oracle).read_text())
    assert set(metrics["alpaca_eval"]) == {"m2"} and metrics["alpaca_eval"]["m2"]["win_rate"] == 12.5


def test_a_given_dir_without_run_models_is_an_error(tmp_path: Path) -> None:
    cfg, rd = make_run(tmp_path)
    only_others = tmp_path / "others"
    only_others.mkdir()
    (only_others / "leaderboard.csv").write_text(",win_rate\ngpt4,20\n")
    with pytest.raises(DataError, match=r"no alpaca_eval leaderboard\.csv or annotations\.json row names a model"):
        evaluate.run(cfg, rd, Factory(), fake_oracle, alpaca_eval_dir=only_others)
    with pytest.raises(DataError, match="alpaca_eval results not found"):
        evaluate.run(cfg, rd, Factory(), fake_oracle, alpaca_eval_dir=tmp_path / "missing")
