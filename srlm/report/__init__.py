"""Report: one self-contained `report.html` and a `report.md`, for one run or several side by side.

    srlm report RUN_DIR [RUN_DIR ...]

Reads only files: `eval/metrics.json` (written by `srlm eval`; every number comes from there),
`config.yaml`, the manifests' `seconds` (stage timings) and `iter<t>/pairs.jsonl` +
`judgments.jsonl` for a browsable sample of chosen/rejected answers with their judgments.
Plots are matplotlib PNGs embedded as base64 (no network, no external file); every piece of
model or data text is HTML-escaped, because a model can write `<script>`.

    tables.py    what the report shows of a run (RunData) and the rows of every table
    html.py      report.html;  markdown.py: report.md;  plots.py: the figures
    summary.py   the end-of-run table on the console

One run: the report goes to `RUN_DIR/report.{html,md}`. Several runs: to `out_dir`, default
`<first run's parent>/compare-<name>-<name>…/` so no run's own report is overwritten.
"""

from __future__ import annotations

from pathlib import Path

from srlm.data.io import atomic_write_text
from srlm.report.html import render_html
from srlm.report.markdown import render_markdown
from srlm.report.plots import figures
from srlm.report.tables import load_run


def _out_dir(run_dirs: list[Path]) -> Path:
    if len(run_dirs) == 1:
        return run_dirs[0]
    return run_dirs[0].resolve().parent / ("compare-" + "-".join(p.resolve().name for p in run_dirs))


def write_report(run_dirs: list[Path], out_dir: Path | None = None) -> Path:
    """Write report.html and report.md; return the path of report.html."""
    if not run_dirs:
        raise ValueError("write_report needs at least one run dir")
    runs = [load_run(Path(p)) for p in run_dirs]
    out = Path(out_dir) if out_dir is not None else _out_dir([Path(p) for p in run_dirs])
    atomic_write_text(out / "report.md", render_markdown(runs))
    html_path = out / "report.html"
    atomic_write_text(html_path, render_html(runs, figures(runs)))
    return html_path
