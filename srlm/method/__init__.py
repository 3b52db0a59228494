"""The method's logic as pure functions: no model, no torch, no run dir.

    judging/         the judge prompts (rubric, pairwise, meta-judge) and the parsers of their verdicts
    selfinstruct.py  the few-shot prompt for new tasks and the filters on them (ROUGE-L, decontamination)
    preferences.py   best-vs-worst preference pairs from scores or pairwise outcomes, length control
    consistency.py   CREAM's consistency weight and the TRL losses that express it
    metrics.py       judge quality, win rates, bootstrap CIs, best-of-N: the statistics evaluation reports

The stages (srlm/stages, srlm/training) read and write files and call these.
"""
