"""Evaluation metrics assembled from a run's files: `eval/metrics.json` (no generation here).

`srlm.stages.evaluate` writes the raw files; this module only reads them (and the run's
`iter<t>/` artifacts), so rerunning `srlm eval` recomputes every number without a model.
Schema (core keys fixed by issue 3; NaN is written as null):

    models.<name>: answers, oracle_score_mean, oracle_score_ci95, oracle_ungraded,
        oracle_criteria_pass_rate{criterion: rate}, answer_words_mean, answer_tokens_mean,
        sampled{samples_per_prompt, prompts, oracle_score_mean, oracle_score_ci95,
                oracle_criteria_pass_rate{criterion: rate}, answer_words_mean},
        self_judge_score_mean, self_judge_score_ci95, self_judge_parse_failure_rate,
        judge{pairwise_accuracy, exact_match, five_best, spearman, kendall_tau,
              parse_failure_rate, n_prompts, n_answers, score_histogram, checks (world runs)}
    head_to_head[]: a, b, judge ("oracle" | "judge_model"), wins, ties, losses, n, unjudged,
        win_rate (tie = 1/2), win_rate_ci95, lc_win_rate, verdict
    judge_changes[]: a, b, delta (judge pairwise accuracy of a minus b on the same judge-eval
        answers), delta_ci95 (paired bootstrap over prompts), prompts, verdict
    iterations[]: iteration, prompts, candidates, pairs, tie_drop_rate, candidate_tie_rate,
        dropped{reason: n}, mean_answer_words, parse_failure_rate, score_histogram,
        length_score_correlation{pearson, spearman}, mean_pair_gap, alarms[]
        (srlm.stages.iteration_health)
    data_checks: seed, iterations[], models: cut-off generations, contamination, dropped pairs
        (srlm.stages.data_checks)
    settings: eval_prompts, tie_rule, reference_model, judges, ...;  warnings[]
    alpaca_eval.<name> (only when imported): alpaca_eval's own win_rate, standard_error,
        lc_win_rate, lc_standard_error (percent), n, avg_length, reference, annotator, sources

Departure: the LC win rate is fitted per head-to-head pair (a vs b), not against a fixed
GPT-4 reference set; the "reference" answers are those of the SFT baseline, else of m1.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from srlm.config import Config
from srlm.method.metrics import length_controlled_win_rate, mean_ci95, paired_mean_difference, win_tie_loss
from srlm.rundir import RunDir
from srlm.stages.data_checks import data_checks
from srlm.stages.iteration_health import DOMINANT_SCORE_SHARE, iteration_health
from srlm.stages.judge_eval_metrics import judge_changes, judge_eval_checks, judge_quality_from_rows
from srlm.stages.metric_helpers import Oracle, _mean, _rows, words

TIE_RULE = (
    "head-to-head: tie counts 1/2; oracle: equal scores tie; judge_model: both orders, disagreement "
    "= tie, unparsed verdict = prompt dropped (counted as unjudged). Judge quality: parse failures "
    "dropped; gold ties skipped; judge tie on an ordered pair = 1/2 (see srlm.method.metrics)."
)
LC_WARNING_GAP = 0.1


def eval_dir(rd: RunDir) -> Path:
    return rd.root / "eval"


def model_file(rd: RunDir, model: str, name: str) -> Path:
    return rd.eval_file(model, name)


def pairwise_file(rd: RunDir, a: str, b: str) -> Path:
    return eval_dir(rd) / "judge_model" / f"{a}_vs_{b}.jsonl"


def alpaca_eval_results_file(rd: RunDir) -> Path:
    return eval_dir(rd) / "alpaca_eval_results.json"


def comparisons(models: Sequence[str]) -> list[tuple[str, str]]:
    """(a, b) pairs: consecutive iterations, last vs first, every model vs the reference."""
    iterates = [m for m in models if m != "sft_baseline"]
    pairs = list(zip(iterates[1:], iterates[:-1], strict=True))
    if len(iterates) >= 3:
        pairs.append((iterates[-1], iterates[0]))
    reference = reference_model(models)
    pairs += [(m, reference) for m in models if reference and m != reference]
    return list(dict.fromkeys(pairs))  # drop duplicates, keep order


def reference_model(models: Sequence[str]) -> str | None:
    if "sft_baseline" in models:
        return "sft_baseline"
    return models[0] if models else None


def verdict(entry: dict[str, Any]) -> str:
    """A plain verdict from the CI alone (never from the point estimate)."""
    low, high = entry["win_rate_ci95"]
    if low is None or high is None:
        return "no verdict (no judged prompts)"
    if low > 0.5:
        return "better"
    if high < 0.5:
        return "worse"
    return "no clear difference (CI includes 0.5)"


def clean_json(value: Any) -> Any:
    """NaN/inf become null and tuples lists, so metrics.json is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if isinstance(value, np.generic):
        return clean_json(value.item())
    return value


def oracle_scores(answers: list[dict[str, Any]], oracle: Oracle) -> dict[str, Any]:
    """id -> Grade (None when the oracle cannot read the prompt)."""
    grades: dict[str, Any] = {}
    for row in answers:
        try:
            grades[row["id"]] = oracle(row["prompt"], row["response"])
        except ValueError:
            grades[row["id"]] = None
    return grades


def pass_rates(grades: list[Any]) -> dict[str, float]:
    """Per rubric point (criterion), the share of these graded answers that earn it."""
    passed: Counter[str] = Counter()
    for grade in grades:
        for criterion, ok in (getattr(grade, "points", None) or {}).items():
            passed[criterion] += int(bool(ok))
    return {c: n / len(grades) for c, n in passed.items()} if grades else {}


def _oracle_summary(grades: dict[str, Any], seed: int, n_resamples: int) -> dict[str, Any]:
    graded = [g for g in grades.values() if g is not None]
    scores = [float(g.score) for g in graded]
    return {
        "oracle_score_mean": _mean(scores),
        "oracle_score_ci95": mean_ci95(scores, seed, n_resamples) if scores else (math.nan, math.nan),
        "oracle_ungraded": len(grades) - len(scores),
        "oracle_criteria_pass_rate": pass_rates(graded),
    }


def sampled_grades(rows: list[dict[str, Any]], oracle: Oracle) -> tuple[dict[str, float], dict[str, float]]:
    """Per prompt id the mean reference grade of its sampled answers, and per rubric point the share
    of all sampled answers that earn it (prompts it cannot read left out)."""
    means: dict[str, float] = {}
    graded: list[Any] = []
    for row in rows:
        try:
            grades = [oracle(row["prompt"], text) for text in row["responses"]]
        except ValueError:
            continue
        means[row["id"]] = float(np.mean([grade.score for grade in grades]))
        graded += grades
    return means, pass_rates(graded)


def sampled_summary(
    rows: list[dict[str, Any]], means: dict[str, float], pass_rate: dict[str, float], seed: int, n_resamples: int
) -> dict[str, Any]:
    """The sampled answers (`eval.samples` per prompt): mean of the per-prompt mean grades, with its CI,
    and the share of sampled answers earning each rubric point."""
    values = list(means.values())
    return {
        "samples_per_prompt": len(rows[0]["responses"]) if rows else 0,
        "prompts": len(values),
        "oracle_score_mean": _mean(values),
        "oracle_score_ci95": mean_ci95(values, seed, n_resamples) if values else (math.nan, math.nan),
        "oracle_criteria_pass_rate": pass_rate,
        "answer_words_mean": _mean([words(text) for row in rows for text in row["responses"]]),
    }


def _self_judge_summary(rows: list[dict[str, Any]], seed: int, n_resamples: int) -> dict[str, Any]:
    scores = [float(r["score"]) for r in rows if r.get("score") is not None]
    samples = [s for r in rows for s in r.get("samples", [])]
    failures = sum(1 for s in samples if s.get("score") is None)
    return {
        "self_judge_score_mean": _mean(scores),
        "self_judge_score_ci95": mean_ci95(scores, seed, n_resamples) if scores else (math.nan, math.nan),
        "self_judge_parse_failure_rate": failures / len(samples) if samples else math.nan,
    }


def model_metrics(
    cfg: Config,
    rd: RunDir,
    model: str,
    grades: dict[str, Any] | None,
    token_counts: list[int] | None,
    sampled_means: dict[str, float] | None = None,
    sampled_pass_rate: dict[str, float] | None = None,
) -> dict[str, Any]:
    seed, n_resamples = cfg.loop.seed, cfg.eval.bootstrap_samples
    answers = _rows(model_file(rd, model, "answers"))
    out: dict[str, Any] = {
        "answers": len(answers),
        "answer_words_mean": _mean([words(r["response"]) for r in answers]),
        "answer_tokens_mean": _mean(token_counts) if token_counts is not None else None,
    }
    if grades is not None:
        out |= _oracle_summary(grades, seed, n_resamples)
    sampled = _rows(model_file(rd, model, "samples"))
    if sampled and sampled_means is not None:
        out["sampled"] = sampled_summary(sampled, sampled_means, sampled_pass_rate or {}, seed, n_resamples)
    self_rows = _rows(model_file(rd, model, "self_judgments"))
    if self_rows:
        out |= _self_judge_summary(self_rows, seed, n_resamples)
    judge_rows = _rows(model_file(rd, model, "judge_eval"))
    if judge_rows:
        out["judge"] = judge_quality_from_rows(judge_rows)
        if cfg.world is not None:  # where its verdicts on the ranked answers go wrong, per check
            out["judge"]["checks"] = judge_eval_checks(cfg, judge_rows)
    return out


def _entry(
    a: str,
    b: str,
    judge: str,
    outcomes: dict[str, float | None],
    lengths: dict[str, dict[str, int]],
    cfg: Config,
) -> dict[str, Any] | None:
    judged = [pid for pid, o in outcomes.items() if o is not None]
    if not judged:  # said, not hidden: a judge that parsed nothing is itself a result
        return {"a": a, "b": b, "judge": judge, "wins": 0, "ties": 0, "losses": 0, "n": 0,
                "unjudged": len(outcomes), "win_rate": None, "win_rate_ci95": [None, None],
                "lc_win_rate": None, "verdict": "no verdict: no comparison could be parsed"}  # fmt: skip
    values = [float(outcomes[pid]) for pid in judged]  # type: ignore[arg-type]
    counts = win_tie_loss(values, seed=cfg.loop.seed, n_resamples=cfg.eval.bootstrap_samples)
    lc = length_controlled_win_rate(values, [lengths[a][p] for p in judged], [lengths[b][p] for p in judged])
    entry = {"a": a, "b": b, "judge": judge, **counts, "unjudged": len(outcomes) - len(judged)}
    entry["lc_win_rate"] = lc
    entry["verdict"] = verdict(entry)
    return entry


def oracle_outcomes(grades_a: dict[str, Any], grades_b: dict[str, Any]) -> dict[str, float | None]:
    """Per prompt: 1 if a's oracle score is higher, 0.5 if equal, 0 if lower, None if ungraded."""
    outcomes: dict[str, float | None] = {}
    for pid, grade_a in grades_a.items():
        grade_b = grades_b.get(pid)
        if grade_a is None or grade_b is None:
            outcomes[pid] = None
        else:
            outcomes[pid] = 1.0 if grade_a.score > grade_b.score else 0.5 if grade_a.score == grade_b.score else 0.0
    return outcomes


def sampled_difference(a: dict[str, float], b: dict[str, float], seed: int, n_resamples: int) -> dict[str, Any] | None:
    """Sampled answers of a vs b, paired per prompt: mean grade difference, its CI and a verdict."""
    common = [pid for pid in a if pid in b]
    if not common:
        return None
    delta, (low, high) = paired_mean_difference([a[p] for p in common], [b[p] for p in common], seed, n_resamples)
    verdict = "better" if low > 0 else "worse" if high < 0 else "no clear difference (CI includes 0)"
    return {"sampled_delta": delta, "sampled_delta_ci95": (low, high), "sampled_prompts": len(common),
            "sampled_verdict": verdict}  # fmt: skip


def head_to_head(
    cfg: Config,
    rd: RunDir,
    models: Sequence[str],
    grades: dict[str, dict[str, Any]],
    sampled: dict[str, dict[str, float]] | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """W/T/L entries per comparison and judge (oracle: with the sampled answers' paired difference), plus warnings."""
    lengths = {m: {r["id"]: words(r["response"]) for r in _rows(model_file(rd, m, "answers"))} for m in models}
    sampled = sampled or {}
    entries: list[dict[str, Any] | None] = []
    for a, b in comparisons(models):
        if a in grades and b in grades:
            entry = _entry(a, b, "oracle", oracle_outcomes(grades[a], grades[b]), lengths, cfg)
            if entry is not None and a in sampled and b in sampled:
                entry |= sampled_difference(sampled[a], sampled[b], cfg.loop.seed, cfg.eval.bootstrap_samples) or {}
            entries.append(entry)
        pairwise = _rows(pairwise_file(rd, a, b))
        if pairwise:
            outcomes = {r["id"]: r["outcome"] for r in pairwise}
            entries.append(_entry(a, b, "judge_model", outcomes, lengths, cfg))
    kept = [e for e in entries if e is not None]
    warnings = [
        f"{e['a']} vs {e['b']} ({e['judge']}): length-controlled win rate {e['lc_win_rate']:.2f} differs "
        f"from the raw {e['win_rate']:.2f} by more than {LC_WARNING_GAP} — length drives the preference"
        for e in kept
        if e["n"] and abs(e["lc_win_rate"] - e["win_rate"]) > LC_WARNING_GAP
    ]
    warnings += [f"{e['a']} vs {e['b']} ({e['judge']}): {e['verdict']}" for e in kept if not e["n"]]
    return kept, warnings


def compute_metrics(
    cfg: Config,
    rd: RunDir,
    models: Sequence[str],
    oracle: Oracle | None,
    token_counts: dict[str, list[int] | None],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """The whole metrics.json document (NaN-free) from the files on disk."""
    grades, sampled, rates = {}, {}, {}
    if oracle is not None:
        grades = {m: oracle_scores(_rows(model_file(rd, m, "answers")), oracle) for m in models}
        for m in models:
            if rows := _rows(model_file(rd, m, "samples")):
                sampled[m], rates[m] = sampled_grades(rows, oracle)
    per_model = {
        m: model_metrics(cfg, rd, m, grades.get(m), token_counts.get(m), sampled.get(m), rates.get(m)) for m in models
    }
    entries, warnings = head_to_head(cfg, rd, models, grades, sampled)
    # the iterations' judges on the same ranked answers; the IFT-only baseline is never taught to judge
    judged = {m: rows for m in models if m != "sft_baseline" and (rows := _rows(model_file(rd, m, "judge_eval")))}
    health = [h for t in range(1, cfg.loop.iterations + 1) if (h := iteration_health(rd, t, oracle, cfg))]
    warnings += [f"iteration {h['iteration']}: {alarm}" for h in health for alarm in h["alarms"]]
    checks, check_warnings = data_checks(cfg, rd, models)  # cut-off generations, contamination, dropped pairs
    warnings += check_warnings
    settings = {
        **settings,
        "tie_rule": TIE_RULE,
        "reference_model": reference_model(models),
        "judges": (["oracle"] if oracle is not None else []) + (["judge_model"] if cfg.eval.judge_model else []),
        "judge_samples": cfg.judge.samples,
        "bootstrap_samples": cfg.eval.bootstrap_samples,
        "ci": "95 % percentile bootstrap over prompts",
        "alarm_dominant_score_share": DOMINANT_SCORE_SHARE,
    }
    document: dict[str, Any] = {
        "models": per_model,
        "head_to_head": entries,
        "judge_changes": judge_changes(judged, comparisons(list(judged)), cfg.loop.seed, cfg.eval.bootstrap_samples),
        "iterations": health,
        "data_checks": checks,
        "settings": settings,
        "warnings": warnings,
    }
    official = alpaca_eval_results_file(rd)
    if official.is_file():  # alpaca_eval's own numbers, read back by `srlm eval --alpaca-eval`
        results = json.loads(official.read_text(encoding="utf-8"))
        document["alpaca_eval"] = {m: entry for m, entry in results.items() if m in models}
    stopped = rd.root / "stopped_early.json"
    if stopped.is_file():
        record = json.loads(stopped.read_text(encoding="utf-8"))
        document["stopped_early"] = record
        warnings.append(f"the loop stopped early in iteration {record['iteration']}: {record['reason']}")
    return clean_json(document)
