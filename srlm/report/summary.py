"""The end-of-run table on the console: one row per model, then each head to head with its verdict."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from srlm.stages.common import console


def _fmt(value: Any, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _ci(pair: Any) -> str:
    return "–" if not pair or pair[0] is None else f"[{pair[0]:.2f}, {pair[1]:.2f}]"


def print_summary(metrics: dict[str, Any]) -> None:
    """One row per model, then W/T/L lines with a verdict read off the CI."""
    table = Table(title="srlm eval", header_style="bold")
    for column in ("model", "oracle mean [95% CI]", "self-judge mean", "judge pairwise acc.", "words"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for name, m in metrics["models"].items():
        oracle = f"{_fmt(m.get('oracle_score_mean'))} {_ci(m.get('oracle_score_ci95'))}"
        accuracy = (m.get("judge") or {}).get("pairwise_accuracy")
        table.add_row(
            name,
            oracle,
            _fmt(m.get("self_judge_score_mean")),
            _fmt(accuracy),
            _fmt(m.get("answer_words_mean"), 1),
        )
    console.print(table)
    for e in metrics["head_to_head"]:
        console.print(
            f"{e['a'].upper()} vs {e['b'].upper()} ({e['judge']}): "
            f"W/T/L {e['wins']}/{e['ties']}/{e['losses']}, "
            f"win rate {_fmt(e['win_rate'])} {_ci(e['win_rate_ci95'])}, LC {_fmt(e.get('lc_win_rate'))} "
            f"— {e['verdict']}"
        )
    for name, a in metrics.get("alpaca_eval", {}).items():
        console.print(
            f"{name.upper()} alpaca_eval (official, vs {', '.join(a.get('reference') or ['?'])}): "
            f"win rate {_fmt(a['win_rate'], 1)} % ± {_fmt(a['standard_error'], 1)}, LC {_fmt(a['lc_win_rate'], 1)} %"
        )
    for warning in metrics.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {warning}")
