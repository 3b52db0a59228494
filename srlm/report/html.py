"""report.html: one self-contained page (inline CSS, base64 PNGs, no script, no external URL).

Every string that comes from a run — model answers, prompts, judgments, config, metric names,
run names — goes through ``html.escape`` in ``_e`` before it is placed in the page; the page
has no JavaScript of its own, so the sample browser uses ``<details>`` elements.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from srlm.report.tables import (
    ALPACA_EVAL_HEADER,
    ALPACA_EVAL_TITLE,
    CHECKS_HEADER,
    GAP_HEADER,
    H2H_HEADER,
    HEALTH_HEADER,
    MODEL_HEADER,
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

if TYPE_CHECKING:
    from srlm.report.tables import RunData

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
.runs { display: flex; gap: 2em; flex-wrap: wrap; } .run { flex: 1 1 500px; min-width: 0; }
pre { background: #f6f6f6; padding: 0.6em; white-space: pre-wrap; word-break: break-word; }
.warn { color: #a15c00; } .omitted { color: #555; font-style: italic; }
.sample { border: 1px solid #ddd; margin: 0.5em 0; padding: 0.4em; }
.chosen { border-left: 4px solid #2a9d5c; padding-left: 0.5em; }
.rejected { border-left: 4px solid #d1495b; padding-left: 0.5em; }
img { max-width: 100%; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figures(figures: dict[str, str | None]) -> str:
    parts = []
    for title, png in figures.items():
        if png is None:  # left out for want of data: the title says why, in one line
            parts.append(f'<p class="omitted">{_e(title)}.</p>')
            continue
        # base64 output is [A-Za-z0-9+/=] only, so it cannot break out of the attribute.
        parts.append(f'<h3>{_e(title)}</h3><img alt="{_e(title)}" src="data:image/png;base64,{png}">')
    return "\n".join(parts)


def _warnings(run: RunData) -> str:
    warnings = run_warnings(run)
    if not warnings:
        return "<p>No warnings.</p>"
    return "<ul>" + "".join(f'<li class="warn">{_e(w)}</li>' for w in warnings) + "</ul>"


def _sample(sample: dict[str, Any]) -> str:
    def side(name: str) -> str:
        judgments = "".join(f"<pre>{_e(text)}</pre>" for text in sample[f"judgments_{name}"])
        return (
            f'<div class="{name}"><b>{name}</b> (score {_e(sample[f"score_{name}"])})'
            f"<pre>{_e(sample[name])}</pre><details><summary>judgments</summary>{judgments}</details></div>"
        )

    summary = f"{_e(sample['iteration'])}: {_e(sample['prompt'][:120])}"
    return (
        f'<details class="sample"><summary>{summary}</summary><p><b>prompt</b></p>'
        f"<pre>{_e(sample['prompt'])}</pre>{side('chosen')}{side('rejected')}</details>"
    )


def _run_section(run: RunData) -> str:
    settings = run.metrics.get("settings", {})
    timings = _table(["stage", "seconds"], [[stage, f"{seconds:.1f}"] for stage, seconds in run.timings])
    samples = "".join(_sample(s) for s in run.samples) or "<p>No pairs in this run.</p>"
    official = alpaca_eval_rows(run)
    alpaca_eval = f"<h3>{_e(ALPACA_EVAL_TITLE)}</h3>{_table(ALPACA_EVAL_HEADER, official)}" if official else ""
    verdicts = checks_rows(run)
    checks = (
        f"<h3>Judge verdicts per check (against the oracle)</h3>{_table(CHECKS_HEADER, verdicts)}" if verdicts else ""
    )
    return f"""<div class="run"><h2>{_e(run.name)}</h2>
<p>{_e(run.root)}</p>
<h3>Models</h3>{_table(MODEL_HEADER, model_rows(run))}
<h3>Head to head</h3>{_table(H2H_HEADER, h2h_rows(run))}
{alpaca_eval}
<h3>Judge health per iteration</h3>{_table(HEALTH_HEADER, health_rows(run))}
<h3>Generator–verifier gap and DPO per iteration</h3>{_table(GAP_HEADER, gap_rows(run))}
<h3>Data checks</h3>{_table(DATA_CHECK_HEADER, data_check_rows(run.metrics.get("data_checks")))}
{checks}
<h3>Warnings and alarms</h3>{_warnings(run)}
<h3>Settings</h3>{_table(["setting", "value"], [[k, str(v)] for k, v in settings.items()])}
<h3>Sample pairs (chosen / rejected, with the judgments)</h3>{samples}
<details><summary>Stage timings</summary>{timings}</details>
<details><summary>Resolved config</summary><pre>{_e(run.config_text)}</pre></details>
</div>"""


def render_html(runs: list[RunData], figures: dict[str, str | None]) -> str:
    title = "srlm report: " + ", ".join(run.name for run in runs)
    sections = "\n".join(_run_section(run) for run in runs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>{STYLE}</style></head>
<body><h1>{_e(title)}</h1>
<p>Every number is read from each run's <code>eval/metrics.json</code>; confidence intervals are
95 % bootstrap over prompts. A verdict says "better" only when the whole CI is above 0.5.</p>
<h2>Figures</h2>
{_figures(figures)}
<div class="runs">{sections}</div>
</body></html>
"""
