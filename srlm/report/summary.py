"""The end-of-run table on the console: one row per model, then each head to head with its verdict."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from srlm.console import console


def _fmt(value: Any, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _ci(pair: Any) -> str:
    return "–" if not pair or pair[0] is None else f"[{pair[0]:.2f}, {pair[1]:.2f}]"


def print_summary(metrics: dict[str, Any]) -> None:
    """One row per model, then W/T/L lines with a verdict read off the CI."""
    table = Table(title="srlm eval", header_style="bold")
    sampled = any("sampled" in m for m in metrics["models"].values())
    columns = ["model", "oracle mean [95% CI]", *(["sampled mean [95% CI]", "every rule met"] if sampled else [])]
    for column in (*columns, "self-judge mean", "judge pairwise acc.", "words"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for name, m in metrics["models"].items():
        oracle = f"{_fmt(m.get('oracle_score_mean'))} {_ci(m.get('oracle_score_ci95'))}"
        drawn = m.get("sampled") or {}
        met = (drawn.get("oracle_criteria_pass_rate") or {}).get("all")  # share of sampled answers
        mean = f"{_fmt(drawn.get('oracle_score_mean'))} {_ci(drawn.get('oracle_score_ci95'))}"
        cells = [mean, _fmt(met)] if sampled else []
        accuracy = (m.get("judge") or {}).get("pairwise_accuracy")
        table.add_row(
            name,
            oracle,
            *cells,
            _fmt(m.get("self_judge_score_mean")),
            _fmt(accuracy),
            _fmt(m.get("answer_words_mean"), 1),
        )
    console.print(table)
    for e in metrics["head_to_head"]:
        drawn = ""
        if e.get("sampled_delta") is not None:
            drawn = f"; sampled {e['sampled_delta']:+.3f} {_ci(e['sampled_delta_ci95'])} — {e['sampled_verdict']}"
        console.print(
            f"{e['a'].upper()} vs {e['b'].upper()} ({e['judge']}): "
            f"W/T/L {e['wins']}/{e['ties']}/{e['losses']}, "
            f"win rate {_fmt(e['win_rate'])} {_ci(e['win_rate_ci95'])}, LC {_fmt(e.get('lc_win_rate'))} "
            f"— {e['verdict']}{drawn}"
        )
    for c in metrics.get("judge_changes", []):
        if c["delta"] is not None:  # null: no gold-ordered pair scored by both judges
            low, high = c["delta_ci95"]
            ci = "–" if low is None else f"[{low:+.3f}, {high:+.3f}]"  # no CI from a single prompt
            console.print(
                f"judge {c['a'].upper()} vs {c['b'].upper()}: pairwise accuracy {c['delta']:+.3f} {ci} — {c['verdict']}"
            )
    for h in metrics.get("iterations", []):
        console.print(iteration_line(h))
    for name, a in metrics.get("alpaca_eval", {}).items():
        console.print(
            f"{name.upper()} alpaca_eval (official, vs {', '.join(a.get('reference') or ['?'])}): "
            f"win rate {_fmt(a['win_rate'], 1)} % ± {_fmt(a['standard_error'], 1)}, LC {_fmt(a['lc_win_rate'], 1)} %"
        )
    for warning in metrics.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {warning}")


def iteration_line(h: dict[str, Any]) -> str:
    """One iteration: its pairs, the judge's best-of-N against the reference's, what DPO did, its verdicts per check."""
    parts = [f"iteration {h['iteration']}: {h['pairs']} pairs of {h['prompts']} prompts"]
    if h.get("pairs_source") == "oracle":
        parts[0] += " (oracle pairs: a control, not the method)"
    pairs = h.get("pair_oracle")
    if pairs:
        parts.append(f"precision {_fmt(pairs.get('precision'))}, chosen longer {_fmt(pairs.get('chosen_longer'))}")
    gap = h.get("best_of_n")
    if pairs and gap and pairs.get("grade_gap") is not None:
        reference = gap.get("reference_pairs_grade_gap")
        parts.append(f"grade gap {_fmt(pairs['grade_gap'])} (reference pairs {_fmt(reference)})")
    if gap and gap.get("prompts"):
        parts.append(
            f"best of N by the judge {_fmt(gap['judge_best'])} / mean {_fmt(gap['mean'])} / reference best "
            f"{_fmt(gap['reference_best'])}: captured {_fmt(gap['captured'])} {_ci(gap['captured_ci95'])}"
        )
    replay = h.get("eft_replay")
    if replay:
        matched = _fmt(replay["seed_agreement"])
        parts.append(f"EFT replay: seed score matched in {matched}, {replay['pairs']} judge pairs")
    flipped = h.get("verdict_pairs")
    if flipped:
        parts.append(f"{flipped['flipped_yes'] + flipped['flipped_no']} flipped-verdict pairs")
    dpo = h.get("dpo")
    if dpo:
        margin = dpo.get("rewards_margins")
        text = f"DPO loss {dpo['loss']['first']:.3f} -> {dpo['loss']['last']:.3f}"
        if margin:
            text += f", margin {margin['first']:.2f} -> {margin['last']:.2f}"
        parts.append(text)
    kinds = (h.get("judge_checks") or {}).get("kinds") or {}
    verdicts = [f"{kind} {_fmt(c.get('verdict'))}" for kind, c in kinds.items() if c.get("verdict") is not None]
    if verdicts:
        parts.append("judge verdicts right per check: " + ", ".join(verdicts))
    return "; ".join(parts)
