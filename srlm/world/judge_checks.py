"""Where a world judge goes wrong: each line of its judgments against the oracle's, per check.

A judgment line is keyed by what comes before its `` : `` (``topic sea``, ``end with fish``,
``clean``, …). For every judgment sample of an answer this counts:

- whether the judge restated exactly the instruction's rules (the set of rule keys),
- whether its final score equals the oracle's, and the absolute error,
- per check kind: the oracle's lines, the share the judge wrote under the same key
  (``present``), of those the share written exactly, the share with the right verdict
  (``verdict``: the last word, ``yes`` / ``no``), and how often it says ``yes`` where the
  oracle says ``no`` (``false_yes``: a judge that learned the base rate, not the look-up).

A judge that writes a rule the instruction does not have (``at least seven words`` for ``at
most seven words``) has that line counted missing: its verdict is about a rule nobody asked for.
Pure Python; `srlm.stages.iteration_health` reports it per iteration as ``judge_checks``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from srlm.method.judging import parse_score
from srlm.world.grammar import parse
from srlm.world.judgment import CleanLine, write_judgment
from srlm.world.oracle import grade_instruction

NOT_RULES = ("clean", "extra", "score")


def keyed(text: str) -> dict[str, str]:
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    return {line.split(" : ")[0].strip(): line for line in lines if " : " in line}


def kind_of(key: str) -> str:
    """The check kind of a line key: `topic`, `clean`, `extra`, `score`, or the rule's kind.

    >>> [kind_of(k) for k in ("topic sea", "end with fish", "at most five words", "red before cat", "include W")]
    ['topic', 'end with', 'at most', 'order', 'include']
    """
    if key.startswith("topic ") or key in NOT_RULES:
        return key.split()[0]
    if " before " in key:
        return "order"
    words = key.split()
    return " ".join(words[:2]) if words[0] in ("at", "start", "end") else words[0]


def judge_checks(judged: Iterable[tuple[str, str, Sequence[str]]], clean_line: CleanLine = "verdict") -> dict[str, Any]:
    """Per-check verdict accuracy of judgment samples against the oracle's judgment.

    `judged` yields (instruction text, answer, judgment sample texts); instructions outside the
    world are skipped. The oracle's judgments are written with ``clean_line`` (the run's EFT
    format). Returns ``{judgments, rules_restated, score_exact, score_abs_error, kinds: {kind:
    {lines, present, exact, verdict, false_yes}}}`` (shares, NaN-free where defined).

    >>> out = judge_checks([("write about the sea . include the word blue .", "the sea is big",
    ...                      ["topic sea : sea , yes\\ninclude blue : found , yes\\nscore : 5"])])
    >>> out["kinds"]["include"]["verdict"], out["kinds"]["include"]["false_yes"], out["score_exact"]
    (0.0, 1.0, 0.0)
    """
    totals: Counter[str] = Counter()
    abs_error = 0.0
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for prompt, answer, samples in judged:
        instruction = parse(prompt)
        if instruction is None:
            continue
        truth = keyed(write_judgment(instruction, answer, clean_line))
        oracle = grade_instruction(instruction, answer).score
        rules = {key for key in truth if key not in NOT_RULES}
        for text in samples:
            written = keyed(text)
            totals["judgments"] += 1
            totals["rules_restated"] += {key for key in written if key not in NOT_RULES} == rules
            score = parse_score(text)
            if score is not None:
                totals["scored"] += 1
                totals["score_exact"] += score == oracle
                abs_error += abs(score - oracle)
            for key, line in truth.items():
                if key == "score":
                    continue
                kind = kinds[kind_of(key)]
                kind["lines"] += 1
                if key not in written:
                    continue
                kind["present"] += 1
                kind["exact"] += written[key] == line
                said, right = written[key].split()[-1], line.split()[-1]
                kind["verdict"] += said == right
                if right == "no":
                    kind["oracle_no"] += 1
                    kind["said_yes"] += said == "yes"
    n, scored = totals["judgments"], totals["scored"]
    return {
        "judgments": n,
        "rules_restated": totals["rules_restated"] / n if n else None,
        "score_exact": totals["score_exact"] / scored if scored else None,
        "score_abs_error": abs_error / scored if scored else None,
        "kinds": {
            name: {
                "lines": c["lines"],
                "present": c["present"] / c["lines"] if c["lines"] else None,
                "exact": c["exact"] / c["present"] if c["present"] else None,
                "verdict": c["verdict"] / c["present"] if c["present"] else None,
                "false_yes": c["said_yes"] / c["oracle_no"] if c["oracle_no"] else None,
            }
            for name, c in sorted(kinds.items(), key=lambda item: -item[1]["lines"])
        },
    }
