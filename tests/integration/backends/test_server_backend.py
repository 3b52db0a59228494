"""`backend.engine: server`: srlm starts real server processes (tests/tiny_server.py), shards, stops them."""

from __future__ import annotations

import json
import os
import shlex
import socket
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psutil
import pytest

from srlm.backends import engine_for
from srlm.backends.base import GenItem, SamplingParams, row_seed, user
from srlm.backends.hf import HFEngine
from srlm.backends.server import ServerEngine, ServerLaunchError
from srlm.config import BackendSection, Config, ConfigError, ModelSection, config_from_dict
from srlm.data.io import read_partial, read_rows, write_jsonl
from srlm.rundir import RunDir
from srlm.stages import candidates
from srlm.stages.common import partial_path
from tests.helpers import tiny_config

REPO = Path(__file__).resolve().parents[3]
TINY_SERVER = f"cd {shlex.quote(str(REPO))} && exec {shlex.quote(sys.executable)} -m tests.tiny_server"
PROMPTS = [{"id": f"q{i}", "prompt": f"Say the words apple and river please {i}"} for i in range(6)]


def free_ports(count: int) -> list[int]:
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def server_config(tmp_path: Path, model_dir: Path, launch: str, ports: list[int], **backend: Any) -> Config:
    settings = {
        "engine": "server",
        "launch": launch,
        "urls": [f"http://127.0.0.1:{port}/v1" for port in ports],
        "batch_size": 3,
        "concurrency": 1,
        "max_retries": 1,
        "backoff_s": 0.01,
        "health_timeout_s": 90,
        "stop_timeout_s": 5,
    }
    cfg = config_from_dict(tiny_config(tmp_path, model_dir, backend=settings | backend, candidates={"n": 2}))
    write_jsonl(RunDir(Path(cfg.loop.run_dir)).artifact(1, "prompts"), PROMPTS)
    return cfg


def answered(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def seeds_of(ids: list[str]) -> dict[int, str]:
    return {row_seed(0, "candidates", cid) & 0x7FFFFFFF: cid for cid in ids}


ALL_IDS = [f"q{i}-c{j}" for i in range(6) for j in range(2)]


@pytest.fixture(autouse=True)
def _children_before() -> None:
    """Children this process had before the test (e.g. multiprocessing's resource tracker)."""
    global BEFORE
    BEFORE = {p.pid for p in psutil.Process().children(recursive=True)}


BEFORE: set[int] = set()


def new_children() -> list[psutil.Process]:
    """Processes started by the test that are still alive."""
    return [p for p in psutil.Process().children(recursive=True) if p.pid not in BEFORE]


def assert_stopped(engine: ServerEngine, groups: list[int]) -> None:
    assert engine.servers == [] and len(groups) == len(engine.clients)
    for pgid in groups:
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)  # no process of the server's group is left
    assert new_children() == []


def test_two_model_servers_share_a_stage_and_are_stopped(tmp_path: Path, tiny_model_dir: Path) -> None:
    log = tmp_path / "answered.jsonl"
    launch = f"{TINY_SERVER} --port {{port}} --model {{model}} --name {{name}} --log {log}"
    ports = free_ports(2)
    cfg = server_config(tmp_path, tiny_model_dir, launch, ports)
    rd = RunDir(Path(cfg.loop.run_dir))
    with engine_for(cfg, str(tiny_model_dir)) as engine:
        assert isinstance(engine, ServerEngine)
        groups = [server.process.pid for server in engine.servers]
        candidates.run(cfg, rd, 1, engine)
        assert engine.batches_per_server == [2, 2]  # 4 batches of 3 rows, dealt 0 1 0 1
    assert_stopped(engine, groups)

    rows = read_rows(rd.artifact(1, "candidates"), {"id": str, "response": str})
    assert sorted(row["id"] for row in rows) == sorted(ALL_IDS)
    requests = answered(log)
    by_seed = seeds_of(ALL_IDS)
    assert sorted(by_seed[r["seed"]] for r in requests) == sorted(ALL_IDS)  # every row asked once
    assert {r["port"] for r in requests} == set(ports)  # each server answered some rows

    # Each text is the tiny model's answer to that row's prompt and seed: merged by id, not by position.
    hf = HFEngine(str(tiny_model_dir), ModelSection(path=str(tiny_model_dir)), BackendSection(batch_size=1))
    params = SamplingParams(cfg.candidates.temperature, cfg.candidates.top_p, cfg.candidates.max_new_tokens)
    prompt_of = {p["id"]: p["prompt"] for p in PROMPTS}
    for row in rows:
        seed = row_seed(0, "candidates", row["id"]) & 0x7FFFFFFF
        item = GenItem(row["id"], user(prompt_of[row["id"].split("-")[0]]), seed)
        assert row["response"] == hf.generate_batch([item], params)[0]
    assert len({row["response"] for row in rows}) > 1


def test_a_server_dying_mid_stage_fails_clearly_and_the_rerun_resumes(tmp_path: Path, tiny_model_dir: Path) -> None:
    log = tmp_path / "answered.jsonl"
    launch = f"{TINY_SERVER} --echo --port {{port}} --model {{model}} --name {{name}} --log {log}"
    ports = free_ports(1)
    dying = server_config(tmp_path, tiny_model_dir, launch + " --die-after 5", ports)
    rd = RunDir(Path(dying.loop.run_dir))
    with pytest.raises(ServerLaunchError) as failure, engine_for(dying, str(tiny_model_dir)) as engine:
        groups = [server.process.pid for server in engine.servers]
        candidates.run(dying, rd, 1, engine)
    message = str(failure.value)
    assert "exited with code 3 while generating" in message and "--die-after 5" in message
    assert "tiny_server: dying after 5 completions" in message  # the end of its log
    assert_stopped(engine, groups)
    kept = {row["id"] for row in read_partial(partial_path(rd.artifact(1, "candidates")))}
    first = [seeds_of(ALL_IDS)[r["seed"]] for r in answered(log)]
    assert len(first) == 5 and len(kept) == 3 and kept < set(first)  # 1 batch stored, 2 more answers cached

    healthy = server_config(tmp_path, tiny_model_dir, launch, ports)
    with engine_for(healthy, str(tiny_model_dir)) as engine:
        candidates.run(healthy, rd, 1, engine)
        assert engine.clients[0].cache_hits == 2
    second = [seeds_of(ALL_IDS)[r["seed"]] for r in answered(log)][5:]
    assert not set(second) & set(first)  # nothing stored or cached is asked again
    assert sorted(first + second) == sorted(ALL_IDS)
    rows = read_rows(rd.artifact(1, "candidates"), {"id": str, "prompt": str, "response": str})
    assert sorted(row["id"] for row in rows) == sorted(ALL_IDS)
    for row in rows:
        seed = row_seed(0, "candidates", row["id"]) & 0x7FFFFFFF
        assert row["response"] == f"echo {row['prompt']} #0 seed {seed}"


def test_a_server_that_exits_at_start_is_reported_with_its_log(tmp_path: Path, tiny_model_dir: Path) -> None:
    launch = "echo 'CUDA out of memory while loading' >&2; exit 7 # {port}"
    cfg = server_config(tmp_path, tiny_model_dir, launch, free_ports(1))
    with pytest.raises(ServerLaunchError) as failure, engine_for(cfg, str(tiny_model_dir)):
        pass
    message = str(failure.value)
    assert "exited with code 7 before it was healthy" in message and "CUDA out of memory while loading" in message
    assert "exit 7" in message and "server_logs" in message


def test_a_server_never_healthy_times_out_and_its_whole_group_is_killed_after_the_grace(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    launch = "trap '' TERM; sleep 313 & exec sleep 314 # {port}"  # deaf to SIGTERM, with a child
    cfg = server_config(tmp_path, tiny_model_dir, launch, free_ports(1), health_timeout_s=1, stop_timeout_s=1)
    expected = r"not healthy after 1 s.*\n  command: trap '' TERM; sleep 313"
    with pytest.raises(ServerLaunchError, match=expected), engine_for(cfg, str(tiny_model_dir)):
        pass
    left = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] in (["sleep", "313"], ["sleep", "314"])]
    assert left == []


def test_a_port_already_taken_is_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        cfg = server_config(tmp_path, tiny_model_dir, "sleep 315 # {port}", [busy.getsockname()[1]])
        with pytest.raises(ServerLaunchError, match="something already listens there"):
            ServerEngine.launch(cfg, str(tiny_model_dir))
    assert new_children() == []


def test_server_settings_are_validated(tmp_path: Path) -> None:
    base = {"model": {"path": "m"}, "data": {"ift": "x"}}
    with pytest.raises(ConfigError, match=r"needs \{port\}"):
        config_from_dict(base | {"backend": {"engine": "server", "launch": "vllm serve {model}"}})
    twice = ["http://127.0.0.1:8000/v1", "http://localhost:8000/v1"]
    with pytest.raises(ConfigError, match="distinct explicit ports"):
        config_from_dict(base | {"backend": {"engine": "server", "urls": twice}})
    with pytest.raises(ConfigError, match="must start with http"):
        config_from_dict(base | {"backend": {"engine": "server", "urls": ["127.0.0.1:8000"]}})
    with pytest.raises(ConfigError, match="engine hf only"):
        config_from_dict(base | {"backend": {"engine": "openai", "num_processes": 2}})
    external = config_from_dict(base | {"backend": {"engine": "server", "launch": None, "urls": twice}})
    engine = ServerEngine.launch(external, "m")  # servers already running: nothing is started
    assert engine.servers == [] and [c.url for c in engine.clients] == [u + "/chat/completions" for u in twice]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's prctl")
def test_a_server_stops_when_srlm_is_killed_with_sigkill(tmp_path: Path) -> None:
    """SIGKILL leaves srlm no time to stop its servers: the kernel's parent-death signal does."""
    import signal
    import subprocess
    import time

    port = free_ports(1)[0]
    marker = f"{317 + port % 1000}"  # a sleep no other test starts
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from srlm.backends.server import start_server\n"
        f"server = start_server('exec sleep {marker}', 'http://127.0.0.1:{port}/v1', Path(sys.argv[1]))\n"
        "print(server.process.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    srlm = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert srlm.stdout is not None
    server = psutil.Process(int(srlm.stdout.readline()))
    deadline = time.monotonic() + 30
    while server.cmdline() != ["sleep", marker] and time.monotonic() < deadline:
        time.sleep(0.05)  # the shell has not exec'd the command yet (slow on a busy machine)
    assert server.cmdline() == ["sleep", marker]
    srlm.send_signal(signal.SIGKILL)
    srlm.wait()
    deadline = time.monotonic() + 30
    while server.is_running() and server.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not server.is_running() or server.status() == psutil.STATUS_ZOMBIE
