"""report.html / report.md from a scripted-engine run: escaped model text, self-contained page."""

from __future__ import annotations

import json
import re
from pathlib import Path

from srlm.rundir import RunDir, write_manifest
from srlm.stages import evaluate
from tests.unit.stages.test_evaluate import Factory, _write_iteration, fake_oracle, make_run

EVIL = "<script>alert(1)</script>"


def _run_with_evil_text(tmp_path: Path) -> RunDir:
    cfg, rd = make_run(tmp_path)
    _write_iteration(cfg, rd, {"p0": [1, 2, 3, 4], "p1": [0, 5, 3, 2]})
    # Plant the script in a pair's prompt, chosen answer and in a judgment.
    pairs_file = rd.artifact(1, "pairs")
    rows = [json.loads(line) for line in pairs_file.read_text().splitlines()]
    rows[0]["prompt"] = f"please {EVIL}"
    rows[0]["chosen"] = f"{EVIL} & more"
    pairs_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    judgments_file = rd.artifact(1, "judgments")
    judgments = [json.loads(line) for line in judgments_file.read_text().splitlines()]
    for row in judgments:
        row["samples"][0]["text"] = f"judge says {EVIL}"
    judgments_file.write_text("".join(json.dumps(r) + "\n" for r in judgments))
    write_manifest(rd.artifact(1, "judgments"), stage="judge", config_hash="x", inputs=[], seconds=1.5)
    (rd.root / "config.yaml").write_text(f"note: '{EVIL}'\n")
    evaluate.run(cfg, rd, engine_factory=Factory(), oracle=fake_oracle)
    return rd


def test_report_escapes_model_text_and_is_self_contained(tmp_path: Path) -> None:
    from srlm.report import write_report

    rd = _run_with_evil_text(tmp_path)
    path = write_report([rd.root])
    assert path == rd.root / "report.html"
    page = path.read_text()
    assert EVIL not in page and "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'src="http' not in page and 'href="http' not in page and "<link" not in page
    images = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert images and all(src.startswith("data:image/png;base64,") for src in images)
    assert "<td>m3</td><td>m1</td><td>oracle</td>" in page and "<td>better</td>" in page
    assert "iter1/judgments" in page  # stage timings from the manifests
    markdown = (rd.root / "report.md").read_text()
    assert "| m1 |" in markdown and "### Head to head" in markdown


def test_report_compares_runs_side_by_side(tmp_path: Path) -> None:
    from srlm.report import write_report

    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        cfg, rd = make_run(tmp_path / name)
        evaluate.run(cfg, rd, engine_factory=Factory(), oracle=fake_oracle)
        runs.append(rd.root)
    path = write_report(runs, out_dir=tmp_path / "cmp")
    page = path.read_text()
    assert page.count('<div class="run">') == 2
    assert (tmp_path / "cmp" / "report.md").is_file()


def test_report_needs_metrics(tmp_path: Path) -> None:
    import pytest

    from srlm.report import write_report

    with pytest.raises(FileNotFoundError, match="srlm eval"):
        write_report([tmp_path])
