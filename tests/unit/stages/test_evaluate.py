"""`srlm eval` with scripted engines and a fake oracle: files, hand-worked metrics, resume."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from srlm.config import Config, config_from_dict
from srlm.rundir import RunDir, write_manifest
from srlm.stages import evaluate, pairs
from srlm.stages.evaluate_metrics import comparisons, oracle_outcomes, verdict
from srlm.stages.iteration_health import anchored_health, iteration_health, reference_grades
from tests.helpers import ScriptedEngine, fixture_rows, tiny_config, write_jsonl

# Oracle score of each model's answer per eval prompt e0..e9, chosen by hand:
# m2 vs m1: wins on e0-e4 (3 > 1), ties on e5-e7, loses on e8-e9 -> W/T/L 5/3/2, win rate 0.65.
SCORES = {
    "m1": [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    "m2": [3, 3, 3, 3, 3, 1, 1, 1, 0, 0],
    "m3": [3, 3, 3, 3, 3, 3, 3, 3, 3, 3],
}


@dataclass
class FakeGrade:
    score: int
    points: dict[str, bool] = field(default_factory=dict)


def fake_oracle(prompt: str, answer: str) -> FakeGrade:
    """The answer's first word is its score; 'topic' passes when it is at least 1."""
    if "unreadable" in prompt:
        raise ValueError("not an instruction")
    score = int(answer.split()[0])
    return FakeGrade(score, {"topic": score >= 1})


def reply_for(model: str) -> Any:
    def reply(item: Any, params: Any) -> str:
        if "-j" not in item.id:  # an answer to eval prompt e<i>
            score = SCORES[model][int(item.id[1:])]
            return f"{score} " + "word " * (score + 1)
        if item.id.startswith("r"):  # a ranked judge-eval answer: judge it perfectly
            gold = re.findall(r"R(\d)", item.messages[0]["content"])[-1]
            return f"Looks right. Score: {gold}"
        return "Score: 4" if not item.id.endswith("-j2") else "cannot say"  # self-judge

    return reply


class Factory:
    """engine_factory: a scripted engine per model dir, recording which models were loaded."""

    def __init__(self, judge_reply: Any = None) -> None:
        self.loaded: list[str] = []
        self.judge_reply = judge_reply

    @contextmanager
    def __call__(self, model_dir: str) -> Iterator[ScriptedEngine]:
        self.loaded.append(Path(model_dir).name)
        name = Path(model_dir).name
        yield ScriptedEngine(self.judge_reply if name == "judge" else reply_for(name))


def make_run(tmp_path: Path, **sections: Any) -> tuple[Config, RunDir]:
    answers = {"responses": ["R5 a", "R3 b", "R1 c"], "scores": [5, 3, 1]}
    ranked = [{"id": f"r{i}", "prompt": f"rank {i}", **answers} for i in range(4)]
    judge_eval = write_jsonl(tmp_path / "judge_eval.jsonl", ranked)
    sections.setdefault("eval", {})["judge_eval"] = str(judge_eval)
    cfg = config_from_dict(tiny_config(tmp_path, tmp_path / "m0", **sections))
    rd = RunDir(Path(cfg.loop.run_dir))
    for t in (1, 2, 3):
        rd.model(t).mkdir(parents=True)
        (rd.model(t) / "weights.bin").write_text(f"m{t}")
        write_manifest(rd.model(t), stage="test", config_hash="x", inputs=[])
    return cfg, rd


def test_metrics_from_scripted_models(tmp_path: Path) -> None:
    cfg, rd = make_run(tmp_path)
    factory = Factory()
    path = evaluate.run(cfg, rd, engine_factory=factory, oracle=fake_oracle)
    metrics = json.loads(path.read_text())
    assert set(metrics) >= {"models", "head_to_head", "iterations", "settings"}
    assert list(metrics["models"]) == ["m1", "m2", "m3"]
    m2 = metrics["models"]["m2"]
    assert m2["oracle_score_mean"] == pytest.approx(1.8)
    low, high = m2["oracle_score_ci95"]
    assert low <= 1.8 <= high
    assert m2["oracle_criteria_pass_rate"] == {"topic": 0.8}
    assert m2["answer_words_mean"] == pytest.approx(sum(s + 2 for s in SCORES["m2"]) / 10)
    assert m2["answer_tokens_mean"] is None  # no tokenizer in the fake model dir
    assert m2["self_judge_score_mean"] == 4.0
    assert m2["self_judge_parse_failure_rate"] == pytest.approx(1 / 3)
    judge = m2["judge"]
    assert judge["pairwise_accuracy"] == 1.0 and judge["exact_match"] == 1.0 and judge["spearman"] == 1.0
    assert judge["five_best"] == 1.0 and judge["parse_failure_rate"] == 0.0
    assert judge["score_histogram"]["5"] == 4 and judge["score_histogram"]["unparsed"] == 0
    assert metrics["settings"]["eval_prompts"] == 10 and "tie" in metrics["settings"]["tie_rule"]
    m2_vs_m1 = next(e for e in metrics["head_to_head"] if (e["a"], e["b"]) == ("m2", "m1"))
    assert (m2_vs_m1["wins"], m2_vs_m1["ties"], m2_vs_m1["losses"]) == (5, 3, 2)
    assert m2_vs_m1["win_rate"] == pytest.approx(0.65) and m2_vs_m1["judge"] == "oracle"
    assert m2_vs_m1["win_rate_ci95"][0] <= 0.65 <= m2_vs_m1["win_rate_ci95"][1]
    m3_vs_m2 = next(e for e in metrics["head_to_head"] if (e["a"], e["b"]) == ("m3", "m2"))
    assert (m3_vs_m2["wins"], m3_vs_m2["ties"], m3_vs_m2["losses"]) == (5, 5, 0)
    m3_vs_m1 = next(e for e in metrics["head_to_head"] if (e["a"], e["b"]) == ("m3", "m1"))
    assert m3_vs_m1["wins"] == 10 and m3_vs_m1["verdict"] == "better"
    changes = {(c["a"], c["b"]): c for c in metrics["judge_changes"]}  # every judge is right on every pair
    assert set(changes) == {("m2", "m1"), ("m3", "m2"), ("m3", "m1")}
    assert all(c["delta"] == 0.0 and c["prompts"] == 4 for c in changes.values())
    assert sorted(factory.loaded) == ["m1", "m2", "m3"]
    answers = [json.loads(line) for line in (rd.root / "eval/m1/answers.jsonl").read_text().splitlines()]
    assert set(answers[0]) == {"id", "prompt", "response", "truncated"} and len(answers) == 10
    alpaca = json.loads((rd.root / "eval/m2/alpaca_eval.json").read_text())
    assert alpaca[0] == {
        "instruction": answers[0]["prompt"],
        "output": "3 word word word word ",
        "generator": "m2",
    }


def test_rerun_recomputes_without_generating(tmp_path: Path) -> None:
    cfg, rd = make_run(tmp_path)
    first = evaluate.run(cfg, rd, engine_factory=Factory(), oracle=fake_oracle).read_text()

    def no_engine(model_dir: str) -> Any:
        raise AssertionError(f"loaded {model_dir} although every file was done")

    assert evaluate.run(cfg, rd, engine_factory=no_engine, oracle=fake_oracle).read_text() == first


def test_sft_baseline_is_the_reference(tmp_path: Path) -> None:
    cfg, rd = make_run(tmp_path, loop={"sft_baseline": True})
    rd.sft_baseline.mkdir()
    (rd.sft_baseline / "w").write_text("b")
    write_manifest(rd.sft_baseline, stage="test", config_hash="x", inputs=[])
    SCORES["sft_baseline"] = [1] * 10
    try:
        metrics = json.loads(evaluate.run(cfg, rd, engine_factory=Factory(), oracle=fake_oracle).read_text())
    finally:
        del SCORES["sft_baseline"]
    pairs_seen = [(e["a"], e["b"]) for e in metrics["head_to_head"]]
    assert ("m1", "sft_baseline") in pairs_seen and ("m3", "sft_baseline") in pairs_seen
    assert metrics["settings"]["reference_model"] == "sft_baseline"


def test_judge_model_position_bias_becomes_ties(tmp_path: Path) -> None:
    """A judge that always says 'A' disagrees with itself across orders: every prompt ties."""
    cfg, rd = make_run(tmp_path, eval={"judge_model": str(tmp_path / "judge")})
    metrics = json.loads(
        evaluate.run(cfg, rd, engine_factory=Factory(lambda i, p: "Winner: A"), oracle=fake_oracle).read_text()
    )
    entry = next(e for e in metrics["head_to_head"] if e["judge"] == "judge_model" and e["a"] == "m2")
    assert (entry["wins"], entry["ties"], entry["losses"], entry["win_rate"]) == (0, 10, 0, 0.5)
    assert entry["verdict"].startswith("no clear difference")


def test_oracle_outcomes_and_verdicts() -> None:
    a = {"p1": FakeGrade(3), "p2": FakeGrade(2), "p3": FakeGrade(1), "p4": None}
    b = {"p1": FakeGrade(2), "p2": FakeGrade(2), "p3": FakeGrade(4), "p4": FakeGrade(0)}
    assert oracle_outcomes(a, b) == {"p1": 1.0, "p2": 0.5, "p3": 0.0, "p4": None}
    assert verdict({"win_rate_ci95": [0.55, 0.61]}) == "better"
    assert verdict({"win_rate_ci95": [0.3, 0.45]}) == "worse"
    assert verdict({"win_rate_ci95": [0.45, 0.6]}).startswith("no clear difference")
    assert comparisons(["m1", "m2", "m3"]) == [("m2", "m1"), ("m3", "m2"), ("m3", "m1")]
    assert comparisons(["m1", "m2", "sft_baseline"]) == [
        ("m2", "m1"),
        ("m1", "sft_baseline"),
        ("m2", "sft_baseline"),
    ]


def _write_iteration(cfg: Config, rd: RunDir, scores: dict[str, list[Any]]) -> None:
    """Candidates and judgments of iteration 1: one judge sample per candidate."""
    rd.iteration(1).mkdir(parents=True, exist_ok=True)
    candidates, judgments = [], []
    for pid, values in scores.items():
        for j, score in enumerate(values):
            cid = f"{pid}-c{j}"
            candidates.append({"id": cid, "prompt_id": pid, "prompt": pid, "response": "w " * (j + 1)})
            judgments.append({"id": cid, "prompt_id": pid, "samples": [{"text": "", "score": score}], "score": score})
    for name, rows in (("candidates", candidates), ("judgments", judgments)):
        write_jsonl(rd.artifact(1, name), rows)
        write_manifest(rd.artifact(1, name), stage=name, config_hash="x", inputs=[])
    pairs.run(cfg, rd, 1)


def test_judge_health_alarm_on_a_collapsed_judge(tmp_path: Path) -> None:
    cfg, rd = make_run(tmp_path)
    # 3 prompts x 4 candidates; 10 of 11 parsed scores are 5 (91 % > 80 %), one unparsed.
    _write_iteration(cfg, rd, {"p0": [5, 5, 5, 5], "p1": [5, 5, 5, 5], "p2": [1, 5, 5, None]})
    health = iteration_health(rd, 1)
    assert health is not None
    assert health["prompts"] == 3 and health["pairs"] == 1
    assert health["tie_drop_rate"] == pytest.approx(2 / 3)
    assert health["dropped"]["dropped_tie"] == 2
    assert health["parse_failure_rate"] == pytest.approx(1 / 12)
    assert health["score_histogram"]["5"] == 10 and health["score_histogram"]["unparsed"] == 1
    assert health["candidate_tie_rate"] == pytest.approx((6 + 6 + 1) / (6 + 6 + 3))
    assert health["mean_pair_gap"] == 4.0
    assert any("score 5 is 91%" in alarm for alarm in health["alarms"])
    # Longer candidates score higher in p2: the length correlation is positive.
    assert health["length_score_correlation"]["pearson"] > 0


def test_healthy_iteration_has_no_alarm(tmp_path: Path) -> None:
    cfg, rd = make_run(tmp_path)
    _write_iteration(cfg, rd, {"p0": [1, 2, 3, 4], "p1": [0, 5, 3, 2]})
    health = iteration_health(rd, 1)
    assert health is not None and health["alarms"] == [] and health["tie_drop_rate"] == 0.0


def test_a_meta_judge_whose_verdicts_do_not_parse_raises_an_alarm(tmp_path: Path) -> None:
    cfg, rd = make_run(tmp_path)
    _write_iteration(cfg, rd, {"p0": [1, 2, 3, 4], "p1": [0, 5, 3, 2]})
    meta = rd.artifact(1, "meta_judgments")
    for unparsed, alarmed in ((1, False), (8, True)):  # of 2 x 5 verdicts: 10 % and 80 %
        write_jsonl(meta, [{"id": f"r{i}"} for i in range(5)])
        write_manifest(meta, stage="meta", config_hash="x", inputs=[], rows=5, counts={"unparsed_verdicts": unparsed})
        alarms = (iteration_health(rd, 1) or {})["alarms"]
        assert alarms == (["80% of meta-judge verdicts did not parse"] if alarmed else []), alarms


def test_eft_replay_reports_how_often_the_judge_agrees_with_its_seed_set(tmp_path: Path) -> None:
    cfg, rd = make_run(tmp_path)
    _write_iteration(cfg, rd, {"p0": [1, 2, 3, 4], "p1": [0, 5, 3, 2]})
    assert "eft_replay" not in (iteration_health(rd, 1) or {})  # off: nothing to report
    replay = rd.artifact(1, "eft_pairs")
    write_jsonl(replay, [{"id": "eft0"}])
    counts = {"rows": 2, "samples": 6, "samples_right": 3, "samples_unparsed": 0, "rows_all_right": 1, "pairs": 1}
    write_manifest(replay, stage="replay", config_hash="x", inputs=[], rows=1, counts=counts)
    found = (iteration_health(rd, 1) or {})["eft_replay"]
    assert found["seed_agreement"] == 0.5 and found["pairs"] == 1


def test_unreadable_prompt_is_counted_not_scored(tmp_path: Path) -> None:
    rows = fixture_rows()["eval"]
    rows[0]["prompt"] = "unreadable prompt"
    cfg, rd = make_run(tmp_path)
    write_jsonl(Path(cfg.data.eval_prompts[0]), rows)
    metrics = json.loads(evaluate.run(cfg, rd, engine_factory=Factory(), oracle=fake_oracle).read_text())
    assert metrics["models"]["m1"]["oracle_ungraded"] == 1
    entry = next(e for e in metrics["head_to_head"] if (e["a"], e["b"]) == ("m2", "m1"))
    assert entry["unjudged"] == 1 and entry["n"] == 9


def test_world_run_uses_the_oracle(tmp_path: Path) -> None:
    from srlm.world import WorldSizes, build_world, grade
    from srlm.world.grammar import parse
    from srlm.world.judge_checks import keyed
    from srlm.world.judgment import write_judgment

    data = tiny_config(tmp_path, tmp_path / "m0", world={"eval": 6}, loop={"iterations": 0})
    data["data"].pop("eval_prompts")  # a world run evaluates on <run>/world/eval.jsonl
    cfg = config_from_dict(data)
    rd = RunDir(Path(cfg.loop.run_dir))
    rd.model(1).mkdir(parents=True)
    (rd.model(1) / "w").write_text("m1")
    write_manifest(rd.model(1), stage="test", config_hash="x", inputs=[])
    sizes = WorldSizes(ift=4, eft_prompts=4, eft_answers_per_prompt=2, judge_eval=3, eval=6, dev=2)
    build_world(cfg.world_dir, seed=0, sizes=sizes)
    assert evaluate.default_oracle(cfg) is grade
    prompt_file, prompts = evaluate.eval_prompts(cfg)
    assert prompt_file.name == "eval.jsonl" and len(prompts) == 6

    @contextmanager
    def factory(model_dir: str) -> Iterator[ScriptedEngine]:
        yield ScriptedEngine(lambda item, params: "clean : yes\nscore : 3" if "-j" in item.id else "the sea has a fish")

    metrics = json.loads(evaluate.run(cfg, rd, engine_factory=factory).read_text())
    expected = sum(grade(p["prompt"], "the sea has a fish").score for p in prompts) / len(prompts)
    assert metrics["models"]["m1"]["oracle_score_mean"] == pytest.approx(expected)
    assert set(metrics["models"]["m1"]["oracle_criteria_pass_rate"]) == {
        "topic",
        "half",
        "all",
        "clean",
        "extra",
    }
    assert metrics["models"]["m1"]["judge"]["n_prompts"] == 3
    # Its verdicts on the ranked answers, per check, against the oracle's judgments of them.
    ranked = evaluate.judge_eval_targets(cfg)
    clean = [keyed(write_judgment(parse(t["prompt"]), t["response"]))["clean"].endswith("yes") for t in ranked]
    checks = metrics["models"]["m1"]["judge"]["checks"]
    samples = cfg.eval.judge_samples or cfg.judge.samples
    assert checks["judgments"] == len(ranked) * samples and checks["kinds"]["clean"]["present"] == 1.0
    assert checks["kinds"]["clean"]["verdict"] == pytest.approx(sum(clean) / len(clean))
    assert checks["kinds"]["clean"]["false_yes"] == (1.0 if not all(clean) else None)
    assert checks["kinds"]["topic"]["present"] == 0.0  # it wrote no topic line


def test_pair_precision_against_the_oracle(tmp_path: Path) -> None:
    cfg, rd = make_run(tmp_path)
    # Candidate j has j + 1 words; this oracle scores min(words, 3).
    _write_iteration(cfg, rd, {"p0": [1, 2, 3, 4], "p1": [0, 5, 3, 2], "p2": [4, 3, 2, 1], "p3": [1, 1, 5, 0]})

    def by_length(prompt: str, answer: str) -> FakeGrade:
        return FakeGrade(min(len(answer.split()), 3), {})

    health = iteration_health(rd, 1, by_length)
    assert health is not None and health["pairs"] == 4
    # p0: 4 words vs 1 (better); p1: 2 vs 1 (better); p2: 1 vs 4 (worse); p3: 3 vs 4 words, both 3 (equal).
    assert health["pair_oracle"] == {
        "better": 2,
        "equal": 1,
        "worse": 1,
        "ungraded": 0,
        "precision": pytest.approx(2 / 3),
        "grade_gap": pytest.approx((2 + 1 - 2 + 0) / 4),  # grades 3 vs 1, 2 vs 1, 1 vs 3, 3 vs 3
        "chosen_longer": 0.5,  # p0 (4 vs 1 words) and p1 (2 vs 1)
    }
    assert "pair_oracle" not in (iteration_health(rd, 1) or {})
    # The generator-verifier gap, by hand. Oracle grades per prompt (min(words, 3)): [1, 2, 3, 3] each.
    # Judge's top pick: p0 c3 -> 3, p1 c1 -> 2, p2 c0 -> 1, p3 c2 -> 3; bottom: p0 c0 1, p1 c0 1, p2 c3 3,
    # p3 c3 3. Mean of N 2.25, reference best 3, so captured = (2.25 - 2.25) / 0.75 = 0.
    gap = health["best_of_n"]
    assert gap["prompts"] == 4 and gap["judge_best"] == pytest.approx(2.25) and gap["judge_worst"] == pytest.approx(2.0)
    assert gap["mean"] == pytest.approx(2.25) and gap["reference_best"] == 3.0
    assert gap["captured"] == pytest.approx(0.0)
    # The oracle's own best-vs-worst pairs: chosen = first 3-scorer (c2, 3 words) vs c0 (1 word): always longer.
    assert gap["reference_pairs"] == 4 and gap["reference_pairs_chosen_longer"] == 1.0
    assert gap["reference_pairs_grade_gap"] == pytest.approx(2.0)  # 3 vs 1 in every prompt


def test_dpo_alarms_read_from_the_manifest(tmp_path: Path) -> None:
    from srlm.stages.iteration_health import dpo_health

    _, rd = make_run(tmp_path)  # m1 .. m3 exist
    diagnostics = {
        "rewards/margins": {"first": 0.0, "last": 0.01},
        "logps/chosen": {"first": -4.0, "last": -9.5},
    }
    write_manifest(rd.model(2), stage="iter1 dpo", config_hash="x", inputs=[], rows=10, first_loss=0.693,
                   last_loss=0.69, diagnostics=diagnostics)  # fmt: skip
    health = dpo_health(rd, 1)
    assert health is not None and health["loss"] == {"first": 0.693, "last": 0.69}
    assert health["rewards_margins"]["last"] == 0.01
    assert any("did not train" in a for a in health["alarms"])
    assert any("displacement" in a and "5.5 nats" in a for a in health["alarms"])
    diagnostics = {"rewards/margins": {"first": 0.0, "last": 1.2}, "logps/chosen": {"first": -4.0, "last": -5.0}}
    write_manifest(rd.model(2), stage="iter1 dpo", config_hash="x", inputs=[], rows=10, first_loss=0.69,
                   last_loss=0.4, diagnostics=diagnostics)  # fmt: skip
    assert (dpo_health(rd, 1) or {})["alarms"] == []
    assert dpo_health(rd, 3) is None  # no m4


def test_sampled_answers_are_graded_and_paired_per_prompt(tmp_path: Path) -> None:
    cfg, rd = make_run(tmp_path, eval={"samples": 2}, candidates={"temperature": 0.7, "top_p": 0.9})
    seen_params = []
    sampled = {"m1": ("0", "1"), "m2": ("2", "3"), "m3": ("3", "3")}

    @contextmanager
    def factory(model_dir: str) -> Iterator[ScriptedEngine]:
        name, plain = Path(model_dir).name, reply_for(Path(model_dir).name)

        def reply(item: Any, params: Any) -> str:
            if "-s" not in item.id:
                return str(plain(item, params))
            seen_params.append((params.temperature, params.top_p))
            return f"{sampled[name][int(item.id[-1])]} w"

        yield ScriptedEngine(reply)

    metrics = json.loads(evaluate.run(cfg, rd, engine_factory=factory, oracle=fake_oracle).read_text())
    assert set(seen_params) == {(0.7, 0.9)}  # the candidates' sampling, not greedy
    rows = [json.loads(line) for line in (rd.root / "eval/m2/samples.jsonl").read_text().splitlines()]
    assert len(rows) == 10 and rows[0]["responses"] == ["2 w", "3 w"]
    m2 = metrics["models"]["m2"]["sampled"]
    assert m2["oracle_score_mean"] == 2.5 and m2["samples_per_prompt"] == 2 and m2["answer_words_mean"] == 2.0
    # each rubric point's share over every sampled answer: m1's first sample scores 0, off topic
    assert m2["oracle_criteria_pass_rate"] == {"topic": 1.0}
    assert metrics["models"]["m1"]["sampled"]["oracle_criteria_pass_rate"] == {"topic": 0.5}
    m2_vs_m1 = next(e for e in metrics["head_to_head"] if (e["a"], e["b"]) == ("m2", "m1"))
    assert m2_vs_m1["sampled_delta"] == 2.0 and m2_vs_m1["sampled_verdict"] == "better"
    m3_vs_m2 = next(e for e in metrics["head_to_head"] if (e["a"], e["b"]) == ("m3", "m2"))
    assert m3_vs_m2["sampled_delta"] == 0.5 and m3_vs_m2["sampled_prompts"] == 10


def test_anchored_health_sets_m1s_answers_beside_the_current_ones() -> None:
    from types import SimpleNamespace

    def oracle(prompt: str, answer: str) -> SimpleNamespace:  # one point per word
        return SimpleNamespace(score=len(answer.split()))

    current = [{"id": "p-c0", "prompt": "q", "response": "a b"}, {"id": "p-c1", "prompt": "q", "response": "a"}]
    past = [{"id": "p-c0", "prompt": "q", "response": "a b c d"}]
    health = anchored_health(current, past, oracle, reference_grades(current, oracle))
    assert health == {
        "anchor_candidates": 1,
        "mean_answer_words": {"current": 1.5, "anchor": 4.0},
        "oracle_mean": {"current": 1.5, "anchor": 4.0},
    }
    assert "oracle_mean" not in anchored_health(current, past, None, None)  # no oracle outside the world
