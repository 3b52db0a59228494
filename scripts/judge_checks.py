"""Where a world judge goes wrong: each line of its judgments against the oracle's, per check.

    python scripts/judge_checks.py runs/default --iteration 1

Reads `<run>/iter<t>/candidates.jsonl` and `judgments.jsonl` of a world run (M(t) judging its
own candidates) and compares every judgment sample with the oracle's judgment of the same
answer (`srlm.world.write_judgment`). A judgment line is keyed by what comes before its ` : `
(`topic sea`, `end with fish`, `clean`, …). Prints:

- how often the judge restated exactly the instruction's rules (the set of rule keys),
- how often its final score equals the oracle's, and the mean absolute error,
- per check kind: the share of the oracle's lines the judge wrote under the same key
  (`present`), and of those, the share written exactly and with the right verdict (`yes`/`no`).

A judge that writes a rule the instruction does not have (`at least seven words` for `at most
seven words`) has that line counted missing: its verdict is then about a rule nobody asked for.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Annotated

import typer

from srlm.data.io import read_rows
from srlm.world import parse, write_judgment
from srlm.world.oracle import grade_instruction

NOT_RULES = ("clean", "extra", "score")


def keyed(text: str) -> dict[str, str]:
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    return {line.split(" : ")[0].strip(): line for line in lines if " : " in line}


def kind_of(key: str) -> str:
    """The check kind of a line key: `topic`, `clean`, `extra`, `score`, or the rule's kind."""
    if key.startswith("topic ") or key in NOT_RULES:
        return key.split()[0]
    if " before " in key:
        return "order"
    words = key.split()
    return " ".join(words[:2]) if words[0] in ("at", "start", "end") else words[0]


def main(
    run: Annotated[Path, typer.Argument(help="a world run dir")],
    iteration: Annotated[int, typer.Option(help="the iteration whose judgments to check")] = 1,
) -> None:
    folder = run / f"iter{iteration}"
    candidates = {row["id"]: row for row in read_rows(folder / "candidates.jsonl")}
    totals: Counter[str] = Counter()
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for row in read_rows(folder / "judgments.jsonl"):
        candidate = candidates[row["id"]]
        instruction = parse(candidate["prompt"])
        if instruction is None:
            continue
        truth = keyed(write_judgment(instruction, candidate["response"]))
        oracle = grade_instruction(instruction, candidate["response"]).score
        rules = {key for key in truth if key not in NOT_RULES}
        for sample in row["samples"]:
            written = keyed(sample["text"])
            totals["judgments"] += 1
            totals["rules_exact"] += {key for key in written if key not in NOT_RULES} == rules
            if sample.get("score") is not None:
                totals["scored"] += 1
                totals["score_exact"] += sample["score"] == oracle
                totals["abs_error"] += abs(sample["score"] - oracle)
            for key, line in truth.items():
                kind = kinds[kind_of(key)]
                kind["lines"] += 1
                if key in written:
                    kind["present"] += 1
                    kind["exact"] += written[key] == line
                    kind["verdict"] += written[key].split()[-1] == line.split()[-1]
    n, scored = totals["judgments"], max(1, totals["scored"])
    print(
        f"{run} iteration {iteration}: {n} judgments; rules restated exactly {totals['rules_exact'] / max(1, n):.3f}; "
        f"score = oracle {totals['score_exact'] / scored:.3f}; mean |score - oracle| {totals['abs_error'] / scored:.2f}"
    )
    print(f"  {'check':10s} {'lines':>6s} {'present':>8s} {'exact':>6s} {'verdict':>8s}")
    for name, c in sorted(kinds.items(), key=lambda item: -item[1]["lines"]):
        present = max(1, c["present"])
        print(
            f"  {name:10s} {c['lines']:6d} {c['present'] / c['lines']:8.2f} {c['exact'] / present:6.2f} "
            f"{c['verdict'] / present:8.2f}"
        )
    summary = {"totals": dict(totals), "kinds": {name: dict(c) for name, c in kinds.items()}}
    (folder / "judge_checks.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    typer.run(main)
