"""Report figures: matplotlib PNGs returned as base64 strings (embedded in report.html).

Every number plotted is read from `eval/metrics.json`; several runs share each figure (one
colour per run) so ablations can be compared at a glance. Missing metrics (null) are skipped, and a
figure with nothing to show is left out with one line saying why. Each y-axis spans its metric's
natural range (`RANGES`: 0-5 for scores, 0-1 for rates, -1-1 for rank correlations, counts from 0),
so noise between close values never looks like a trend; iteration axes show whole iterations.
"""

from __future__ import annotations

import base64
import io
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from srlm.report.tables import RunData


def MaxNLocator(**kwargs: Any) -> Any:
    from matplotlib.ticker import MaxNLocator as locator

    return locator(**kwargs)


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


# Each metric's natural range: the y-axis spans it, so noise between close values does not look like a trend.
RANGES: dict[str, tuple[float, float]] = {
    "oracle_score_mean": (0.0, 5.0),
    "self_judge_score_mean": (0.0, 5.0),
    "pairwise_accuracy": (0.0, 1.0),
    "spearman": (-1.0, 1.0),
    "kendall_tau": (-1.0, 1.0),
    "exact_match": (0.0, 1.0),
    "five_best": (0.0, 1.0),
    "tie_drop_rate": (0.0, 1.0),
    "parse_failure_rate": (0.0, 1.0),
    "mean_pair_gap": (0.0, 5.0),
}


def _span(ax: Any, key: str, values: list[float]) -> None:
    """The y-axis over the metric's natural range; counts (words) from 0 to a little above the largest value."""
    low, high = RANGES.get(key, (0.0, max([v for v in values if not math.isnan(v)], default=1.0) * 1.15 or 1.0))
    pad = 0.03 * (high - low)
    ax.set_ylim(low - pad, high + pad)


def _iterations(ax: Any, runs: list[RunData]) -> None:
    """Whole iterations on the x-axis: 1, 2, … (never 1.25)."""
    steps = sorted({int(h["iteration"]) for run in runs for h in run.metrics.get("iterations", [])})
    ax.set_xticks(steps)
    ax.set_xlim(min(steps, default=1) - 0.5, max(steps, default=1) + 0.5)
    ax.set_xlabel("iteration")


def _iteration_models(models: dict[str, Any]) -> list[str]:
    return [m for m in models if m != "sft_baseline"]


def has_values(runs: list[RunData], read: Any) -> bool:
    """Whether any model of any run has a number for `read(model)` (a plot of nothing is omitted)."""
    return any(read(m) is not None for run in runs for m in run.metrics.get("models", {}).values())


def _model_lines(ax: Any, runs: list[RunData], key: str, read: Any, ci: Any = None) -> None:
    """One line per run over its iteration models, CIs as error bars, the SFT baseline as a dashed line."""
    values: list[float] = []
    for run in runs:
        models = run.metrics.get("models", {})
        names = _iteration_models(models)
        ys = [_value(read(models[m])) for m in names]
        values += ys
        if ci:
            cis = [ci(models[m]) or [None, None] for m in names]
            low = [y - _value(c[0]) if c[0] is not None else 0 for y, c in zip(ys, cis, strict=True)]
            high = [_value(c[1]) - y if c[1] is not None else 0 for y, c in zip(ys, cis, strict=True)]
            color = ax.errorbar(names, ys, yerr=[low, high], marker="o", capsize=4, label=run.name)[0].get_color()
        else:
            color = ax.plot(names, ys, marker="o", label=run.name)[0].get_color()
        baseline = _value(read(models["sft_baseline"])) if "sft_baseline" in models else math.nan
        if not math.isnan(baseline):
            values.append(baseline)
            ax.axhline(baseline, color=color, linestyle="--", linewidth=1, label=f"{run.name}: SFT baseline")
    _span(ax, key, values)
    ax.grid(alpha=0.3)


def model_curve(runs: list[RunData], key: str, ci_key: str | None, ylabel: str) -> str:
    """One line per run across its iterations (M1, M2, …) with 95 % CIs as error bars; the SFT
    baseline is not an iteration, so it is drawn as a dashed reference line instead."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ci = (lambda m: m.get(ci_key)) if ci_key else None
    _model_lines(ax, runs, key, lambda m: m.get(key), ci)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return _png(fig)


JUDGE_KEYS = ("pairwise_accuracy", "spearman", "kendall_tau", "exact_match", "five_best")


def judge_metrics(runs: list[RunData]) -> str:
    """The judge-quality measures per model, each on its own natural range."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(JUDGE_KEYS), figsize=(12, 2.8), sharey=False)
    for ax, key in zip(axes, JUDGE_KEYS, strict=True):
        _model_lines(ax, runs, key, lambda m, key=key: (m.get("judge") or {}).get(key))
        ax.set_title(key, fontsize=9)
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
    """Judge health across iterations: tie/parse rates, length, chosen - rejected score gap."""
    plt = _pyplot()
    panels = (
        ("tie_drop_rate", "prompts dropped as ties"),
        ("parse_failure_rate", "judge parse failures"),
        ("mean_answer_words", "candidate words"),
        ("mean_pair_gap", "chosen - rejected score"),
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(12, 2.8))
    for ax, (key, title) in zip(axes, panels, strict=True):
        values: list[float] = []
        for run in runs:
            health = run.metrics.get("iterations", [])
            ys = [_value(h.get(key)) for h in health]
            values += ys
            ax.plot([h["iteration"] for h in health], ys, marker="o", label=run.name)
        ax.set_title(title, fontsize=9)
        _iterations(ax, runs)
        _span(ax, key, values)
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
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts
    ax.legend(fontsize=8)
    return _png(fig)


def figures(runs: list[RunData]) -> dict[str, str | None]:
    """title -> base64 PNG, in page order; None for a figure left out for want of data (the title says why)."""
    out: dict[str, str | None] = {}
    if has_values(runs, lambda m: m.get("oracle_score_mean")):
        out["Oracle score per model (95% CI)"] = model_curve(runs, "oracle_score_mean", "oracle_score_ci95", "oracle")
    if has_values(runs, lambda m: m.get("self_judge_score_mean")):
        out["Self-judge score per model (not independent)"] = model_curve(
            runs, "self_judge_score_mean", "self_judge_score_ci95", "self-judge"
        )
    else:
        out["Self-judge score per model: not plotted, this run did not measure it (eval.self_judge is off)"] = None
    if has_values(runs, lambda m: any((m.get("judge") or {}).get(k) is not None for k in JUDGE_KEYS) or None):
        out["Judge quality per model"] = judge_metrics(runs)
    else:
        out["Judge quality per model: not plotted, this run has no judge-quality set (eval.judge_eval)"] = None
    if has_values(runs, lambda m: m.get("answer_words_mean")):
        out["Answer length per model (words)"] = model_curve(runs, "answer_words_mean", None, "words")
    if any(run.metrics.get("head_to_head") for run in runs):
        out["Head to head: wins / ties / losses"] = win_tie_loss_bars(runs)
    if any(run.metrics.get("iterations") for run in runs):
        out["Judge health per iteration"] = iteration_panel(runs)
        for run in runs:
            out[f"Candidate score histograms: {run.name}"] = score_histograms(run)
    return out
