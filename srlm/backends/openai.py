"""Generation through any OpenAI-compatible chat-completions server.

    backend: {engine: openai, base_url: http://localhost:8000/v1, concurrency: 16}
    vllm serve runs/my-run/m1        # the served name is the path, the name srlm sends

Works with `vllm serve`, SGLang, TGI, llama.cpp server, Ollama and hosted APIs. Each request is
`POST {base_url}/chat/completions` with model, messages, temperature, top_p, max_tokens, seed
(and n when `samples_per_request` > 1). A batch's requests run concurrently (asyncio), at most
`concurrency` in flight. 429, 5xx, timeouts and connection errors are retried with exponential
backoff and jitter (a server's Retry-After wins, up to `max_backoff_s`); other 4xx fail at once.
Every answer is stored in an on-disk cache keyed by the sha256 of the request body, so an
interrupted stage resumes without paying for the same request twice.

The API key is read from the env var `api_key_env` names; it goes only into the Authorization
header and is scrubbed from error messages. Cache files hold the answers only.

Departures from the HF engine: the server applies its own chat template and sampler, so a
row's seed makes it reproducible only on servers that honour `seed` (vLLM, SGLang, llama.cpp,
OpenAI on a best-effort basis). Seeds are sent as 31-bit numbers, which every server accepts.
With `samples_per_request` > 1, the samples of one prompt share one request and its first seed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import time
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from srlm.backends.base import GenItem, SamplingParams
from srlm.data.io import atomic_write_text

if TYPE_CHECKING:
    from srlm.config import BackendSection, Config

T = TypeVar("T")
_RETRIED_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class ServerError(RuntimeError):
    """A chat-completions request that failed for good: the message says why, without the key."""


def is_retryable(status: int) -> bool:
    """429 (rate limited) and 5xx are worth another try; any other 4xx is the request's fault.

    >>> [is_retryable(s) for s in (429, 500, 503, 400, 401, 404)]
    [True, True, True, False, False, False]
    """
    return status == 429 or status >= 500


def parse_retry_after(headers: httpx.Headers | dict[str, str], now: float | None = None) -> float | None:
    """Seconds a server asks us to wait: `retry-after-ms`, or `Retry-After` as seconds or a date.

    >>> parse_retry_after({"retry-after": "2"}), parse_retry_after({"retry-after-ms": "250"})
    (2.0, 0.25)
    >>> parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0)
    10.0
    >>> parse_retry_after({"retry-after": "soon"}) is None, parse_retry_after({}) is None
    (True, True)
    """
    headers = httpx.Headers(headers)
    if (millis := headers.get("retry-after-ms")) is not None:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(moment - (time.time() if now is None else now), 0.0)


def retry_delay(
    attempt: int, retry_after: float | None, backoff_s: float, max_backoff_s: float, jitter: float
) -> float:
    """Wait before retry number `attempt` (0-based): the server's wish, else backoff · 2^attempt.

    `jitter` in [0, 1) scales the backoff into [50 %, 100 %) so that clients that failed together
    do not retry together; a Retry-After is taken as given. Both are capped at `max_backoff_s`.

    >>> retry_delay(0, None, 1.0, 60, 0.0), retry_delay(3, None, 1.0, 60, 0.5)
    (0.5, 6.0)
    >>> retry_delay(10, None, 1.0, 60, 0.99), retry_delay(0, 7.0, 1.0, 60, 0.3), retry_delay(0, 900.0, 1.0, 60, 0.3)
    (60, 7.0, 60)
    """
    if retry_after is not None:
        return min(retry_after, max_backoff_s)
    return min(backoff_s * 2**attempt * (0.5 + jitter / 2), max_backoff_s)


def request_key(body: dict[str, Any]) -> str:
    """The cache key of a request: sha256 of its canonical JSON body.

    >>> request_key({"model": "m", "n": 2}) == request_key({"n": 2, "model": "m"})
    True
    """
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def parse_choices(payload: Any, n: int) -> list[str]:
    """The n completion texts of a chat-completions reply, in choice order; ValueError if malformed.

    >>> reply = {"choices": [{"index": 1, "message": {"content": "b"}}, {"index": 0, "message": {"content": "a"}}]}
    >>> parse_choices(reply, 2)
    ['a', 'b']
    >>> parse_choices({"choices": []}, 1)
    Traceback (most recent call last):
    ...
    ValueError: 0 choices for n=1
    """
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not isinstance(choices, list):
        raise ValueError("no 'choices' list")
    if len(choices) != n:
        raise ValueError(f"{len(choices)} choices for n={n}")
    texts: dict[int, str] = {}
    for position, choice in enumerate(choices):
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("content", ""), str | None):
            raise ValueError(f"choice {position} has no message with text content")
        index = choice.get("index", position)
        texts[index if isinstance(index, int) else position] = message.get("content") or ""
    if sorted(texts) != list(range(n)):
        raise ValueError(f"choice indices {sorted(texts)} are not 0..{n - 1}")
    return [texts[i] for i in range(n)]


def server_message(response: httpx.Response) -> str:
    """The server's own words about a failed request (its JSON error message, or the body)."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:500] or "(empty body)"
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        error = error.get("message") or error.get("detail") or error
    return str(error)[:500]


class ResponseCache:
    """One JSON file per request key: `<dir>/<key[:2]>/<key>.json` = {"texts": [...]}."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str, n: int) -> list[str] | None:
        try:
            texts = json.loads(self.path(key).read_text(encoding="utf-8"))["texts"]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or unreadable: ask the server again
        ok = isinstance(texts, list) and len(texts) == n and all(isinstance(t, str) for t in texts)
        return texts if ok else None

    def put(self, key: str, texts: list[str]) -> None:
        atomic_write_text(self.path(key), json.dumps({"texts": texts}, ensure_ascii=False) + "\n")


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, also from a thread that already runs an event loop (a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, work).result()


class OpenAIEngine:
    """The `Engine` for a model behind a chat-completions endpoint."""

    def __init__(self, model: str, backend: BackendSection, cache_dir: str | Path) -> None:
        self.model = model
        self.settings = backend
        self.url = backend.base_url.rstrip("/") + "/chat/completions"
        self.cache = ResponseCache(Path(cache_dir))
        self.requests_sent = 0
        self.cache_hits = 0
        self._key_env = backend.api_key_env
        self._api_key = os.environ.get(backend.api_key_env or "") or None

    def plan_batches(self, items: Sequence[GenItem]) -> list[list[GenItem]]:
        # Samples of one prompt sit side by side, so `samples_per_request` can group them; the
        # plan depends only on the items, so a resumed stage sends the same (cached) requests.
        ordered = sorted(items, key=lambda item: (json.dumps(item.messages, sort_keys=True), item.id))
        size = self.settings.batch_size
        return [ordered[i : i + size] for i in range(0, len(ordered), size)]

    def requests_for(self, batch: Sequence[GenItem], params: SamplingParams) -> list[tuple[dict[str, Any], list[int]]]:
        """(request body, positions in the batch it answers): one per item, or per group of samples."""
        groups: dict[str, list[int]] = {}
        for position, item in enumerate(batch):
            groups.setdefault(json.dumps(item.messages, sort_keys=True), []).append(position)
        per_request = self.settings.samples_per_request
        requests = []
        for positions in groups.values():
            for start in range(0, len(positions), per_request):
                chunk = positions[start : start + per_request]
                body: dict[str, Any] = {
                    "model": self.model,
                    "messages": list(batch[chunk[0]].messages),
                    "temperature": params.temperature,
                    "top_p": params.top_p,
                    "max_tokens": params.max_new_tokens,
                    "seed": batch[chunk[0]].seed & 0x7FFFFFFF,
                }
                if len(chunk) > 1:
                    body["n"] = len(chunk)
                requests.append((body, chunk))
        return requests

    def generate_batch(self, batch: Sequence[GenItem], params: SamplingParams) -> list[str]:
        return run_async(self.agenerate_batch(batch, params))

    async def agenerate_batch(self, batch: Sequence[GenItem], params: SamplingParams) -> list[str]:
        """`generate_batch` inside a running event loop (several servers at once: srlm/backends/server.py)."""
        requests = self.requests_for(batch, params)
        answers = await self.complete_all([body for body, _ in requests])
        texts = [""] * len(batch)
        for (_, positions), answer in zip(requests, answers, strict=True):
            for position, text in zip(positions, answer, strict=True):
                texts[position] = text.strip()
        return texts

    async def complete_all(self, bodies: list[dict[str, Any]]) -> list[list[str]]:
        """All requests of a batch, `concurrency` at a time; the first failure cancels the rest."""
        limit = asyncio.Semaphore(self.settings.concurrency)
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        timeout = httpx.Timeout(self.settings.timeout_s)
        connections = httpx.Limits(max_connections=self.settings.concurrency)
        async with httpx.AsyncClient(headers=headers, timeout=timeout, limits=connections) as client:
            tasks = [asyncio.create_task(self.complete(client, limit, body)) for body in bodies]
            try:
                return list(await asyncio.gather(*tasks))
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def complete(self, client: httpx.AsyncClient, limit: asyncio.Semaphore, body: dict[str, Any]) -> list[str]:
        """The texts of one request: from the cache, else from the server (then cached)."""
        key, n = request_key(body), body.get("n", 1)
        cached = self.cache.get(key, n)
        if cached is not None:
            self.cache_hits += 1
            return cached
        async with limit:
            payload = await self._post(client, body)
        try:
            texts = parse_choices(payload, n)
        except ValueError as error:
            message = f"{self.url}: not a chat-completions reply ({error}); model {self.model!r}"
            raise ServerError(self._scrub(message)) from None
        self.cache.put(key, texts)
        return texts

    async def _post(self, client: httpx.AsyncClient, body: dict[str, Any]) -> Any:
        """POST with retries; the parsed JSON of the first successful reply."""
        settings, last = self.settings, ""
        for attempt in range(settings.max_retries + 1):
            retry_after = None
            self.requests_sent += 1
            try:
                response = await client.post(self.url, json=body)
            except _RETRIED_ERRORS as error:
                last = f"{type(error).__name__} {error}".strip()
            else:
                if response.status_code < 300:
                    return self._json(response)
                last = f"HTTP {response.status_code}: {server_message(response)}"
                if not is_retryable(response.status_code):
                    raise ServerError(self._scrub(self._refused(response.status_code, last)))
                retry_after = parse_retry_after(response.headers)
            if attempt < settings.max_retries:
                jitter = random.random()
                await asyncio.sleep(
                    retry_delay(attempt, retry_after, settings.backoff_s, settings.max_backoff_s, jitter)
                )
        tries = settings.max_retries + 1
        raise ServerError(
            self._scrub(f"{self.url}: gave up after {tries} attempts (model {self.model!r}); last: {last}")
        )

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            snippet = response.text[:200]
            raise ServerError(
                self._scrub(f"{self.url}: the reply is not JSON (model {self.model!r}): {snippet!r}")
            ) from None

    def _refused(self, status: int, message: str) -> str:
        hint = ""
        if status in (401, 403) and self._key_env:
            hint = f" (the key is read from ${self._key_env}{'' if self._api_key else ', which is not set'})"
        elif status == 404:
            hint = f" (is model {self.model!r} served there? backend.model sets the name srlm sends)"
        return f"{self.url}: request for model {self.model!r} refused, {message}{hint}"

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def close(self) -> None:
        if self.requests_sent or self.cache_hits:
            from rich.console import Console

            Console(stderr=True, highlight=False).print(
                f"[dim]{self.model} via {self.url}: {self.requests_sent} requests sent, "
                f"{self.cache_hits} answers from the cache[/dim]"
            )


def served_model(cfg: Config, model_dir: str) -> str:
    """The name sent for a stage's model: `backend.model`, else the dir (eval's judge keeps its own)."""
    if model_dir == cfg.eval.judge_model:
        return model_dir
    return cfg.backend.model or model_dir
