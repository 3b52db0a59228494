"""The variant stages with a scripted engine: pairwise comparisons, meta-judge, CREAM consistency, EFT replay,
verdict pairs, anchored rejection."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from srlm.config import ConfigError, config_from_dict
from srlm.data.io import read_rows
from srlm.method.consistency import cream_dpo_args
from srlm.rundir import RunDir, manifest_path
from srlm.stages import anchor, candidates, compare, consistency, eft_replay, judge, meta_judge, pairs, verdict_pairs
from srlm.training import dpo
from tests.helpers import ScriptedEngine, tiny_config


def make(tmp_path: Path, t: int = 1, **sections: Any) -> tuple[Any, RunDir]:
    cfg = config_from_dict(tiny_config(tmp_path, tmp_path / "m0", **sections))
    rd = RunDir(Path(cfg.loop.run_dir))
    rd.iteration(t).mkdir(parents=True)
    return cfg, rd


def write(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def write_candidates(rd: RunDir, t: int, answers: dict[str, list[str]]) -> None:
    rows = [
        {"id": f"{p}-c{j}", "prompt_id": p, "prompt": f"question {p}", "candidate_index": j, "response": text}
        for p, texts in answers.items()
        for j, text in enumerate(texts)
    ]
    write(rd.artifact(t, "candidates"), rows)


def write_judgments(rd: RunDir, t: int, scores: dict[str, list[list[float | None]]]) -> None:
    rows = []
    for p, per_candidate in scores.items():
        for j, samples in enumerate(per_candidate):
            parsed = [s for s in samples if s is not None]
            rows.append(
                {"id": f"{p}-c{j}", "prompt_id": p,
                 "samples": [{"text": f"judgment {p}-c{j}/{i}: Score: {s}", "score": s} for i, s in enumerate(samples)],
                 "score": sum(parsed) / len(parsed) if parsed else None}
            )  # fmt: skip
    write(rd.artifact(t, "judgments"), rows)


def shown(text: str, label: str) -> str:
    """The answer (or evaluation) shown under `label` in a pairwise / meta-judge prompt."""
    match = re.search(rf"{label}:\n(.*?)\n\n", text, re.S)
    assert match, text
    return match.group(1)


def test_pairwise_mode_builds_pairs_from_both_order_verdicts(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path, pairs={"mode": "pairwise"}, candidates={"n": 3})
    write_candidates(rd, 1, {"p": ["good", "ok", "bad"]})
    rank = {"good": 3, "ok": 2, "bad": 1}

    def verdict(item: Any, params: Any) -> str:
        a, b = shown(item.messages[0]["content"], "Answer A"), shown(item.messages[0]["content"], "Answer B")
        if {a, b} == {"ok", "bad"}:
            return "Both fine.\nWinner: A"  # position bias: the orders disagree, a tie
        return "Winner: A" if rank[a] > rank[b] else "Winner: B"

    compare.run(cfg, rd, 1, ScriptedEngine(verdict))
    rows = {row["id"]: row for row in read_rows(rd.artifact(1, "comparisons"))}
    assert set(rows) == {"p-c0~p-c1", "p-c0~p-c2", "p-c1~p-c2"}
    assert [rows[k]["outcome"] for k in sorted(rows)] == [1.0, 1.0, 0.5]
    assert rows["p-c0~p-c1"]["verdict_ab"] == "A" and rows["p-c0~p-c1"]["verdict_ba"] == "B"
    manifest = json.loads(manifest_path(rd.artifact(1, "comparisons")).read_text())
    assert manifest["counts"] == {"comparisons": 3, "unparsed_verdicts": 0, "order_disagreements": 1}
    pairs.run(cfg, rd, 1)
    (pair,) = read_rows(rd.artifact(1, "pairs"))
    # Mean outcomes: good 1.0, ok 0.25, bad 0.25 -> good vs ok (first of the tied worst), and good beat ok.
    assert (pair["chosen"], pair["rejected"], pair["score_chosen"], pair["score_rejected"]) == ("good", "ok", 1.0, 0.25)
    counts = json.loads(manifest_path(rd.artifact(1, "pairs")).read_text())["counts"]
    assert counts["kept"] == 1 and counts["dropped_not_won_directly"] == 0


def test_meta_judge_compares_disagreeing_judgments_and_pairs_them(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path, loop={"meta_judge": True}, candidates={"n": 3})
    write_candidates(rd, 1, {"p": ["alpha", "beta", "gamma"], "q": ["delta", "eps", "zeta"]})
    write_judgments(rd, 1, {"p": [[4, 4, 4], [5, 1, 3], [2, None, 0]], "q": [[3, 3], [1, 1], [2, 2]]})

    def prefer_lower(item: Any, params: Any) -> str:
        a, b = shown(item.messages[0]["content"], "Evaluation A"), shown(item.messages[0]["content"], "Evaluation B")
        score = {text: int(text[-1]) for text in (a, b)}
        return "Winner: A" if score[a] < score[b] else "Winner: B"

    engine = ScriptedEngine(prefer_lower)
    meta_judge.run(cfg, rd, 1, engine)
    (row,) = read_rows(rd.artifact(1, "meta_judgments"))  # q's judgments all agree: not compared
    assert (row["id"], row["high"], row["low"], row["scores"]) == ("p-c1", 0, 1, [5, 1])
    assert (row["verdict_hl"], row["verdict_lh"]) == ("B", "A")
    assert "beta" in row["judge_prompt"] and sum(len(call) for call in engine.calls) == 2
    pairs.run(cfg, rd, 1)
    (judge_pair,) = read_rows(rd.artifact(1, "meta_pairs"))
    assert judge_pair["prompt"] == row["judge_prompt"]
    assert (judge_pair["chosen"], judge_pair["rejected"]) == ("judgment p-c1/1: Score: 1", "judgment p-c1/0: Score: 5")
    answer_pairs = read_rows(rd.artifact(1, "pairs"))
    assert [(p["chosen_id"], p["rejected_id"]) for p in answer_pairs] == [("p-c0", "p-c2"), ("q-c0", "q-c1")]


def test_meta_judge_position_bias_gives_no_judge_pair(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path, loop={"meta_judge": True}, candidates={"n": 2})
    write_candidates(rd, 1, {"p": ["alpha", "beta"]})
    write_judgments(rd, 1, {"p": [[5, 1], [2, 2]]})
    meta_judge.run(cfg, rd, 1, ScriptedEngine(lambda item, params: "Winner: A"))
    pairs.run(cfg, rd, 1)
    assert read_rows(rd.artifact(1, "meta_pairs")) == []
    counts = json.loads(manifest_path(rd.artifact(1, "meta_pairs")).read_text())["counts"]
    assert counts == {"kept": 0, "dropped_tie": 1, "dropped_unparsed": 0}


def test_eft_replay_pairs_the_seed_judgment_against_the_models_misjudgment(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path, loop={"eft_replay": 6})
    seed_rows = read_rows(Path(cfg.data.eft))
    by_response = {row["response"]: row for row in seed_rows}

    def judge_two_high(item: Any, params: Any) -> str:
        """Right about every answer except that it gives 5 to the ones the seed set scores 1 or 2."""
        response = next(r for r in by_response if f"\n{r}\n" in item.messages[0]["content"])
        seed = int(by_response[response]["judgment"][-1])
        return f"Looks fine. Score: {5 if seed <= 2 else seed}"

    engine = ScriptedEngine(judge_two_high)
    eft_replay.run(cfg, rd, 1, engine)
    assert sum(len(call) for call in engine.calls) == 6 * cfg.judge.samples
    judged = read_rows(rd.artifact(1, "eft_judgments"))
    assert len(judged) == 6 and all(len(row["samples"]) == cfg.judge.samples for row in judged)
    manifest = json.loads(manifest_path(rd.artifact(1, "eft_pairs")).read_text())
    pairs_rows = read_rows(rd.artifact(1, "eft_pairs"))
    low = [row for row in pairs_rows if row["seed_score"] <= 2]
    assert low and pairs_rows == low and manifest["counts"]["pairs"] == len(pairs_rows)
    assert manifest["counts"]["rows_all_right"] == 6 - len(pairs_rows)
    for row in pairs_rows:
        assert row["rejected"] == "Looks fine. Score: 5" and row["rejected_score"] == 5
        seed_row = by_response[next(r for r in by_response if f"\n{r}\n" in row["prompt"])]
        assert row["chosen"] == seed_row["judgment"]
    eft_replay.run(cfg, rd, 1, ScriptedEngine(lambda item, params: pytest.fail("judged twice")))  # resumes


def test_eft_replay_needs_eft_data_and_dpo(tmp_path: Path) -> None:
    for sections in (
        {"loop": {"eft_replay": 5, "ift_only": True}},
        {"loop": {"eft_replay": 5}, "dpo": {"method": "sft_best"}},
    ):
        with pytest.raises(ConfigError, match=r"loop\.eft_replay needs EFT data"):
            config_from_dict(tiny_config(tmp_path, tmp_path / "m0", **sections))


def test_verdict_pairs_flip_one_verdict_of_the_seed_judgment_and_generate_nothing(tmp_path: Path) -> None:
    eft = tmp_path / "verdict_eft.jsonl"
    judgments = [f"says {w} : {w} , yes\nshort : {n} words , {'yes' if n < 3 else 'no'}\nScore: {5 - n}" for w, n in
                 (("sea", 1), ("fish", 2), ("tree", 3), ("blue", 4))]  # fmt: skip
    write(eft, [{"prompt": f"say {i}", "response": f"answer {i}", "judgment": text} for i, text in enumerate(judgments)]
          + [{"prompt": "free text", "response": "an answer", "judgment": "Looks fine. Score: 4"}])  # fmt: skip
    cfg, rd = make(tmp_path, data={"eft": str(eft)}, loop={"verdict_pairs": 5})
    verdict_pairs.run(cfg, rd, 1)
    rows = read_rows(rd.artifact(1, "verdict_pairs"))
    assert [row["id"] for row in rows] == ["eft0", "eft1", "eft2", "eft3", "eft4"]
    assert rows.pop()["rejected"] == "Looks fine. Score: 4"  # eft4 has no verdict line: both sides equal
    for row, judgment in zip(rows, judgments, strict=True):
        assert row["chosen"] == judgment and f"\nanswer {row['id'][3:]}\n" in row["prompt"]
        changed = [(a, b) for a, b in zip(judgment.split(), row["rejected"].split(), strict=True) if a != b]
        assert changed == [(row["verdict"], {"yes": "no", "no": "yes"}[row["verdict"]])]
    counts = json.loads(manifest_path(rd.artifact(1, "verdict_pairs")).read_text())["counts"]
    assert counts["rows"] == counts["pairs"] == 5 and counts["no_verdict_line"] == 1
    verdict_pairs.run(cfg, rd, 1)  # done: skipped, the file unchanged
    assert read_rows(rd.artifact(1, "verdict_pairs"))[:4] == rows
    rd.iteration(2).mkdir()
    verdict_pairs.run(cfg, rd, 2)  # another iteration draws its own lines
    assert [row["line"] for row in read_rows(rd.artifact(2, "verdict_pairs"))][:4] != [row["line"] for row in rows]
    for sections in (
        {"loop": {"verdict_pairs": 5, "ift_only": True}},
        {"loop": {"verdict_pairs": 5}, "dpo": {"method": "sft_best"}},
    ):
        with pytest.raises(ConfigError, match=r"loop\.verdict_pairs needs EFT data"):
            config_from_dict(tiny_config(tmp_path, tmp_path / "m0", **sections))


def test_consistency_rejudges_with_the_previous_model(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path, t=2, dpo={"consistency": True}, candidates={"n": 3})
    write_candidates(rd, 2, {"a": ["a0", "a1", "a2"], "b": ["b0", "b1", "b2"], "c": ["c0", "c1", "c2"]})
    write_judgments(rd, 2, {"a": [[3], [2], [1]], "b": [[1], [2], [3]], "c": [[2], [2], [2]]})
    pairs.run(cfg, rd, 2)  # prompt c ties: no pair, so it is not re-judged
    previous = {"a0": 5, "a1": 4, "a2": 0, "b0": 1, "b1": 3, "b2": 2}

    def previous_judge(item: Any, params: Any) -> str:
        answer = re.findall(r"\b[abc][012]\b", item.messages[0]["content"])[-1]
        return f"Score: {previous[answer]}"

    rd.model(1).mkdir()  # M1 itself is the scripted engine; the manifest records the dir's hash
    (rd.model(1) / "config.json").write_text("{}")
    engine = ScriptedEngine(previous_judge)
    consistency.run(cfg, rd, 2, engine)
    assert sum(len(call) for call in engine.calls) == 6 * cfg.judge.samples
    rows = {row["id"]: row for row in read_rows(rd.artifact(2, "consistency"))}
    assert set(rows) == {"a", "b"}
    assert rows["a"]["kendall_tau"] == pytest.approx(1.0)  # same order
    assert rows["b"]["kendall_tau"] == pytest.approx(1 / 3)  # one of three pairs swapped
    assert rows["b"]["scores_previous"] == [1.0, 3.0, 2.0]
    # C = mean((1 + 1) / 2, (1/3 + 1) / 2) = 5/6, handed to TRL as loss weights.
    assert dpo.consistency_args(cfg, rd, 2) == cream_dpo_args(5 / 6)
    assert dpo.consistency_args(cfg, rd, 1) == {}  # iteration 1: no previous judge, plain DPO


def test_switches_that_need_pointwise_scores_are_refused(tmp_path: Path) -> None:
    for sections in (
        {"dpo": {"consistency": True}, "pairs": {"mode": "pairwise"}},
        {"loop": {"meta_judge": True}, "pairs": {"mode": "pairwise"}},
        {"loop": {"meta_judge": True}, "dpo": {"method": "sft_best"}},
    ):
        with pytest.raises(ConfigError, match=r"needs pairs\.mode 'pointwise' and dpo\.method 'dpo'"):
            config_from_dict(tiny_config(tmp_path, tmp_path / "m0", **sections))
    with pytest.raises(ConfigError, match="length_control_rho"):
        config_from_dict(tiny_config(tmp_path, tmp_path / "m0", pairs={"length_control_rho": 0.5}))


def test_oracle_pairs_rank_the_candidates_by_the_world_oracle(tmp_path: Path) -> None:
    from srlm.world import grade

    cfg, rd = make(tmp_path, world={"eval": 4}, pairs={"source": "oracle"})
    prompt = "write about the sea . end with the word fish ."
    answers = ["the sea has a fish", "fish fish", "the sea is blue", "a big old ship"]
    rows = [{"id": f"p0-c{j}", "prompt_id": "p0", "prompt": prompt, "candidate_index": j, "response": text}
            for j, text in enumerate(answers)]  # fmt: skip
    write(rd.artifact(1, "candidates"), rows)
    # The judge says the opposite of the oracle; with pairs.source: oracle its scores are not read.
    write_judgments(rd, 1, {"p0": [[0.0], [5.0], [3.0], [3.0]]})
    (pair,) = read_rows(pairs.run(cfg, rd, 1))
    grades = [grade(prompt, text).score for text in answers]
    assert pair["chosen"] == answers[grades.index(max(grades))] == "the sea has a fish"
    assert pair["rejected"] == answers[grades.index(min(grades))]
    assert pair["score_chosen"] == 5.0


def test_oracle_pairs_need_a_world(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"pairs\.source 'oracle' needs a world run"):
        config_from_dict(tiny_config(tmp_path, tmp_path / "m0", pairs={"source": "oracle"}))


def test_nll_weight_adds_the_sft_loss_to_plain_and_cream_dpo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, rd = make(tmp_path, dpo={"nll_weight": 0.5})
    assert dpo.loss_args(cfg, rd, 1) == {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, 0.5]}
    monkeypatch.setattr(dpo, "consistency_args", lambda *_: cream_dpo_args(0.75))
    args = dpo.loss_args(cfg, rd, 2)
    assert args["loss_type"] == ["sigmoid", "robust", "sft"] and args["loss_weights"] == [1.25, -0.25, 0.5]
    (tmp_path / "plain").mkdir()
    cfg, rd = make(tmp_path / "plain")
    monkeypatch.undo()
    assert dpo.loss_args(cfg, rd, 1) == {}


def test_anchored_rejection_pairs_the_best_current_answer_with_the_worst_of_m1s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, rd = make(tmp_path, t=2, pairs={"anchored_rejection": True}, candidates={"n": 2})
    write(rd.artifact(2, "prompts"), [{"id": p, "prompt": f"question {p}"} for p in ("a", "b")])
    quality = {"new a0": 4, "new a1": 3, "old a0": 2, "old a1": 0, "new b0": 1, "new b1": 1, "old b0": 3, "old b1": 2}
    seeds: dict[str, list[int]] = {"m1": [], "m2": []}

    def model(name: str) -> ScriptedEngine:
        def reply(item: Any, params: Any) -> str:
            text = item.messages[0]["content"]
            if text.startswith("question"):  # answering: M1 writes old answers, M2 new ones
                seeds[name].append(item.seed)
                return f"{'old' if name == 'm1' else 'new'} {text[-1]}{item.id[-1]}"
            assert name == "m2", "only the current model judges"
            answer = next(a for a in quality if a in text)
            return f"Score: {quality[answer]}"

        return ScriptedEngine(reply)

    engines = {str(rd.model(1)): model("m1"), str(rd.model(2)): model("m2")}
    for t in (1, 2):  # the scripted engines stand for these dirs; the manifests record their hashes
        rd.model(t).mkdir()
        (rd.model(t) / "config.json").write_text(f'{{"m": {t}}}')

    @contextmanager
    def engine_for(cfg: Any, model_dir: str) -> Iterator[ScriptedEngine]:
        yield engines[model_dir]

    monkeypatch.setattr(anchor, "engine_for", engine_for)
    candidates.run(cfg, rd, 2, engines[str(rd.model(2))])
    judge.run(cfg, rd, 2, engines[str(rd.model(2))])
    anchor.run(cfg, rd, 2)
    assert [row["response"] for row in read_rows(rd.artifact(2, "anchor_candidates"))] == [
        "old a0", "old a1", "old b0", "old b1"
    ]  # fmt: skip
    assert {row["id"]: row["score"] for row in read_rows(rd.artifact(2, "anchor_judgments"))} == {
        "a-c0": 2.0, "a-c1": 0.0, "b-c0": 3.0, "b-c1": 2.0
    }  # fmt: skip
    assert not set(seeds["m1"]) & set(seeds["m2"])  # M1 samples with seeds of its own
    assert str(rd.model(1)) in json.loads(manifest_path(rd.artifact(2, "anchor_candidates")).read_text())["inputs"]
    (pair,) = read_rows(pairs.run(cfg, rd, 2))
    assert [pair[key] for key in ("chosen", "rejected", "score_chosen", "score_rejected")] == ["new a0", "old a1", 4, 0]
    counts = json.loads(manifest_path(rd.artifact(2, "pairs")).read_text())["counts"]
    assert counts["kept"] == 1 and counts["dropped_anchor_better"] == 1  # b: M1's worst (2) beats M2's best (1)
    engines = {path: ScriptedEngine(lambda item, params: pytest.fail("answered twice")) for path in engines}
    anchor.run(cfg, rd, 2)  # resumes: both files are complete


def test_anchored_rejection_leaves_iteration_1_alone_and_needs_plain_pointwise_pairs(tmp_path: Path) -> None:
    cfg, rd = make(tmp_path, pairs={"anchored_rejection": True}, candidates={"n": 2})
    write_candidates(rd, 1, {"p": ["good", "bad"]})
    write_judgments(rd, 1, {"p": [[4], [1]]})
    (pair,) = read_rows(pairs.run(cfg, rd, 1))  # no past model yet: the paper's best vs worst
    assert (pair["chosen"], pair["rejected"]) == ("good", "bad")
    for sections in ({"mode": "pairwise"}, {"length_control_rho": 0.2}):
        with pytest.raises(ConfigError, match=r"pairs\.anchored_rejection needs pairs\.mode 'pointwise'"):
            config_from_dict(tiny_config(tmp_path, tmp_path / "m0", pairs={"anchored_rejection": True, **sections}))
