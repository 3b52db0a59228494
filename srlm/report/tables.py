"""What the report shows of a run, read from its files, and the rows of each of its tables.

Shared by report.html (html.py) and report.md (markdown.py): every number comes from the run's
`eval/metrics.json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SAMPLES_PER_ITERATION = 6
MAX_SAMPLE_CHARS = 2000  # a runaway generation should not make the page unreadable


@dataclass
class RunData:
    """What the report shows of one run, read from its files."""

    name: str
    root: Path
    metrics: dict[str, Any]
    config_text: str = ""
    timings: list[tuple[str, float]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _timings(root: Path) -> list[tuple[str, float]]:
    rows = []
    for manifest in sorted(root.rglob("*.manifest.json")):
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if isinstance(data.get("seconds"), int | float):
            rows.append((str(manifest.relative_to(root)).removesuffix(".manifest.json"), float(data["seconds"])))
    return rows


def _clip(text: Any) -> str:
    text = str(text)
    return text if len(text) <= MAX_SAMPLE_CHARS else text[:MAX_SAMPLE_CHARS] + " …[cut]"


def _samples(root: Path) -> list[dict[str, Any]]:
    """Evenly spaced pairs of each iteration, with the judge samples of chosen and rejected."""
    out = []
    for iteration in sorted(root.glob("iter*"), key=lambda p: int(p.name[4:]) if p.name[4:].isdigit() else 0):
        pairs = _read_jsonl(iteration / "pairs.jsonl")
        judgments = {row["id"]: row for row in _read_jsonl(iteration / "judgments.jsonl")}
        step = max(1, len(pairs) // SAMPLES_PER_ITERATION)
        for pair in pairs[::step][:SAMPLES_PER_ITERATION]:
            texts = {
                side: [_clip(s.get("text", "")) for s in judgments.get(pair.get(f"{side}_id"), {}).get("samples", [])]
                for side in ("chosen", "rejected")
            }
            out.append(
                {
                    "iteration": iteration.name,
                    "prompt": _clip(pair.get("prompt", "")),
                    "chosen": _clip(pair.get("chosen", "")),
                    "rejected": _clip(pair.get("rejected", "")),
                    "score_chosen": pair.get("score_chosen"),
                    "score_rejected": pair.get("score_rejected"),
                    "judgments_chosen": texts["chosen"],
                    "judgments_rejected": texts["rejected"],
                }
            )
    return out


def load_run(root: Path) -> RunData:
    """A run's report data; FileNotFoundError when `srlm eval` has not written metrics.json."""
    root = Path(root)
    metrics_file = root / "eval" / "metrics.json"
    if not metrics_file.is_file():
        raise FileNotFoundError(f"{metrics_file} not found: run `srlm eval {root}` first")
    config = root / "config.yaml"
    return RunData(
        name=root.name,
        root=root,
        metrics=json.loads(metrics_file.read_text(encoding="utf-8")),
        config_text=config.read_text(encoding="utf-8") if config.is_file() else "",
        timings=_timings(root),
        samples=_samples(root),
    )


def _number(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _ci(pair: Any) -> str:
    return "–" if not pair or pair[0] is None else f"[{pair[0]:.2f}, {pair[1]:.2f}]"


def run_warnings(run: RunData) -> list[str]:
    """The run's warnings and every alarm its iterations and their DPO stages raised, each once.

    metrics.json folds the alarms into `warnings`; a run evaluated by an older srlm may not have, and
    a run in which nothing trained must never read "No warnings".
    """
    found = list(run.metrics.get("warnings", []))
    for h in run.metrics.get("iterations", []):
        found += [f"iteration {h['iteration']}: {alarm}" for alarm in h.get("alarms") or []]
        found += [f"iteration {h['iteration']}: {alarm}" for alarm in (h.get("dpo") or {}).get("alarms") or []]
    return list(dict.fromkeys(found))


def model_rows(run: RunData) -> list[list[str]]:
    """One row per model: oracle mean ± CI, self-judge, judge metrics, length (shared with html)."""
    rows = []
    for name, m in run.metrics.get("models", {}).items():
        judge = m.get("judge") or {}
        rows.append(
            [
                name,
                f"{_number(m.get('oracle_score_mean'), 2)} {_ci(m.get('oracle_score_ci95'))}",
                _sampled(m.get("sampled")),
                _number(((m.get("sampled") or {}).get("oracle_criteria_pass_rate") or {}).get("all")),
                _number(m.get("self_judge_score_mean"), 2),
                _number(judge.get("pairwise_accuracy")),
                _number(judge.get("spearman")),
                _number(judge.get("kendall_tau")),
                _number(judge.get("exact_match")),
                _number(judge.get("five_best")),
                _number(judge.get("parse_failure_rate")),
                _number(m.get("answer_words_mean"), 1),
                _number(m.get("answer_tokens_mean"), 1),
            ]
        )
    return rows


def _sampled(entry: dict[str, Any] | None) -> str:
    """``3.11 [3.05, 3.17] (4)``: mean grade of the sampled answers, its CI, samples per prompt."""
    if not entry:
        return "–"
    mean, ci = entry.get("oracle_score_mean"), entry.get("oracle_score_ci95")
    return f"{_number(mean, 2)} {_ci(ci)} ({entry.get('samples_per_prompt')})"


MODEL_HEADER = [
    "model",
    "oracle mean [95% CI]",
    "sampled mean [95% CI] (per prompt)",
    "sampled: every rule met",
    "self-judge mean",
    "pairwise acc.",
    "Spearman",
    "Kendall τ",
    "exact match",
    "5-best",
    "parse failures",
    "words",
    "tokens",
]
H2H_HEADER = [
    "a",
    "b",
    "judge",
    "W",
    "T",
    "L",
    "win rate [95% CI]",
    "LC win rate",
    "verdict",
    "sampled a − b [95% CI]",
    "sampled verdict",
]
GAP_HEADER = [
    "iteration",
    "pairs from",
    "judge's pick",
    "judge's worst",
    "mean of N",
    "reference best of N",
    "headroom captured [95% CI]",
    "pair grade gap: judge / reference pairs",
    "chosen longer: judge / reference pairs",
    "DPO loss",
    "reward margin",
    "reward accuracy",
    "chosen log-prob",
    "rejected log-prob",
]
HEALTH_HEADER = [
    "iteration",
    "prompts",
    "pairs",
    "tie drop rate",
    "candidate tie rate",
    "parse failures",
    "mean words",
    "length~score r",
    "mean pair gap",
    "chosen truly better (oracle)",
    "alarms",
]


def h2h_rows(run: RunData) -> list[list[str]]:
    return [
        [
            e["a"],
            e["b"],
            e["judge"],
            str(e["wins"]),
            str(e["ties"]),
            str(e["losses"]),
            f"{_number(e['win_rate'], 2)} {_ci(e['win_rate_ci95'])}",
            _number(e.get("lc_win_rate"), 2),
            e.get("verdict", ""),
            f"{_number(e.get('sampled_delta'))} {_ci(e.get('sampled_delta_ci95'))}" if "sampled_delta" in e else "–",
            e.get("sampled_verdict", "–"),
        ]
        for e in run.metrics.get("head_to_head", [])
    ]


def _first_last(entry: dict[str, Any] | None, digits: int = 3) -> str:
    return "–" if not entry else f"{_number(entry.get('first'), digits)} → {_number(entry.get('last'), digits)}"


def gap_rows(run: RunData) -> list[list[str]]:
    """Per iteration: the judge's best-of-N against the reference's (the generator–verifier gap), then DPO."""
    rows = []
    for h in run.metrics.get("iterations", []):
        gap, dpo = h.get("best_of_n") or {}, h.get("dpo") or {}
        longer = f"{_number((h.get('pair_oracle') or {}).get('chosen_longer'), 2)} / "
        longer += _number(gap.get("reference_pairs_chosen_longer"), 2)
        grade_gap = f"{_number((h.get('pair_oracle') or {}).get('grade_gap'), 2)} / "
        grade_gap += _number(gap.get("reference_pairs_grade_gap"), 2)
        rows.append(
            [
                str(h["iteration"]),
                h.get("pairs_source", "judge"),
                _number(gap.get("judge_best"), 2),
                _number(gap.get("judge_worst"), 2),
                _number(gap.get("mean"), 2),
                _number(gap.get("reference_best"), 2),
                f"{_number(gap.get('captured'), 2)} {_ci(gap.get('captured_ci95'))}",
                grade_gap,
                longer,
                _first_last(dpo.get("loss")),
                _first_last(dpo.get("rewards_margins")),
                _first_last(dpo.get("rewards_accuracies"), 2),
                _first_last(dpo.get("logps_chosen"), 2),
                _first_last(dpo.get("logps_rejected"), 2),
            ]
        )
    return rows


CHECKS_HEADER = ["iteration", "check", "lines", "written", "right verdict", "says yes when it fails"]


def checks_rows(run: RunData) -> list[list[str]]:
    """World runs: per iteration and check kind, how often the judge's verdict matches the oracle's."""
    rows = []
    for h in run.metrics.get("iterations", []):
        for kind, c in ((h.get("judge_checks") or {}).get("kinds") or {}).items():
            row = [str(h["iteration"]), kind, str(c["lines"]), _number(c.get("present"), 2)]
            rows.append([*row, _number(c.get("verdict"), 2), _number(c.get("false_yes"), 2)])
    return rows


def _pair_oracle(entry: dict[str, Any] | None) -> str:
    """``0.54 (70/69/60)``: precision, then pairs whose chosen is better / equal / worse by the oracle."""
    if not entry:
        return "–"
    return f"{_number(entry.get('precision'))} ({entry['better']}/{entry['equal']}/{entry['worse']})"


def health_rows(run: RunData) -> list[list[str]]:
    return [
        [
            str(h["iteration"]),
            str(h["prompts"]),
            str(h["pairs"]),
            _number(h.get("tie_drop_rate")),
            _number(h.get("candidate_tie_rate")),
            _number(h.get("parse_failure_rate")),
            _number(h.get("mean_answer_words"), 1),
            _number((h.get("length_score_correlation") or {}).get("pearson")),
            _number(h.get("mean_pair_gap"), 2),
            _pair_oracle(h.get("pair_oracle")),
            "; ".join(h.get("alarms", [])) or "none",
        ]
        for h in run.metrics.get("iterations", [])
    ]


ALPACA_EVAL_HEADER = [
    "model",
    "annotator",
    "reference",
    "win rate %",
    "std. error",
    "LC win rate %",
    "n",
    "avg length",
    "srlm: win rate % vs own reference",
]
ALPACA_EVAL_TITLE = "alpaca_eval (official numbers, read from alpaca_eval's own files)"


def _ours(run: RunData, model: str) -> str:
    """This model's win rate against the run's reference in srlm's own head-to-head, in percent."""
    reference = run.metrics.get("settings", {}).get("reference_model")
    for e in run.metrics.get("head_to_head", []):
        if e["a"] == model and e["b"] == reference and e.get("win_rate") is not None:
            return f"{100 * e['win_rate']:.1f} vs {reference} ({e['judge']})"
    return "–"


def alpaca_eval_rows(run: RunData) -> list[list[str]]:
    """alpaca_eval's own numbers per model (when imported), with srlm's win rate beside them."""
    return [
        [
            model,
            ", ".join(a.get("annotator") or []) or "–",
            ", ".join(a.get("reference") or []) or "–",
            _number(a.get("win_rate"), 1),
            _number(a.get("standard_error"), 1),
            _number(a.get("lc_win_rate"), 1),
            _number(a.get("n")),
            _number(a.get("avg_length"), 0),
            _ours(run, model),
        ]
        for model, a in run.metrics.get("alpaca_eval", {}).items()
    ]
