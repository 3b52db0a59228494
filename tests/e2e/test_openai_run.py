"""`srlm run` with `backend.engine: openai`: every generating stage talks to a loopback server.

The server writes new tasks, answers, 'Score: N' judgments (N a function of the judged answer)
and pairwise verdicts; SFT and DPO still train the tiny local model.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from srlm.data.io import read_rows
from srlm.rundir import is_done, manifest_path, write_manifest
from tests.helpers import tiny_config
from tests.openai_server import Reply, ScriptedServer

pytestmark = pytest.mark.slow
SECRET = "sk-e2e-secret-4242"
VOCAB = [
    "describe", "explain", "compare", "list", "summarise", "rivers", "mountains", "deserts", "forests", "oceans",
    "cities", "bridges", "trains", "rockets", "violins", "gardens", "bakeries", "glaciers", "volcanoes", "libraries",
    "markets", "castles", "harbours", "meadows", "islands", "canyons", "orchards", "lighthouses", "windmills", "caves",
]  # fmt: skip


def judge_score(response: str) -> int:
    return int(hashlib.sha256(response.encode()).hexdigest(), 16) % 6


def reply(body: dict[str, Any], index: int) -> str:
    text, seed = body["messages"][-1]["content"], body["seed"] + index
    if text.startswith("Here are some tasks"):  # self-instruct: a new task
        return " ".join(random.Random(seed).sample(VOCAB, 6))
    if "Score: <points>" in text:  # the rubric: grade the answer shown
        answer = text.split("Assistant answer:\n", 1)[1].split("\n\nExplain your grade", 1)[0]
        return f"A fair attempt.\nScore: {judge_score(answer)}"
    if "Winner: B" in text:  # the pairwise judge
        return f"Winner: {'AB'[seed % 2]}"
    return f"answer {seed % 1000}"


def srlm(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"SRLM_E2E_KEY": SECRET}
    return subprocess.run([sys.executable, "-m", "srlm", *args], capture_output=True, text=True, timeout=300, env=env)


def test_run_through_an_openai_compatible_server(tmp_path: Path, tiny_model_dir: Path) -> None:
    with ScriptedServer(reply) as server:
        backend: dict[str, Any] = {"engine": "openai", "base_url": server.base_url, "api_key_env": "SRLM_E2E_KEY"}
        backend |= {"samples_per_request": 2, "max_retries": 1, "backoff_s": 0.01, "concurrency": 4}
        data = tiny_config(
            tmp_path, tiny_model_dir, backend=backend, sft={"epochs": 2}, loop={"iterations": 1},
            prompts={"source": "self_instruct", "n": 4}, judge={"samples": 2},
            eval={"judge_model": "judge-model", "max_new_tokens": 8},
        )  # fmt: skip
        config = tmp_path / "openai.yaml"
        config.write_text(yaml.safe_dump(data))
        proc = srlm("run", str(config))
        assert proc.returncode == 0, proc.stderr[-3000:]
        run = tmp_path / "run"
        for path in [run / f"iter1/{name}.jsonl" for name in ("prompts", "candidates", "judgments", "pairs")]:
            assert is_done(path), path
        assert is_done(run / "m2") and (run / "eval" / "metrics.json").is_file()

        # Every generating stage went through the server, for the right model.
        assert {r.body["model"] for r in server.requests} == {str(run / "m1"), str(run / "m2"), "judge-model"}
        assert {r.headers["Authorization"] for r in server.requests} == {f"Bearer {SECRET}"}
        assert any(r.body.get("n") == 2 for r in server.requests)
        prompts = read_rows(run / "iter1" / "prompts.jsonl", None)
        assert len(prompts) == 4 and all(set(p["prompt"].split()) <= set(VOCAB) for p in prompts)
        candidates = {c["id"]: c["response"] for c in read_rows(run / "iter1" / "candidates.jsonl", None)}
        assert len(candidates) == 16 and all(re.fullmatch(r"answer \d+", text) for text in candidates.values())
        judgments = read_rows(run / "iter1" / "judgments.jsonl", None)
        assert all(j["score"] == judge_score(candidates[j["id"]]) for j in judgments)
        verdicts = read_rows(run / "eval" / "judge_model" / "m2_vs_m1.jsonl", None)
        assert len(verdicts) == 10 and all(v["outcome_ab"] is not None for v in verdicts)

        # The key never lands on disk or in the output.
        assert SECRET not in proc.stdout + proc.stderr
        assert all(SECRET not in p.read_bytes().decode("utf-8", "replace") for p in run.rglob("*") if p.is_file())

        # A stage redone from scratch is answered from the cache: no request reaches the server.
        judged = (run / "iter1" / "judgments.jsonl").read_text()
        (run / "iter1" / "judgments.jsonl").unlink()
        manifest_path(run / "iter1" / "judgments.jsonl").unlink()
        sent = len(server.requests)
        again = srlm("judge", str(run), "--iteration", "1")
        assert again.returncode == 0, again.stderr[-3000:]
        assert len(server.requests) == sent and (run / "iter1" / "judgments.jsonl").read_text() == judged

        # A server that keeps failing: one clear line, exit 2, no traceback, no key.
        server.always = Reply(503, {"error": {"message": f"overloaded (key {SECRET})"}})
        (run / "iter1" / "candidates.jsonl").unlink()
        shutil.rmtree(run / "openai_cache")
        failed = srlm("candidates", str(run), "--iteration", "1")
        assert failed.returncode == 2
        assert "gave up after 2 attempts" in failed.stderr and "HTTP 503: overloaded" in failed.stderr
        assert "Traceback" not in failed.stderr and SECRET not in failed.stderr


def test_a_judge_that_never_parses_ends_the_run_stopped_early_with_exit_3(tmp_path: Path, tiny_model_dir: Path) -> None:
    """No judgment has a score, so no pair: the run evaluates M1, then says so and exits 3, not 0."""
    with ScriptedServer(lambda body, index: "Looks fine to me.") as server:
        backend = {"engine": "openai", "base_url": server.base_url, "max_retries": 0}
        loop = {"iterations": 1}
        data = tiny_config(tmp_path, tiny_model_dir, backend=backend, loop=loop, eval={"max_new_tokens": 8})
        config = tmp_path / "stops.yaml"
        config.write_text(yaml.safe_dump(data))
        run = tmp_path / "run"
        shutil.copytree(tiny_model_dir, run / "m1")  # M1 as SFT would leave it: no training here
        write_manifest(run / "m1", stage="sft", config_hash="planted", inputs=[])
        proc = srlm("run", str(config))
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "iteration 1 stopped:" in proc.stderr and proc.stderr.strip().splitlines()[-1].endswith("stopped early")
    assert (run / "stopped_early.json").is_file() and (run / "eval" / "metrics.json").is_file()
