"""A chat-completions server as a real process, for `backend.engine: server` tests.

    python -m tests.tiny_server --port 8000 --model DIR --name NAME [--echo] [--die-after K] [--log FILE]

Serves the tiny model at DIR through `HFEngine` (one request at a time), or with `--echo`
scripted replies without loading torch. `GET /health` and `GET /v1/models` answer once it is
ready; a request for another model name gets 404, as from vLLM. `--log` appends one JSON line
per answered completion (port, seed, prompt); `--die-after K` exits with code 3 right after
answering K completions, as a crashed server would.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def echo_reply(body: dict[str, Any], index: int) -> str:
    return f"echo {body['messages'][-1]['content']} #{index} seed {body.get('seed')}"


def model_reply(model_dir: str) -> Any:
    """A function (request body, sample index) -> text from the tiny model, seeded per request."""
    from srlm.backends.base import GenItem, SamplingParams
    from srlm.backends.hf import HFEngine
    from srlm.config import BackendSection, ModelSection

    engine = HFEngine(model_dir, ModelSection(path=model_dir), BackendSection(batch_size=1))
    _ = engine.model  # load now: healthy means ready

    def reply(body: dict[str, Any], index: int) -> str:
        item = GenItem("r", tuple(body["messages"]), int(body.get("seed", 0)) + index)
        params = SamplingParams(float(body.get("temperature", 1.0)), float(body.get("top_p", 1.0)), body["max_tokens"])
        return engine.generate_batch([item], params)[0]

    return reply


def serve(args: argparse.Namespace) -> None:
    reply = echo_reply if args.echo else model_reply(args.model)
    lock = threading.Lock()
    answered = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path in ("/health", "/v1/models"):
                self._send(200, {"object": "list", "data": [{"id": args.name, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if self.path != "/v1/chat/completions" or body.get("model") != args.name:
                self._send(404, {"error": {"message": f"The model `{body.get('model')}` does not exist."}})
                return
            with lock:  # one generation at a time; the answer is sent and logged before a planned exit
                texts = [reply(body, i) for i in range(int(body.get("n", 1)))]
                choices = [{"index": i, "message": {"role": "assistant", "content": t}} for i, t in enumerate(texts)]
                self._send(200, {"object": "chat.completion", "choices": choices})
                answered[0] += 1
                if args.log:
                    record = {"port": args.port, "seed": body.get("seed"), "prompt": body["messages"][-1]["content"]}
                    with open(args.log, "a", encoding="utf-8") as log:
                        log.write(json.dumps(record) + "\n")
                if args.die_after is not None and answered[0] >= args.die_after:
                    print(f"tiny_server: dying after {answered[0]} completions", file=sys.stderr, flush=True)
                    os._exit(3)

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

        def log_message(self, format: str, *log_args: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    http.daemon_threads = True
    print(f"tiny_server: serving {args.name} on port {args.port}", file=sys.stderr, flush=True)
    http.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--echo", action="store_true")
    parser.add_argument("--die-after", type=int)
    parser.add_argument("--log")
    serve(parser.parse_args())


if __name__ == "__main__":
    main()
