"""From an Open Assistant dump to a finished self-rewarding run, every step a README command.

    srlm data oasst → srlm run (IFT-only SFT baseline) → srlm data eft → srlm run

Every generation goes to a loopback chat-completions server (the role of `vllm serve`); SFT
and DPO train the tiny local model. The server's judge grades the Open Assistant answers by
their human rank, so the paper's agreement filter keeps them and judge quality is exact.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from srlm.data.io import read_rows
from srlm.rundir import is_done
from tests.helpers import tiny_config
from tests.openai_server import ScriptedServer

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).parent.parent / "fixtures" / "oasst"
WORDS = ["describe", "explain", "rivers", "mountains", "bridges", "trains", "gardens", "castles", "islands", "caves"]


def srlm(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "srlm", *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_open_assistant_dump_to_a_finished_run_on_a_server(tmp_path: Path, tiny_model_dir: Path) -> None:
    data = tmp_path / "oasst"
    srlm("data", "oasst", "--input", str(FIXTURES / "messages.jsonl"), "--out", str(data))
    candidates = read_rows(data / "eft_candidates.jsonl", None)
    human_score = {a: 5 - rank for c in candidates for a, rank in zip(c["responses"], c["ranks"], strict=True)}

    def reply(body: dict[str, Any], index: int) -> str:
        text, seed = body["messages"][-1]["content"], body["seed"] + index
        if text.startswith("Here are some tasks"):  # self-instruct: a new task
            return " ".join(random.Random(seed).sample(WORDS, 6))
        if "Score: <points>" in text:  # the rubric: human rank for Open Assistant answers, else a hash
            answer = text.split("Assistant answer:\n", 1)[1].split("\n\nExplain your grade", 1)[0]
            score = human_score.get(answer, int(hashlib.sha256(answer.encode()).hexdigest(), 16) % 6)
            return f"Grounded and clear.\nScore: {score}"
        return f"answer {seed % 1000}"

    with ScriptedServer(reply) as server:
        config = tiny_config(
            tmp_path, tiny_model_dir, sft={"epochs": 2}, loop={"iterations": 1},
            prompts={"source": "self_instruct", "n": 4}, judge={"samples": 1},
            backend={"engine": "openai", "base_url": server.base_url, "max_retries": 1, "backoff_s": 0.01},
        )  # fmt: skip
        config["data"]["ift"] = str(data / "ift.jsonl")
        path = tmp_path / "oasst.yaml"
        path.write_text(yaml.safe_dump(config))

        baseline = tmp_path / "sft-ift"
        srlm("run", str(path), "--set", f"loop.run_dir={baseline}", "--set", "data.eft=null",
             "--set", "loop.iterations=0", "--set", "loop.sft_baseline=false")  # fmt: skip
        srlm("data", "eft", "--sft-model", str(baseline / "m1"), "--in", str(data / "eft_candidates.jsonl"),
             "--out", str(data), "--config", str(path), "--eval-fraction", "0.5")  # fmt: skip
        eft = read_rows(data / "eft_train.jsonl", None)
        assert eft and all(row["judgment"].endswith(f"Score: {human_score[row['response']]}") for row in eft)
        judge_eval = read_rows(data / "judge_eval.jsonl", None)
        assert judge_eval and {r["id"] for r in judge_eval}.isdisjoint(
            {c["id"] for c in candidates if c["prompt"] in {row["prompt"] for row in eft}}
        )

        run = tmp_path / "run"
        srlm("run", str(path), "--set", f"data.eft={data / 'eft_train.jsonl'}",
             "--set", f"eval.judge_eval={data / 'judge_eval.jsonl'}")  # fmt: skip
        assert is_done(run / "m1") and is_done(run / "m2") and is_done(run / "iter1" / "pairs.jsonl")
        models_asked = {r.body["model"] for r in server.requests}
        assert {str(baseline / "m1"), str(run / "m1"), str(run / "m2")} <= models_asked

    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    judge = metrics["models"]["m1"]["judge"]
    assert judge["pairwise_accuracy"] == 1.0 and judge["parse_failure_rate"] == 0.0  # the server's judge is exact
    eval_prompts = read_rows(Path(config["data"]["eval_prompts"][0]), None)
    for model in ("m1", "m2"):  # both models answered every evaluation prompt through the server
        answers = read_rows(run / "eval" / model / "answers.jsonl", None)
        assert len(answers) == len(eval_prompts) and all(a["response"].startswith("answer ") for a in answers)
