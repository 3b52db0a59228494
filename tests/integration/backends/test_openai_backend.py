"""The OpenAI-compatible engine against a real HTTP server on 127.0.0.1 serving scripted replies."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from srlm.backends.base import GenItem, SamplingParams, row_seed, user
from srlm.backends.openai import OpenAIEngine, ServerError
from srlm.config import BackendSection, ConfigError, config_from_dict, dump_config
from srlm.data.io import read_rows, write_jsonl
from srlm.rundir import RunDir
from tests.openai_server import Reply, ScriptedServer, completion

PARAMS = SamplingParams(temperature=0.7, top_p=0.9, max_new_tokens=32)
SECRET = "sk-test-0123456789abcdef"


@pytest.fixture
def server() -> Any:
    with ScriptedServer() as running:
        yield running


def backend(server: ScriptedServer, **changes: Any) -> BackendSection:
    settings = {"engine": "openai", "base_url": server.base_url, "backoff_s": 0.001, "max_backoff_s": 2.0}
    settings |= {"max_retries": 2, "timeout_s": 5.0, "concurrency": 4, "batch_size": 64}
    return BackendSection(**(settings | changes))


def engine(server: ScriptedServer, tmp_path: Path, **changes: Any) -> OpenAIEngine:
    return OpenAIEngine("served-model", backend(server, **changes), tmp_path / "cache")


def items(prompts: int, samples: int = 1) -> list[GenItem]:
    ids = [(f"p{p}", f"p{p}-c{s}") for p in range(prompts) for s in range(samples)]
    return [GenItem(cid, user(f"question {pid}"), row_seed(0, "test", cid)) for pid, cid in ids]


def generate(eng: OpenAIEngine, todo: list[GenItem]) -> dict[str, str]:
    texts: dict[str, str] = {}
    for batch in eng.plan_batches(todo):
        texts.update(zip((item.id for item in batch), eng.generate_batch(batch, PARAMS), strict=True))
    return texts


def test_success_sends_the_documented_request_and_maps_answers_back(server: ScriptedServer, tmp_path: Path) -> None:
    todo = items(3)
    texts = generate(engine(server, tmp_path), todo)
    assert len(server.requests) == 3
    for item in todo:  # the scripted answer echoes the prompt and seed, surrounding spaces stripped
        assert texts[item.id] == f"echo question {item.id[:2]} #0 seed {item.seed & 0x7FFFFFFF}"
    request = server.requests[0]
    assert request.path == "/v1/chat/completions"
    assert set(request.body) == {"model", "messages", "temperature", "top_p", "max_tokens", "seed"}
    assert (request.body["model"], request.body["max_tokens"], request.body["temperature"]) == ("served-model", 32, 0.7)
    assert request.body["messages"][0]["role"] == "user" and "authorization" not in {k.lower() for k in request.headers}


def test_samples_of_one_prompt_share_a_request_with_n(tmp_path: Path) -> None:
    with ScriptedServer(reverse_choices=True) as server:  # choices come back last-first, by index
        todo = items(2, samples=4)
        texts = generate(engine(server, tmp_path, samples_per_request=4), todo)
        assert sorted(r.body["n"] for r in server.requests) == [4, 4]
        for item in todo:
            index = int(item.id[-1])
            first_seed = row_seed(0, "test", f"{item.id[:2]}-c0") & 0x7FFFFFFF
            assert texts[item.id] == f"echo question {item.id[:2]} #{index} seed {first_seed}"
        cached = engine(server, tmp_path, samples_per_request=4)
        assert generate(cached, todo) == texts and cached.attempts == 0  # cached in choice order
        server.requests.clear()
        generate(engine(server, tmp_path / "other", samples_per_request=3), todo)
        assert sorted(r.body.get("n", 1) for r in server.requests) == [1, 1, 3, 3]


@pytest.mark.parametrize("n_support", ["ignore", "refuse"])
def test_a_server_ignoring_n_gets_one_request_per_sample_said_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], n_support: str
) -> None:
    """llama-cpp-python answers n=4 with one choice, llama.cpp's llama-server refuses n > 1."""
    with ScriptedServer(n_support=n_support) as server:
        todo = items(3, samples=4)
        texts = generate(engine(server, tmp_path, samples_per_request=4, batch_size=4), todo)
        for item in todo:  # each sample from its own seed, as with samples_per_request: 1
            assert texts[item.id] == f"echo question {item.id[:2]} #0 seed {item.seed & 0x7FFFFFFF}"
        # Found on the first reply (no retry); later batches send no n at all.
        assert [r.body.get("n", 1) for r in server.requests] == [4] + [1] * 12
        assert capsys.readouterr().err.count("one request per sample from now on") == 1
        again = engine(server, tmp_path, samples_per_request=4, batch_size=4)
        assert generate(again, todo) == texts and again.attempts == 1  # a rerun finds out again, then the cache


def test_other_choice_counts_are_still_errors(server: ScriptedServer, tmp_path: Path) -> None:
    server.always = Reply(200, completion(["one", "two"]))
    with pytest.raises(ServerError, match="2 choices for n=4"):
        generate(engine(server, tmp_path, samples_per_request=4), items(1, samples=4))


def test_429_is_retried_after_the_servers_retry_after(server: ScriptedServer, tmp_path: Path) -> None:
    server.script.append(Reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "1"}))
    eng = engine(server, tmp_path)
    (text,) = eng.generate_batch(items(1), PARAMS)
    assert text.startswith("echo question p0") and (eng.attempts, eng.answered) == (2, 1)
    waited = server.requests[1].at - server.requests[0].at
    assert waited >= 0.95  # backoff alone would have waited about 1 ms


def test_503_without_retry_after_backs_off_briefly(server: ScriptedServer, tmp_path: Path) -> None:
    server.script += [Reply(503, {"error": "warming up"}), Reply(502, b"bad gateway")]
    eng = engine(server, tmp_path)
    assert eng.generate_batch(items(1), PARAMS)[0].startswith("echo")
    assert len(server.requests) == 3 and server.requests[2].at - server.requests[0].at < 0.5


def test_500s_exhausted_is_a_clear_error(server: ScriptedServer, tmp_path: Path) -> None:
    server.always = Reply(500, {"error": {"message": "CUDA out of memory"}})
    with pytest.raises(ServerError) as error:
        engine(server, tmp_path, max_retries=2).generate_batch(items(1), PARAMS)
    assert len(server.requests) == 3
    message = str(error.value)
    assert "gave up after 3 attempts" in message and "HTTP 500: CUDA out of memory" in message
    assert "served-model" in message and server.base_url in message


def test_other_4xx_fails_at_once_with_the_servers_message(server: ScriptedServer, tmp_path: Path) -> None:
    server.always = Reply(404, {"error": {"message": "The model `served-model` does not exist."}})
    with pytest.raises(ServerError, match=r"HTTP 404: The model `served-model` does not exist.*backend.model"):
        engine(server, tmp_path).generate_batch(items(1), PARAMS)
    assert len(server.requests) == 1


def test_timeouts_are_retried_then_reported(server: ScriptedServer, tmp_path: Path) -> None:
    hang = Reply(200, completion(["late"]), delay_s=1.0)
    server.script += [hang, hang]
    eng = engine(server, tmp_path, timeout_s=0.2, max_retries=2)
    assert eng.generate_batch(items(1), PARAMS)[0].startswith("echo")  # third attempt answers in time
    assert (eng.attempts, eng.answered) == (3, 1)
    server.always = hang
    with pytest.raises(ServerError, match=r"gave up after 2 attempts.*ReadTimeout"):
        engine(server, tmp_path / "b", timeout_s=0.2, max_retries=1).generate_batch(items(1), PARAMS)


def test_connection_refused_is_retried_then_reported(tmp_path: Path) -> None:
    with ScriptedServer() as gone:
        url = gone.base_url  # a port nothing listens on once the server is closed
    settings = BackendSection(engine="openai", base_url=url, max_retries=1, backoff_s=0.001, timeout_s=2)
    with pytest.raises(ServerError, match=r"gave up after 2 attempts.*ConnectError"):
        OpenAIEngine("m", settings, tmp_path).generate_batch(items(1), PARAMS)


@pytest.mark.parametrize(
    ("body", "expected"),
    [(b"{not json", "the reply is not JSON"), ({"id": "x"}, "no 'choices' list"), ({"choices": [{}]}, "no message")],
)
def test_malformed_replies_are_clear_errors(server: ScriptedServer, tmp_path: Path, body: Any, expected: str) -> None:
    server.always = Reply(200, body)
    with pytest.raises(ServerError, match=expected):
        engine(server, tmp_path).generate_batch(items(1), PARAMS)
    assert len(server.requests) == 1  # a well-delivered bad reply is not retried
    assert not list((tmp_path / "cache").rglob("*.json"))  # and never cached


def test_resume_from_cache_sends_only_the_missing_requests(server: ScriptedServer, tmp_path: Path) -> None:
    todo = items(5)
    server.script = [None, None, Reply(400, {"error": {"message": "interrupted"}})]
    with pytest.raises(ServerError, match="interrupted"):
        generate(engine(server, tmp_path, concurrency=1), todo)  # two answers land in the cache, then a failure
    assert len(server.requests) == 3 and len(list((tmp_path / "cache").rglob("*.json"))) == 2
    resumed = engine(server, tmp_path, concurrency=1)
    texts = generate(resumed, todo)
    assert (resumed.cache_hits, resumed.attempts, resumed.answered, len(server.requests)) == (2, 3, 3, 6)
    assert texts == {item.id: f"echo question {item.id[:2]} #0 seed {item.seed & 0x7FFFFFFF}" for item in todo}
    again = engine(server, tmp_path)
    assert generate(again, todo) == texts and again.attempts == 0 and len(server.requests) == 6


def test_concurrency_limit_is_respected(tmp_path: Path) -> None:
    with ScriptedServer(delay_s=0.15) as server:
        generate(engine(server, tmp_path, concurrency=3), items(12))
        assert len(server.requests) == 12 and server.max_in_flight == 3


def test_works_inside_a_running_event_loop(server: ScriptedServer, tmp_path: Path) -> None:
    """As in a notebook: generate_batch is called from a thread that already runs asyncio."""

    async def notebook_cell() -> list[str]:
        return engine(server, tmp_path).generate_batch(items(2), PARAMS)

    assert [text.split(" #")[0] for text in asyncio.run(notebook_cell())] == ["echo question p0", "echo question p1"]


def test_plan_is_deterministic_and_keeps_samples_of_a_prompt_together(server: ScriptedServer, tmp_path: Path) -> None:
    todo = items(5, samples=3)
    eng = engine(server, tmp_path, batch_size=6)
    plan = eng.plan_batches(todo)
    assert plan == eng.plan_batches(todo[::-1]) and [len(b) for b in plan] == [6, 6, 3]
    assert all(sorted(i.id for i in batch) == [i.id for i in batch] for batch in plan)
    assert [i.id[:2] for i in plan[0]] == ["p0"] * 3 + ["p1"] * 3


def test_the_key_reaches_the_server_and_no_file_or_error(
    server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through engine_for and the candidates stage: Authorization header yes; run dir, errors no."""
    from srlm.backends import engine_for
    from srlm.stages import candidates

    monkeypatch.setenv("SRLM_TEST_KEY", SECRET)
    cfg = config_from_dict(
        {
            "model": {"path": "base-model"},
            "data": {"ift": "unused.jsonl"},
            "candidates": {"n": 2},
            "loop": {"run_dir": str(tmp_path / "run")},
            "backend": {"engine": "openai", "base_url": server.base_url, "api_key_env": "SRLM_TEST_KEY"},
        }
    )
    rd = RunDir(tmp_path / "run")
    write_jsonl(rd.artifact(1, "prompts"), [{"id": "q1", "prompt": "hello"}, {"id": "q2", "prompt": "bye"}])
    with engine_for(cfg, str(rd.model(1))) as eng:
        candidates.run(cfg, rd, 1, eng)
    assert {r.headers["Authorization"] for r in server.requests} == {f"Bearer {SECRET}"}
    assert {r.body["model"] for r in server.requests} == {str(rd.model(1))}  # the dir, as `vllm serve DIR` names it
    rows = read_rows(rd.artifact(1, "candidates"), None)
    assert [row["response"].split(" #")[0] for row in rows] == ["echo hello"] * 2 + ["echo bye"] * 2
    assert list((rd.root / "openai_cache").rglob("*.json"))  # the default cache dir is used
    files = [p for p in rd.root.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".manifest.json") for p in files)
    assert all(SECRET not in p.read_text(encoding="utf-8") for p in files)
    assert SECRET not in dump_config(cfg)

    server.always = Reply(401, {"error": {"message": f"Incorrect API key provided: {SECRET}"}})
    with pytest.raises(ServerError) as error:
        engine(server, tmp_path / "k", api_key_env="SRLM_TEST_KEY").generate_batch(items(1), PARAMS)
    assert "HTTP 401: Incorrect API key provided: ***" in str(error.value) and SECRET not in str(error.value)
    monkeypatch.delenv("SRLM_TEST_KEY")
    with pytest.raises(ServerError, match=r"\$SRLM_TEST_KEY, which is not set"):
        engine(server, tmp_path / "k", api_key_env="SRLM_TEST_KEY").generate_batch(items(1), PARAMS)


def test_served_model_names(tmp_path: Path) -> None:
    from srlm.backends.openai import served_model

    base = {"model": {"path": "m0"}, "data": {"ift": "x.jsonl"}, "eval": {"judge_model": "gpt-judge"}}
    cfg = config_from_dict(base | {"backend": {"engine": "openai"}})
    assert served_model(cfg, "runs/x/m2") == str(Path("runs/x/m2").resolve()) == served_model(cfg, "./runs/x/../x/m2")
    assert served_model(cfg, "gpt-judge") == "gpt-judge"
    pinned = config_from_dict(base | {"backend": {"engine": "openai", "model": "llama"}})
    assert served_model(pinned, "runs/x/m2") == "llama" and served_model(pinned, "gpt-judge") == "gpt-judge"


def test_openai_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="base_url must start with http"):
        config_from_dict(
            {"model": {"path": "m"}, "data": {"ift": "x"}, "backend": {"engine": "openai", "base_url": "x"}}
        )
    with pytest.raises(ConfigError, match=r"backend\.concurrency"):
        config_from_dict({"model": {"path": "m"}, "data": {"ift": "x"}, "backend": {"concurrency": 0}})
    assert BackendSection().model_dump()["api_key_env"] == "OPENAI_API_KEY"  # a name, never a key
