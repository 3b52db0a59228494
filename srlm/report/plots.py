"""Report figures: matplotlib PNGs returned as base64 strings (embedded in report.html).

Every number plotted is read from `eval/metrics.json`; several runs share each figure (one
colour per run) so ablations can be compared at a glance. Missing metrics (null) are skipped.
"""

from __future__ import annotations

import base64
import io
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from srlm.report import RunData


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display where reports are built (CI, servers)
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90)
    _pyplot().close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _value(x: Any) -> float:
    return math.nan if x is None else float(x)


def model_curve(runs: list[RunData], key: str, ci_key: str | None, ylabel: str) -> str:
    """One line per run across its iterations (M1, M2, …) with 95 % CIs as error bars; the SFT
    baseline is not an iteration, so it is drawn as a dashed reference line instead."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for run in runs:
        models = run.metrics.get("models", {})
        names = [m for m in models if m != "sft_baseline"]
        values = [_value(models[m].get(key)) for m in names]
        if ci_key:
            cis = [models[m].get(ci_key) or [None, None] for m in names]
            low = [v - _value(c[0]) if c[0] is not None else 0 for v, c in zip(values, cis, strict=True)]
            high = [_value(c[1]) - v if c[1] is not None else 0 for v, c in zip(values, cis, strict=True)]
            line = ax.errorbar(names, values, yerr=[low, high], marker="o", capsize=4, label=run.name)
            color = line[0].get_color()
        else:
            color = ax.plot(names, values, marker="o", label=run.name)[0].get_color()
        baseline = _value(models.get("sft_baseline", {}).get(key))
        if baseline == baseline:  # not NaN: the run has a baseline with this metric
            ax.axhline(baseline, color=color, linestyle="--", linewidth=1, label=f"{run.name}: SFT baseline")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def judge_metrics(runs: list[RunData]) -> str:
    plt = _pyplot()
    keys = ("pairwise_accuracy", "spearman", "kendall_tau", "exact_match", "five_best")
    fig, axes = plt.subplots(1, len(keys), figsize=(12, 2.8), sharey=False)
    for ax, key in zip(axes, keys, strict=True):
        for run in runs:
            models = run.metrics.get("models", {})
            ax.plot(
                list(models),
                [_value((m.get("judge") or {}).get(key)) for m in models.values()],
                marker="o",
                label=run.name,
            )
        ax.set_title(key, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    return _png(fig)


def win_tie_loss_bars(runs: list[RunData]) -> str:
    """Horizontal stacked bars: share of wins, ties, losses per head-to-head comparison."""
    plt = _pyplot()
    entries = [(run.name, e) for run in runs for e in run.metrics.get("head_to_head", [])]
    fig, ax = plt.subplots(figsize=(7, 0.45 * max(len(entries), 2) + 1))
    labels = [f"{name}: {e['a']} vs {e['b']} ({e['judge']})" for name, e in entries]
    left = [0.0] * len(entries)
    for part, colour in (("wins", "#2a9d5c"), ("ties", "#b8b8b8"), ("losses", "#d1495b")):
        shares = [e[part] / max(e["n"], 1) for _, e in entries]
        ax.barh(labels, shares, left=left, color=colour, label=part)
        left = [a + b for a, b in zip(left, shares, strict=True)]
    ax.axvline(0.5, color="black", linewidth=0.8, linestyle="--")
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def iteration_panel(runs: list[RunData]) -> str:
    """Judge health across iterations: tie/parse rates, length, length-score correlation."""
    plt = _pyplot()
    panels = (
        ("tie_drop_rate", "prompts dropped as ties"),
        ("parse_failure_rate", "judge parse failures"),
        ("mean_answer_words", "candidate words"),
        ("mean_pair_gap", "chosen - rejected score"),
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(12, 2.8))
    for ax, (key, title) in zip(axes, panels, strict=True):
        for run in runs:
            health = run.metrics.get("iterations", [])
            ax.plot(
                [h["iteration"] for h in health],
                [_value(h.get(key)) for h in health],
                marker="o",
                label=run.name,
            )
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    return _png(fig)


def score_histograms(run: RunData) -> str:
    """Self-judge score distribution of the candidates, one bar group per iteration."""
    plt = _pyplot()
    health = run.metrics.get("iterations", [])
    fig, ax = plt.subplots(figsize=(6, 3))
    width = 0.8 / max(len(health), 1)
    for i, h in enumerate(health):
        histogram = h.get("score_histogram", {})
        bins = list(histogram)
        ax.bar(
            [j + i * width for j in range(len(bins))],
            list(histogram.values()),
            width=width,
            label=f"iteration {h['iteration']}",
        )
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(bins))], bins)
    ax.set_xlabel("mean judge score (rounded)")
    ax.set_ylabel("candidates")
    ax.legend(fontsize=8)
    return _png(fig)


def figures(runs: list[RunData]) -> dict[str, str]:
    """name -> base64 PNG; only figures whose data exists."""
    has_oracle = any("oracle_score_mean" in m for run in runs for m in run.metrics.get("models", {}).values())
    out = {}
    if has_oracle:
        out["Oracle score per model (95% CI)"] = model_curve(runs, "oracle_score_mean", "oracle_score_ci95", "oracle")
    out["Self-judge score per model (not independent)"] = model_curve(
        runs, "self_judge_score_mean", "self_judge_score_ci95", "self-judge"
    )
    out["Judge quality per model"] = judge_metrics(runs)
    out["Answer length per model (words)"] = model_curve(runs, "answer_words_mean", None, "words")
    if any(run.metrics.get("head_to_head") for run in runs):
        out["Head to head: wins / ties / losses"] = win_tie_loss_bars(runs)
    if any(run.metrics.get("iterations") for run in runs):
        out["Judge health per iteration"] = iteration_panel(runs)
        for run in runs:
            out[f"Candidate score histograms: {run.name}"] = score_histograms(run)
    return out
