"""The probe scripts' pure parts: the pair-control edits, the model-answer judge-eval's accuracy, own-judgment rows."""

from __future__ import annotations

import importlib.util
import random
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from srlm.method.metrics import JudgedPrompt, pairwise_accuracy, pairwise_credit

SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pair(i: int) -> dict[str, object]:
    return {"id": f"p{i}", "prompt_id": f"p{i}", "prompt": "q", "chosen": f"good {i}", "rejected": f"bad {i}",
            "chosen_id": f"p{i}-c0", "rejected_id": f"p{i}-c1", "score_chosen": 4.0, "score_rejected": 2.0,
            "chosen_truncated": False, "rejected_truncated": True}  # fmt: skip


def test_pair_control_edits() -> None:
    control = load("pair_control")
    pairs = [pair(0), pair(1), pair(2)]
    grades = [(5.0, 3.0), (3.0, 3.0), (2.0, 4.0)]  # right, equal, wrong
    samples = {"p0-c0": [4.0, 5.0], "p0-c1": [3.0], "p1-c0": [4.0], "p1-c1": [4.0], "p2-c0": [5.0], "p2-c1": [1.0, 2.0]}
    assert [p["id"] for p in control.edit_pairs(pairs, grades, samples, control.Mode.strict)] == ["p0"]
    assert [p["id"] for p in control.edit_pairs(pairs, grades, samples, control.Mode.unanimous)] == ["p0", "p2"]
    flipped = control.edit_pairs(pairs, grades, samples, control.Mode.flip)
    assert flipped[:2] == pairs[:2]  # right and equal pairs stay as they are
    assert flipped[2] == {**pairs[2], "chosen": "bad 2", "rejected": "good 2", "chosen_id": "p2-c1",
                          "rejected_id": "p2-c0", "score_chosen": 2.0, "score_rejected": 4.0,
                          "chosen_truncated": True, "rejected_truncated": False}  # fmt: skip


def test_per_prompt_credit_sums_to_the_metric_and_the_change_has_a_ci() -> None:
    probe = load("model_answer_judge_eval")
    rng = random.Random(0)
    items = [
        JudgedPrompt(
            gold=tuple(float(rng.randint(0, 5)) for _ in range(4)),
            judge=tuple(None if rng.random() < 0.1 else float(rng.randint(0, 5)) for _ in range(4)),
        )
        for _ in range(200)
    ]
    per_prompt = [pairwise_credit(item) for item in items]
    credit, total = map(sum, zip(*per_prompt, strict=True))
    assert credit / total == pytest.approx(pairwise_accuracy(items))
    better = [JudgedPrompt(gold=item.gold, judge=item.gold) for item in items]  # a judge that is always right
    change, (low, high) = probe.accuracy_change(per_prompt, [pairwise_credit(item) for item in better])
    assert change == pytest.approx(1.0 - pairwise_accuracy(items)) and low <= change <= high and low > 0
    same, (low, high) = probe.accuracy_change(per_prompt, per_prompt)
    assert same == 0.0 and low == high == 0.0


def test_own_judgment_rows_take_the_most_common_score_and_keep_a_score_mix() -> None:
    probe = load("own_judgment_probe")
    samples = [{"text": "a", "score": 4.0}, {"text": "b", "score": 5.0}, {"text": "c", "score": 5.0}]
    assert probe.modal_judgment(samples) == ("b", 5.0)  # the first judgment with the most common score
    assert probe.modal_judgment([{"text": "x", "score": None}, {"text": "y", "score": 2.0}]) == ("y", 2.0)
    assert probe.modal_judgment([{"text": "x", "score": None}]) is None  # nothing scored: no row
    scores = [(f"c{i}", 5.0) for i in range(80)] + [(f"d{i}", 2.0) for i in range(20)]
    plain = probe.draw(scores, 10, seed=1)
    assert len(plain) == len(set(plain)) == 10 and plain == probe.draw(scores, 10, seed=1)
    mixed = probe.draw(scores, 10, seed=1, mix={2.0: 1, 5.0: 1})  # half and half, though 2.0 is rarer
    assert sorted(Counter(cid[0] for cid in mixed).items()) == [("c", 5), ("d", 5)]
    short = probe.draw(scores, 10, seed=1, mix={0.0: 1, 5.0: 1})  # no candidate scored 0: its share is left out
    assert len(short) == 5 and all(cid.startswith("c") for cid in short)
    assert len(probe.draw(scores, 500, seed=1)) == 100  # never more than there are
