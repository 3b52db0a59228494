"""Which of the judge's checks limit its pairs? Its own judgments, each check in turn set right.

    python scripts/check_value_probe.py runs/default            # iteration 1
    python scripts/check_value_probe.py runs/default --iteration 2

For every judgment sample of an iteration (`iter<t>/judgments.jsonl`), the points the judge
gave on one check are replaced by the oracle's: `clean`, `extra` and `topic` directly; a rule
kind (`say`, `list`, ...) by setting that kind's rule-line verdicts right and recounting `met k
of n`, which moves the `half` and `all` points. The candidates' scores are averaged again over
the k samples, and the gate-2 numbers recomputed: pair precision (best vs worst, the oracle's
ties left out) and the share of the oracle's best-of-N headroom the judge's pick captures.
Nothing is sampled or trained: it shows what each check is worth, before anything is built.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Any

import typer

from srlm.method.metrics import best_of_n
from srlm.world.judge_checks import NOT_RULES, keyed, kind_of
from srlm.world.judgment import write_judgment
from srlm.world.oracle import grade

NUMBERS = {"zero": 0, "one": 1, "two": 2, "three": 3}
FIXES: tuple[tuple[str, ...], ...] = (
    (),
    ("clean",),
    ("extra",),
    ("topic",),
    ("say",),
    ("list",),
    ("order",),
    ("include",),
    ("say", "list", "order"),
    ("say", "list", "order", "include", "avoid", "end with", "start with", "exactly", "at most", "at least"),
)


def said_yes(line: str | None) -> bool:
    return line is not None and line.split()[-1] == "yes"


def fixed_score(sample: dict[str, Any], truth: dict[str, str], points: dict[str, bool], fix: Collection[str]) -> float:
    """The sample's score with its points on the checks in `fix` replaced by the oracle's."""
    score = float(sample["score"])
    said = keyed(sample["text"])
    for check in ("clean", "extra", "topic"):
        key = next((k for k in said if kind_of(k) == check), None)
        if check in fix and key is not None:
            score += int(points[check]) - int(said_yes(said[key]))
    rules = [k for k in truth if kind_of(k) not in (*NOT_RULES, "topic")]
    met_line = next((line for line in sample["text"].split("\n") if line.strip().startswith("met ")), "")
    words = met_line.split()
    if not rules or not fix or len(words) != 4 or words[1] not in NUMBERS:
        return score
    met = NUMBERS[words[1]]  # what the judge counted; each fixed line moves it by its verdict's change
    met += sum(said_yes(truth[k]) - said_yes(said.get(k)) for k in rules if kind_of(k) in fix)

    def rule_points(k: int) -> int:
        return int(2 * k >= len(rules)) + int(k == len(rules))

    return score - rule_points(NUMBERS[words[1]]) + rule_points(max(0, min(met, len(rules))))


def main(
    run: Annotated[Path, typer.Argument(help="a world run dir")],
    iteration: Annotated[int, typer.Option("--iteration", "-t", min=1)] = 1,
) -> None:
    from srlm.config import load_config

    world = load_config(run / "config.yaml").world
    if world is None:
        raise typer.BadParameter(f"{run / 'config.yaml'}: not a world run (no `world` section)")
    candidates = {}
    for line in (run / f"iter{iteration}" / "candidates.jsonl").open():
        row = json.loads(line)
        candidates[row["id"]] = row
    by_prompt: dict[str, list[tuple[list[dict[str, Any]], dict[str, str], Any]]] = defaultdict(list)
    for line in (run / f"iter{iteration}" / "judgments.jsonl").open():
        judged = json.loads(line)
        c = candidates[judged["id"]]
        truth = keyed(write_judgment(c["prompt"], c["response"], world.clean_line))
        samples = [s for s in judged["samples"] if s["score"] is not None]
        by_prompt[c["prompt_id"]].append((samples, truth, grade(c["prompt"], c["response"])))
    for fix in FIXES:
        groups, better, worse = [], 0, 0
        for answers in by_prompt.values():
            scores: list[float | None] = []
            for samples, truth, oracle in answers:
                values = [fixed_score(s, truth, oracle.points, fix) for s in samples]
                scores.append(sum(values) / len(values) if values else None)
            grades = [float(oracle.score) for _, _, oracle in answers]
            groups.append((scores, grades))
            scored = [(s, g) for s, g in zip(scores, grades, strict=True) if s is not None]
            if len(scored) < 2 or max(scored)[0] == min(scored)[0]:
                continue
            high, low = max(s for s, _ in scored), min(s for s, _ in scored)
            chosen = next(g for s, g in scored if s == high)
            rejected = next(g for s, g in scored if s == low)
            better, worse = better + (chosen > rejected), worse + (chosen < rejected)
        captured = best_of_n(groups, n_resamples=100)["captured"]
        name = " + ".join(fix) if fix else "none (the judge as it is)"
        print(f"right on {name}: precision {better / max(1, better + worse):.3f}, captured {captured:.3f}")


if __name__ == "__main__":
    typer.run(main)
