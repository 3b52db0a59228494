"""report.html in a real browser (headless Chromium): injected model text stays inert, plots load.

No script of ours goes into the page. The DOM Chromium dumps after load (and after a virtual-time
budget, so a pending `onerror` would have fired) shows whether planted markup ran or became text;
each embedded PNG is decoded, and the screenshot must show the plots' line colour, i.e. the
browser painted the images. The screenshot is kept under tmp_path, and copied to
`test-artifacts/report.png` when `CI` is set.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from srlm.rundir import write_manifest

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = '<script>window.__pwned = 1; document.title = "PWNED"</script>'
IMG = "<img src=x onerror=\"document.title='PWNED'\">"
EVIL = f"{SCRIPT} {IMG}"
MATPLOTLIB_BLUE = (31, 119, 180)  # "C0": the first line of every per-model curve


def _chromium() -> Path:
    if CHROMIUM.is_file():
        return CHROMIUM
    message = f"chromium not installed ({CHROMIUM} missing; .ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip("chromium not installed (.ci/run installs it)")


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def _model(score: float, words: float) -> dict[str, Any]:
    judge = {"pairwise_accuracy": 0.6, "spearman": 0.3, "kendall_tau": 0.2, "exact_match": 0.25, "five_best": 0.5}
    return {
        "oracle_score_mean": score,
        "oracle_score_ci95": [score - 0.3, score + 0.3],
        "self_judge_score_mean": score + 1.0,
        "self_judge_score_ci95": [score + 0.8, score + 1.2],
        "judge": {**judge, "parse_failure_rate": 0.05, "n_prompts": 4, "n_answers": 12},
        "answer_words_mean": words,
    }


def _health(iteration: int) -> dict[str, Any]:
    return {
        "iteration": iteration,
        "prompts": 6,
        "pairs": 4,
        "tie_drop_rate": 0.1 * iteration,
        "candidate_tie_rate": 0.2,
        "parse_failure_rate": 0.05,
        "mean_answer_words": 40.0 + 5 * iteration,
        "length_score_correlation": {"pearson": 0.3},
        "mean_pair_gap": 1.5,
        "score_histogram": {"0": 0, "1": 2, "2": 3, "3": 6, "4": 8, "5": 5, "unparsed": 1},
        "alarms": [],
    }


def _run_dir(root: Path) -> Path:
    """A run dir by hand: metrics.json, config, one iteration's pairs + judgments, a manifest."""
    h2h = {"judge": "oracle", "wins": 6, "ties": 2, "losses": 2, "n": 10, "win_rate": 0.7}
    metrics = {
        "models": {"m1": _model(1.0, 30.0), "m2": _model(1.8, 38.0), "m3": _model(2.4, 45.0)},
        "head_to_head": [
            {"a": "m2", "b": "m1", **h2h, "win_rate_ci95": [0.45, 0.9], "lc_win_rate": 0.62, "verdict": "unclear"},
            {"a": "m3", "b": "m1", **h2h, "win_rate_ci95": [0.55, 0.95], "lc_win_rate": 0.66, "verdict": "better"},
        ],
        "iterations": [_health(1), _health(2)],
        "warnings": [f"a warning quoting model text: {EVIL}"],
        "settings": {"eval_prompts": 10, "tie_rule": "disagreement between the two orders is a tie"},
    }
    (root / "eval").mkdir(parents=True)
    (root / "eval" / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    (root / "config.yaml").write_text(f"note: '{EVIL}'\n", encoding="utf-8")
    iteration = root / "iter1"
    pairs = [
        {
            "prompt": f"please repeat {EVIL}" if i == 0 else f"prompt {i}",
            "chosen": f"{EVIL} & more" if i == 0 else f"good answer {i}",
            "rejected": f"bad answer {i}",
            "chosen_id": f"p{i}-c0",
            "rejected_id": f"p{i}-c1",
            "score_chosen": 4.5,
            "score_rejected": 2.0,
        }
        for i in range(3)
    ]
    _write_jsonl(iteration / "pairs.jsonl", pairs)
    samples = [{"text": f"judge says {EVIL} Score: 4"}]
    _write_jsonl(
        iteration / "judgments.jsonl", [{"id": f"p{i}-c{j}", "samples": samples} for i in range(3) for j in (0, 1)]
    )
    write_manifest(iteration / "judgments.jsonl", stage="judge", config_hash="x", inputs=[], seconds=1.5)
    return root


def _browse(chromium: Path, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(chromium),
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--virtual-time-budget=3000",
        *args,
        page.as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"chromium failed ({result.returncode}): {result.stderr[-2000:]}"
    return result


def _png_pixels(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def test_report_in_headless_chromium(tmp_path: Path) -> None:
    from srlm.report import write_report

    chromium = _chromium()
    page = write_report([_run_dir(tmp_path / "run")])

    dom = _browse(chromium, page, "--dump-dom").stdout
    assert "</html>" in dom, f"no DOM dumped: {dom[:500]}"
    # Nothing planted ran: not the <script>, not the <img onerror> (the budget lets onerror fire).
    title = re.search(r"<title>(.*?)</title>", dom, re.S)
    assert title and title.group(1) == "srlm report: run"
    assert "PWNED" not in title.group(1)
    assert "<script" not in dom.lower()
    # ...and it is all there as text: serialised text nodes escape < > & (quotes stay literal).
    escaped = html.escape(EVIL, quote=False)
    assert dom.count(escaped) >= 4  # prompt (summary and body), chosen answer, judgment, config, warning
    assert "&lt;script&gt;window.__pwned = 1;" in dom and "&lt;img src=x onerror=" in dom

    # Every <img> in the rendered DOM is an embedded PNG that decodes to a real, non-blank plot.
    sources = re.findall(r"<img\b[^>]*?\bsrc=\"([^\"]*)\"", dom)
    assert len(sources) == len(re.findall(r"<img\b", dom)) == 7  # 5 curves/panels, W/T/L bars, 1 histogram
    for source in sources:
        assert source.startswith("data:image/png;base64,"), source[:80]
        pixels = _png_pixels(base64.b64decode(source.removeprefix("data:image/png;base64,"), validate=True))
        assert pixels.shape[0] > 100 and pixels.shape[1] > 300
        assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10  # a plot, not a flat rectangle

    screenshot = tmp_path / "report.png"
    _browse(chromium, page, f"--screenshot={screenshot}", "--window-size=1280,4000", "--hide-scrollbars")
    assert screenshot.is_file() and screenshot.stat().st_size > 10_000
    if os.environ.get("CI"):
        artifacts = REPO_ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        shutil.copyfile(screenshot, artifacts / "report.png")
    shot = _png_pixels(screenshot.read_bytes())
    assert shot.shape[:2] == (4000, 1280)
    assert len(np.unique(shot.reshape(-1, 3), axis=0)) > 50  # not blank, not one colour
    # The page's own CSS has no blue: C0 pixels on screen mean the browser decoded and painted the plots.
    blue = np.all(np.abs(shot.astype(int) - MATPLOTLIB_BLUE) <= 8, axis=-1)
    assert blue.sum() > 500, f"only {blue.sum()} plot-blue pixels: the plot images did not render"
