"""`judge_checks`: per-check verdicts against the oracle's judgment, in the run's clean-line format."""

from __future__ import annotations

from srlm.world.judge_checks import judge_checks

PROMPT = "write about the sea . include the word blue ."


def test_the_oracle_side_is_written_in_the_runs_clean_line_format() -> None:
    clean_answer = "the blue sea"  # clean: 3 words
    judged = [(PROMPT, clean_answer, ["topic sea : sea , yes\ninclude blue : found , yes\nclean : the one , yes"])]
    word, plain = judge_checks(judged, "word")["kinds"]["clean"], judge_checks(judged)["kinds"]["clean"]
    assert word["exact"] == 1.0 and word["verdict"] == 1.0
    assert plain["exact"] == 0.0 and plain["verdict"] == 1.0  # same verdict, another wording
    unclean = [(PROMPT, "blue sea", ["clean : the one , yes"])]  # too short
    assert judge_checks(unclean, "word")["kinds"]["clean"]["false_yes"] == 1.0
