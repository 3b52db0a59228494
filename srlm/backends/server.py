"""Generation on chat-completions servers that srlm starts for a stage group and stops after it.

    backend:
      engine: server
      launch: "vllm serve {model} --port {port} --served-model-name {name}"   # the default
      urls: [http://127.0.0.1:8000/v1]                                         # [] = [base_url]

For each URL, `engine_for` runs `launch` (through /bin/sh, in a new process group; {model} is
the stage's model dir, {name} the name srlm sends (the dir's absolute path unless
`backend.model`), {port} the URL's port, {index} the server's number) with its output in
`<run_dir>/server_logs/`, and waits until `GET /health` or `GET /v1/models` answers. The
stages of an iteration (prompts, candidates, judge) or one model's evaluation then run through
`OpenAIEngine` (its model check, retries and response cache), and the servers are stopped
(SIGTERM to the group, SIGKILL after `stop_timeout_s`), so GPU memory is free again before
training. If srlm itself is killed (SIGKILL, out of memory), the kernel
sends each server SIGTERM (Linux's parent-death signal). Other servers, same placeholders:

    SGLang: python -m sglang.launch_server --model-path {model} --port {port} --served-model-name {name}
    TGI:    text-generation-launcher --model-id {model} --port {port}
    llama.cpp (a GGUF beside each model dir, README): llama-server -m {model}.gguf --port {port} --alias {name}
    one GPU per server:  CUDA_VISIBLE_DEVICES={index} vllm serve {model} --port {port} --served-model-name {name}

With `launch: null` the servers at `urls` are already running and nothing is started.

Several URLs: the i-th batch still to run goes to server i mod (number of servers), and each
server works through its batches while the others work through theirs. A batch is never split;
the stage merges finished batches by row id into its partial file. An answer's cache key is its
request, not the server, so a rerun after a failure (or with another number of servers) asks
only for what no server answered. A server that exits mid-stage fails the stage at once with
its command, exit code and the last lines of its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from srlm.backends.base import BatchDone, GenItem, SamplingParams
from srlm.backends.openai import OpenAIEngine, ServerError, run_async
from srlm.backends.served import LocalProbes, cache_dir, local_probes, served_model

if TYPE_CHECKING:
    from srlm.config import BackendSection, Config

LOG_LINES = 20
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class ServerLaunchError(ServerError):
    """A server that could not start, never became healthy, or died while serving."""


@dataclass
class Server:
    """One started server: its command, API root, process (group leader) and log file."""

    command: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]

    def failure(self, what: str) -> str:
        """A message naming the command and quoting the end of its log."""
        self.log.flush()
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_LINES:]
        except OSError:
            lines = []
        tail = "\n".join(f"    {line}" for line in lines) or "    (empty)"
        return f"server {self.url} {what}\n  command: {self.command}\n  last lines of {self.log_path}:\n{tail}"

    def exit_code(self) -> int | None:
        return self.process.poll()


def launch_command(template: str, *, model: str, name: str, url: str, index: int) -> str:
    """The shell command for one server, placeholders filled in and shell-quoted.

    >>> launch_command("vllm serve {model} --port {port} --served-model-name {name}",
    ...                model="runs/a b/m1", name="m1", url="http://127.0.0.1:8001/v1", index=1)
    "vllm serve 'runs/a b/m1' --port 8001 --served-model-name m1"
    """
    port = urlsplit(url).port
    fields = {"model": model, "name": name, "port": str(port), "index": str(index)}
    return template.format(**{key: shlex.quote(value) for key, value in fields.items()})


def _port_in_use(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=1):
            return True
    except OSError:
        return False


def start_server(command: str, url: str, log_dir: Path) -> Server:
    """Run `command` in its own process group, stdout and stderr appended to a log file."""
    if _port_in_use(url):
        raise ServerLaunchError(
            f"{url}: something already listens there (a server left running?); not starting\n  command: {command}"
        )
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"port{urlsplit(url).port}.log"
    log = log_path.open("ab")
    log.write(f"\n# {time.strftime('%Y-%m-%d %H:%M:%S')} {command}\n".encode())
    log.flush()
    process = subprocess.Popen(
        command,
        shell=True,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=functools.partial(_detach, os.getpid()),
    )
    return Server(command, url, process, log_path, log)


def _detach(parent: int) -> None:
    """In the child before exec: its own process group, and SIGTERM when srlm dies (Linux).

    The group lets `stop_servers` reach the server's own children. The parent-death signal
    covers what `stop_servers` cannot: srlm killed with SIGKILL (or OOM) would otherwise leave a
    server holding its port and GPU memory. It reaches the process srlm started (the shell
    execs a simple command, so that is the server); a server that runs workers of its own
    stops them as it does on any SIGTERM.
    """
    os.setsid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # srlm died before the signal was armed
            os._exit(1)


def is_healthy(client: httpx.Client, url: str) -> bool:
    """`GET /health` (vLLM, SGLang, TGI) or `GET {url}/models` answers 200."""
    parts = urlsplit(url)
    for probe in (f"{parts.scheme}://{parts.netloc}/health", url.rstrip("/") + "/models"):
        try:
            if client.get(probe).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
    return False


def wait_healthy(servers: Sequence[Server], timeout_s: float, poll_s: float = 0.5) -> None:
    """Wait until every server is healthy; raise if one exits first or the time runs out."""
    deadline = time.monotonic() + timeout_s
    pending = list(servers)
    with httpx.Client(timeout=5.0) as client:
        while pending:
            for server in list(pending):
                if (code := server.exit_code()) is not None:
                    raise ServerLaunchError(server.failure(f"exited with code {code} before it was healthy"))
                if is_healthy(client, server.url):
                    pending.remove(server)
            if pending and time.monotonic() > deadline:
                what = f"not healthy after {timeout_s:g} s (GET /health, /v1/models); backend.health_timeout_s"
                raise ServerLaunchError(pending[0].failure(what))
            if pending:
                time.sleep(poll_s)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_servers(servers: Sequence[Server], grace_s: float) -> None:
    """SIGTERM each server's process group, SIGKILL what is left after `grace_s`, reap the leaders."""
    for server in servers:
        _signal_group(server.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        for server in servers:
            server.process.poll()  # reap a leader that exited, or its group never empties
        if not any(_group_alive(server.process.pid) for server in servers):
            break
        time.sleep(0.1)
    for server in servers:
        _signal_group(server.process.pid, signal.SIGKILL)
        server.process.wait()
        server.log.close()


class ServerEngine:
    """The `Engine` over one or more chat-completions servers (started here when `launch` is set)."""

    reproducible = False  # as OpenAIEngine: the servers' batching decides

    def __init__(
        self,
        name: str,
        backend: BackendSection,
        cache_dir: str | Path,
        servers: Sequence[Server] = (),
        local: LocalProbes | None = None,
    ) -> None:
        urls = backend.urls or [backend.base_url]
        self.clients = [
            OpenAIEngine(name, backend.model_copy(update={"base_url": url}), cache_dir, local) for url in urls
        ]  # each checks its own server's model (srlm/backends/served.py); `local` loads once
        self.servers = list(servers)
        self.stop_timeout_s = backend.stop_timeout_s
        self.batches_per_server = [0] * len(urls)

    @classmethod
    def launch(cls, cfg: Config, model_dir: str) -> ServerEngine:
        """Start one server per URL for `model_dir` and wait until all are healthy."""
        backend, name = cfg.backend, served_model(cfg, model_dir)
        servers: list[Server] = []
        if backend.launch:
            logs = Path(cfg.loop.run_dir) / "server_logs"
            try:
                for index, url in enumerate(backend.urls or [backend.base_url]):
                    command = launch_command(backend.launch, model=model_dir, name=name, url=url, index=index)
                    servers.append(start_server(command, url, logs))
                wait_healthy(servers, backend.health_timeout_s)
            except BaseException:
                stop_servers(servers, backend.stop_timeout_s)
                raise
        return cls(name, backend, cache_dir(cfg), servers, local_probes(cfg, model_dir))

    def plan_batches(self, items: Sequence[GenItem]) -> list[list[GenItem]]:
        return self.clients[0].plan_batches(items)

    def generate_batch(self, batch: Sequence[GenItem], params: SamplingParams) -> list[str]:
        texts: list[str] = []
        self.generate_batches([batch], params, lambda _, answer: texts.extend(answer))
        return texts

    def generate_batches(
        self, batches: Sequence[Sequence[GenItem]], params: SamplingParams, on_done: BatchDone
    ) -> None:
        """Batch i to server i mod n; each server's batches in order, all servers at once."""
        run_async(self._generate_all(batches, params, on_done))

    async def _generate_all(
        self, batches: Sequence[Sequence[GenItem]], params: SamplingParams, on_done: BatchDone
    ) -> None:
        count = len(self.clients)

        async def serve(index: int) -> None:
            for batch in batches[index::count]:
                texts = await self.clients[index].agenerate_batch(batch, params)
                self.batches_per_server[index] += 1
                on_done(batch, texts)

        work = asyncio.gather(*(serve(index) for index in range(count)))
        watch = asyncio.ensure_future(self._watch())
        try:
            either: list[asyncio.Future[Any]] = [work, watch]
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            if watch.done():
                watch.result()
            await work
        except ServerError:
            self._raise_if_dead()  # a dead server explains a failed request better than the request does
            raise
        finally:
            work.cancel()
            watch.cancel()
            await asyncio.gather(work, watch, return_exceptions=True)

    async def _watch(self) -> None:
        while True:
            self._raise_if_dead()
            await asyncio.sleep(0.2)

    def _raise_if_dead(self) -> None:
        for server in self.servers:
            if (code := server.exit_code()) is not None:
                raise ServerLaunchError(server.failure(f"exited with code {code} while generating"))

    def close(self) -> None:
        for client in self.clients:
            client.close()
        stop_servers(self.servers, self.stop_timeout_s)
        self.servers = []
