"""report.md: the report's tables as markdown, for one run or several."""

from __future__ import annotations

from srlm.report.tables import (
    ALPACA_EVAL_HEADER,
    ALPACA_EVAL_TITLE,
    CHECKS_HEADER,
    GAP_HEADER,
    H2H_HEADER,
    HEALTH_HEADER,
    MODEL_HEADER,
    RunData,
    alpaca_eval_rows,
    checks_rows,
    gap_rows,
    h2h_rows,
    health_rows,
    model_rows,
    run_warnings,
)
from srlm.stages.data_checks import DATA_CHECK_HEADER
from srlm.stages.data_checks import rows as data_check_rows


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    # A model can write '|' or a newline; both would break a markdown table row.
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]


def render_markdown(runs: list[RunData]) -> str:
    lines = ["# srlm report: " + ", ".join(run.name for run in runs), ""]
    for run in runs:
        lines += [f"## {run.name}", "", "### Models", "", *_md_table(MODEL_HEADER, model_rows(run))]
        lines += ["", "### Head to head", "", *_md_table(H2H_HEADER, h2h_rows(run))]
        lines += ["", "### Judge health per iteration", "", *_md_table(HEALTH_HEADER, health_rows(run))]
        lines += ["", "### Generator–verifier gap and DPO per iteration", "", *_md_table(GAP_HEADER, gap_rows(run))]
        if data := data_check_rows(run.metrics.get("data_checks")):
            lines += ["", "### Data checks", "", *_md_table(DATA_CHECK_HEADER, data)]
        if checks := checks_rows(run):
            lines += ["", "### Judge verdicts per check (against the oracle)", "", *_md_table(CHECKS_HEADER, checks)]
        if official := alpaca_eval_rows(run):
            lines += ["", f"### {ALPACA_EVAL_TITLE}", "", *_md_table(ALPACA_EVAL_HEADER, official)]
        warnings = run_warnings(run)
        lines += ["", "### Warnings", ""] + ([f"- {w}" for w in warnings] or ["none"])
        lines += ["", f"Tie rule: {run.metrics.get('settings', {}).get('tie_rule', '–')}", ""]
    return "\n".join(lines) + "\n"
