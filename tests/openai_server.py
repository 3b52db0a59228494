"""A real chat-completions server on 127.0.0.1 (random free port) that serves scripted replies.

    with ScriptedServer(reply) as server:
        backend.base_url = server.base_url
        server.script.append(Reply(429, headers={"Retry-After": "1"}))   # the next request only

Each POST is recorded in `requests` (headers, JSON body, arrival time), each GET in `listings`;
the server also counts the most requests it ever held at once. Without a scripted action, it
answers `n` choices from `reply`.

What it serves, as real servers differ:

    ScriptedServer()                                 # no GET /v1/models (404); answers any name
    ScriptedServer(models=["m"])                     # lists m; another name gets 404 (vLLM, SGLang)
    ScriptedServer(models=["m"], any_model=True)     # lists m, answers any name (llama.cpp)
    ScriptedServer(n_support="ignore")               # one choice whatever n asks (llama-cpp-python)
    ScriptedServer(n_support="refuse")               # n > 1 refused with 500 (llama.cpp's llama-server)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ReplyFn = Callable[[dict[str, Any], int], str]


@dataclass
class Reply:
    """A scripted answer: status, headers, raw body (JSON-encoded when not bytes), delay first."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def default_reply(body: dict[str, Any], index: int) -> str:
    return f" echo {body['messages'][-1]['content']} #{index} seed {body.get('seed')} "


def completion(texts: list[str], reverse: bool = False) -> dict[str, Any]:
    choices = [{"index": i, "message": {"role": "assistant", "content": t}} for i, t in enumerate(texts)]
    return {"object": "chat.completion", "choices": choices[::-1] if reverse else choices}


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


class ScriptedServer:
    def __init__(
        self,
        reply: ReplyFn = default_reply,
        delay_s: float = 0.0,
        reverse_choices: bool = False,
        models: list[str] | None = None,
        any_model: bool = False,
        n_support: str = "honour",
    ) -> None:
        self.reply = reply
        self.delay_s = delay_s  # every request takes this long (to observe concurrency)
        self.reverse_choices = reverse_choices  # choices listed last-first, with their indices
        self.models = models  # listed by GET /v1/models; None = no such endpoint
        self.any_model = any_model  # answer names it does not list (llama.cpp) instead of 404
        self.n_support = n_support  # honour | ignore | refuse
        self.script: list[Reply | None] = []  # consumed one per request; None = the default reply
        self.always: Reply | None = None  # answer every request with this instead
        self.requests: list[Recorded] = []  # POSTs
        self.listings: list[Recorded] = []  # GETs (the model check)
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._http.daemon_threads = True
        self._http.block_on_close = False
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/v1"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    def _answer(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            scripted = self.script.pop(0) if self.script else self.always
        if scripted is not None:
            return scripted
        if self.models is not None and not self.any_model and body.get("model") not in self.models:
            return Reply(404, {"error": {"message": f"The model `{body.get('model')}` does not exist."}})
        n = int(body.get("n", 1))
        if n > 1 and self.n_support == "refuse":
            return Reply(500, {"error": {"code": 500, "message": "Only one completion choice is allowed"}})
        texts = [self.reply(body, i) for i in range(1 if self.n_support == "ignore" else n)]
        return Reply(200, completion(texts, self.reverse_choices), delay_s=self.delay_s)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.listings.append(Recorded(self.path, dict(self.headers), {}, time.monotonic()))
                if self.path == "/v1/models" and server.models is not None:
                    listing = {"object": "list", "data": [{"id": name, "object": "model"} for name in server.models]}
                    self._send(Reply(200, listing))
                else:
                    self._send(Reply(404, {"error": {"message": f"no route {self.path}"}}))

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw)
                with server._lock:
                    server.requests.append(Recorded(self.path, dict(self.headers), body, time.monotonic()))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._send(server._answer(body))
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _send(self, reply: Reply) -> None:
                time.sleep(reply.delay_s)
                data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
