"""A real chat-completions server on 127.0.0.1 (random free port) that serves scripted replies.

    with ScriptedServer(reply) as server:
        backend.base_url = server.base_url
        server.script.append(Reply(429, headers={"Retry-After": "1"}))   # the next request only

Each request is recorded (headers, JSON body, arrival time); the server also counts the most
requests it ever held at once. Without a scripted action, it answers `n` choices from `reply`.
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
    def __init__(self, reply: ReplyFn = default_reply, delay_s: float = 0.0, reverse_choices: bool = False) -> None:
        self.reply = reply
        self.delay_s = delay_s  # every request takes this long (to observe concurrency)
        self.reverse_choices = reverse_choices  # choices listed last-first, with their indices
        self.script: list[Reply | None] = []  # consumed one per request; None = the default reply
        self.always: Reply | None = None  # answer every request with this instead
        self.requests: list[Recorded] = []
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
        texts = [self.reply(body, i) for i in range(int(body.get("n", 1)))]
        return Reply(200, completion(texts, self.reverse_choices), delay_s=self.delay_s)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
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
