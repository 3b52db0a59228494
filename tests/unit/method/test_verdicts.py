"""Verdict pairs' pure logic: which lines carry a verdict, and the judgment with one of them flipped."""

from __future__ import annotations

import pytest

from srlm.method.judging.verdicts import flip_line, verdict_lines, verdict_pairs

JUDGMENT = (
    "topic sea : sea , yes\n"
    "end with fish : last tree , no\n"
    "exactly five words : got five , yes\n"
    "met one of two\n"
    "clean : yes\n"
    "extra : tree , no\n"
    "score : 3"
)


def differing_words(a: str, b: str) -> list[tuple[str, str]]:
    assert len(a.split()) == len(b.split())
    return [(x, y) for x, y in zip(a.split(), b.split(), strict=True) if x != y]


def test_verdict_lines_are_those_ending_in_a_comma_and_yes_or_no() -> None:
    assert verdict_lines(JUDGMENT) == [0, 1, 2, 5]  # `met …`, `clean : yes` and the score carry no `, verdict`
    assert verdict_lines("Looks fine, all rules met. Score: 5") == []  # a free-text judgment
    assert verdict_lines("the answer says no , yes\nscore : 4") == [0]  # the last word is the verdict


def test_flip_line_changes_that_verdict_and_nothing_else() -> None:
    for index, (before, after) in {0: ("yes", "no"), 1: ("no", "yes"), 5: ("no", "yes")}.items():
        flipped = flip_line(JUDGMENT, index)
        assert differing_words(JUDGMENT, flipped) == [(before, after)]
        assert flipped.split("\n")[index].endswith(f", {after}")
        assert flip_line(flipped, index) == JUDGMENT
    with pytest.raises(ValueError, match="line 3 has no verdict"):
        flip_line(JUDGMENT, 3)


def test_each_row_gives_one_pair_and_the_flipped_line_does_not_depend_on_the_other_rows() -> None:
    rows = [(f"eft{i}", f"judge {i}", JUDGMENT) for i in range(40)]
    rows.append(("eft40", "judge 40", "Looks fine. Score: 5"))
    pairs, counts = verdict_pairs(rows, seed=3)
    assert [p.id for p in pairs] == [f"eft{i}" for i in range(41)]
    kept = pairs.pop()  # no verdict line: both sides the seed judgment, for the NLL term alone
    assert kept.chosen == kept.rejected == "Looks fine. Score: 5" and kept.line is None and kept.verdict is None
    for pair in pairs:
        assert pair.chosen == JUDGMENT and pair.prompt == f"judge {pair.id[3:]}"
        assert pair.line in (0, 1, 2, 5) and pair.rejected == flip_line(JUDGMENT, pair.line)
        assert pair.verdict == JUDGMENT.split("\n")[pair.line].split()[-1]
    assert len({p.line for p in pairs}) == 4  # every verdict line is drawn in 40 rows
    assert counts == {
        "rows": 41,
        "pairs": 41,
        "flipped_yes": sum(p.verdict == "yes" for p in pairs),
        "flipped_no": sum(p.verdict == "no" for p in pairs),
        "no_verdict_line": 1,
    }
    assert counts["flipped_yes"] + counts["flipped_no"] == 40
    alone, _ = verdict_pairs(rows[7:8], seed=3)
    assert alone == [pairs[7]]  # the same row flips the same line whatever else is drawn
    other_seed, _ = verdict_pairs(rows, seed=4)
    assert [p.line for p in other_seed] != [p.line for p in pairs]  # another iteration flips other lines
