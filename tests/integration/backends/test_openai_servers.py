"""The OpenAI-compatible backend against servers that behave like real ones.

llama.cpp's servers answer any model name with whatever they hold; vLLM answers 404 for a name
it does not serve. These tests check that the right model answers, that the name sent does not
depend on how the run dir was typed, and that another server or port is the same run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from srlm.backends.base import GenItem, SamplingParams, row_seed, user
from srlm.backends.openai import OpenAIEngine, ServerError, served_model
from srlm.cli import app
from srlm.config import BackendSection, ConfigError, config_from_dict
from srlm.data.io import write_jsonl
from srlm.rundir import RunDir, open_run, read_manifest
from tests.openai_server import ScriptedServer

PARAMS = SamplingParams(temperature=0.7, top_p=0.9, max_new_tokens=16)
PROMPTS = [{"id": "q1", "prompt": "hello"}, {"id": "q2", "prompt": "bye"}]


def backend(server: ScriptedServer, **changes: Any) -> BackendSection:
    settings = {"engine": "openai", "base_url": server.base_url, "max_retries": 1, "backoff_s": 0.001}
    return BackendSection(**(settings | changes))


def items(count: int) -> list[GenItem]:
    return [GenItem(f"r{i}", user(f"question {i}"), row_seed(0, "test", f"r{i}")) for i in range(count)]


def run_config(run: Path, server: ScriptedServer, **backend_changes: Any) -> dict[str, Any]:
    settings = {"engine": "openai", "base_url": server.base_url, "max_retries": 1, "backoff_s": 0.001}
    return {
        "model": {"path": "base-model"},
        "data": {"ift": "unused.jsonl"},
        "candidates": {"n": 2},
        "judge": {"samples": 1},
        "loop": {"run_dir": str(run)},
        "backend": settings | backend_changes,
    }


def new_run(run: Path, server: ScriptedServer, **backend_changes: Any) -> RunDir:
    """A run dir as `srlm run` leaves it after SFT: stored config, iteration 1's prompts."""
    rd = open_run(config_from_dict(run_config(run, server, **backend_changes)))
    write_jsonl(rd.artifact(1, "prompts"), PROMPTS)
    return rd


def srlm(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_a_server_answering_any_name_but_holding_another_model_is_refused(tmp_path: Path) -> None:
    """As llama.cpp: 200 for any name; what it holds shows only in GET /v1/models."""
    with ScriptedServer(models=["smollm2-135m-instruct.gguf"], any_model=True) as server:
        eng = OpenAIEngine("/runs/a/m1", backend(server), tmp_path / "cache")
        expected = r"/v1/models lists only 'smollm2-135m-instruct.gguf', not '/runs/a/m1'.*--alias NAME"
        with pytest.raises(ServerError, match=expected):
            eng.generate_batch(items(2), PARAMS)
        assert server.requests == [] and len(server.listings) == 1  # nothing was generated
    unlisted = r"does not list '/runs/a/m1' \(it lists 'a', 'b'\)"
    with ScriptedServer(models=["a", "b"], any_model=True) as server, pytest.raises(ServerError, match=unlisted):
        OpenAIEngine("/runs/a/m1", backend(server), tmp_path / "cache").generate_batch(items(2), PARAMS)
    with ScriptedServer(models=["a", "/runs/a/m1"], any_model=True) as server:
        eng = OpenAIEngine("/runs/a/m1", backend(server), tmp_path / "cache")
        eng.generate_batch(items(2), PARAMS)
        eng.generate_batch(items(3), PARAMS)
        assert len(server.listings) == 1 and len(server.requests) == 3  # checked once, before the first request
    with ScriptedServer(models=["other"], any_model=True) as server:
        cached = OpenAIEngine("/runs/a/m1", backend(server), tmp_path / "cache")
        assert len(cached.generate_batch(items(3), PARAMS)) == 3  # all cached: no server contact at all
        assert server.listings == [] and server.requests == []
        unchecked = OpenAIEngine("/runs/a/m1", backend(server, check_model="off"), tmp_path / "cache")
        unchecked.generate_batch(items(4), PARAMS)
        assert server.listings == [] and len(server.requests) == 1


def test_a_stage_against_a_server_holding_the_old_model_stops_before_any_work(tmp_path: Path) -> None:
    """The trial's case: `srlm candidates` for M1 while the server still holds the base GGUF."""
    with ScriptedServer(models=["base.gguf"], any_model=True) as server:
        run = tmp_path / "run"
        new_run(run, server)
        result = srlm("candidates", str(run), "--iteration", "1")
        assert result.exit_code == 2 and server.requests == []
        assert "lists only 'base.gguf'" in result.output and f"not '{(run / 'm1').resolve()}'" in result.output
        assert not (run / "iter1" / "candidates.jsonl").exists()


def test_the_name_sent_is_the_model_dirs_absolute_path_however_the_run_dir_is_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run2"
    name = str((run / "m1").resolve())
    with ScriptedServer(models=[name]) as server:  # as vLLM: any other name gets 404
        monkeypatch.chdir(tmp_path)
        new_run(Path("run2"), server)
        assert srlm("candidates", "run2", "--iteration", "1").exit_code == 0
        assert srlm("judge", str(run), "--iteration", "1").exit_code == 0
        assert srlm("judge", "./run2/../run2", "--iteration", "1").exit_code == 0  # done: skipped
        assert {r.body["model"] for r in server.requests} == {name} and len(server.requests) == 8
    cfg = config_from_dict(run_config(Path("run2"), server))
    assert served_model(cfg, "run2/m1") == served_model(cfg, str(run / "m1")) == name


def test_manifests_say_whether_the_engine_promises_reproducible_samples(tmp_path: Path) -> None:
    from srlm.backends.hf import HFEngine
    from srlm.backends.parallel import ParallelHFEngine

    with ScriptedServer() as server:
        run = tmp_path / "run"
        new_run(run, server)
        assert srlm("candidates", str(run), "--iteration", "1").exit_code == 0
    manifest = read_manifest(run / "iter1" / "candidates.jsonl") or {}
    assert manifest["reproducible_samples"] is False
    assert HFEngine.reproducible is True and ParallelHFEngine.reproducible is True


def test_another_server_or_port_is_the_same_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with ScriptedServer() as first:
        rd = new_run(run, first)
        assert srlm("candidates", str(run), "--iteration", "1").exit_code == 0
    with ScriptedServer() as moved:  # the run copied to another machine, its server on another port
        # Stage verbs take execution settings with --set; the stored config stays as it was.
        result = srlm("judge", str(run), "-t", "1", "--set", f"backend.base_url={moved.base_url}")
        assert result.exit_code == 0, result.output
        assert len(moved.requests) == 4 and first.base_url in rd.config_file.read_text()
        refused = srlm("judge", str(run), "-t", "1", "--set", "judge.samples=2", "--set", "backend.concurrency=2")
        assert refused.exit_code == 2 and "judge.samples: 1 -> 2" in refused.output
        assert "backend.concurrency" not in refused.output.split("a stage verb")[0]

        # `srlm run` reopens the run with another server, concurrency, timeouts, retries, cache, batch size.
        moved_cfg = run_config(run, moved, concurrency=2, timeout_s=30, max_retries=3, cache=str(tmp_path / "c"))
        moved_cfg["backend"]["batch_size"] = 4
        open_run(config_from_dict(moved_cfg))
        assert moved.base_url in rd.config_file.read_text()
        moved_cfg["candidates"]["n"] = 3
        with pytest.raises(ConfigError, match=r"differing keys:\n  candidates\.n: 2 -> 3\nuse --force"):
            open_run(config_from_dict(moved_cfg))
        # Batch size changes results where samples share a request (n), and on engine hf (padding).
        open_run(config_from_dict(run_config(tmp_path / "grouped", moved, samples_per_request=2)))
        with pytest.raises(ConfigError, match=r"backend\.batch_size: 32 -> 4"):
            open_run(config_from_dict(run_config(tmp_path / "grouped", moved, samples_per_request=2, batch_size=4)))
        hf = run_config(tmp_path / "hf", moved, engine="hf")
        open_run(config_from_dict(hf))
        with pytest.raises(ConfigError, match=r"backend\.batch_size"):
            open_run(config_from_dict(hf | {"backend": hf["backend"] | {"batch_size": 4}}))


def test_the_request_counter_tells_attempts_from_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.openai_server import Reply

    with ScriptedServer() as server:
        server.script += [Reply(503, {"error": "busy"}), Reply(503, {"error": "busy"})]
        eng = OpenAIEngine("m", backend(server, max_retries=3, concurrency=1), tmp_path / "cache")
        eng.generate_batch(items(3), PARAMS)
        eng.close()
    assert (eng.attempts, eng.answered) == (5, 3)
    assert "3 answers from the server (5 requests, 2 failed and retried), 0 from the cache" in capsys.readouterr().err


def test_a_judge_writing_prose_numbers_without_the_label_is_not_scored(tmp_path: Path) -> None:
    """A real judge's reply: the points added up, a 'score' on another scale, no `Score:` line."""
    from srlm.backends import engine_for
    from srlm.stages import judge

    prose = "The answer meets all five criteria, a total of 5 points, with a score of 0.427 on the final scale."

    def reply(body: dict[str, Any], index: int) -> str:
        return prose if "hello" in body["messages"][-1]["content"] else "I would give it a score of 3.5"

    with ScriptedServer(reply) as server:
        run = tmp_path / "run"
        rd = new_run(run, server)
        write_jsonl(rd.artifact(1, "candidates"), [
            {"id": f"{p['id']}-c0", "prompt_id": p["id"], "prompt": p["prompt"], "response": "an answer"}
            for p in PROMPTS
        ])  # fmt: skip
        cfg = config_from_dict(run_config(run, server))
        with engine_for(cfg, str(rd.model(1))) as engine:
            judge.run(cfg, rd, 1, engine)
    scores = {json.loads(line)["id"]: json.loads(line)["score"] for line in rd.artifact(1, "judgments").open()}
    assert scores == {"q1-c0": None, "q2-c0": 3.5}
    assert (read_manifest(rd.artifact(1, "judgments")) or {})["counts"]["parse_failures"] == 1


def test_fingerprint_tells_the_model_dirs_weights_from_other_weights(tmp_path: Path, tiny_model_dir: Path) -> None:
    """check_model: fingerprint: greedy probe answers of the server vs the local model dir."""
    from tests.helpers import build_tiny_model, fixture_rows
    from tests.tiny_server import model_reply

    local = tmp_path / "run" / "m1"
    shutil.copytree(tiny_model_dir, local)
    other = build_tiny_model(tmp_path / "other", seed=1)
    name = str(local.resolve())
    ift = tmp_path / "ift.jsonl"
    write_jsonl(ift, fixture_rows()["ift"])  # the probes are M1's first IFT prompts
    for weights, ok in ((other, False), (local, True)):
        with ScriptedServer(model_reply(str(weights)), models=[name]) as server:  # listed under the right name
            data = run_config(tmp_path / "run", server, check_model="fingerprint") | {"data": {"ift": str(ift)}}
            eng = OpenAIEngine.for_model(config_from_dict(data), str(local))
            probes = [row["prompt"] for row in fixture_rows()["ift"][:3]]
            if ok:
                assert len(eng.generate_batch(items(2), PARAMS)) == 2
                assert len(server.requests) == 3 + 2  # the probes, then the work
            else:
                with pytest.raises(ServerError, match=rf"answers [23] of 3 greedy probes unlike {local}"):
                    eng.generate_batch(items(2), PARAMS)
                assert len(server.requests) == 3  # the probes only
            assert [r.body["messages"][-1]["content"] for r in server.requests[:3]] == probes
