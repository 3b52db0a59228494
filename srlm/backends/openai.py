"""Generation through any OpenAI-compatible chat-completions server.

    backend: {engine: openai, base_url: http://localhost:8000/v1, concurrency: 16}
    vllm serve "$PWD/runs/my-run/m1"   # served under its absolute path: the name srlm sends

Works with `vllm serve`, SGLang, TGI, llama.cpp server, Ollama and hosted APIs. Each request is
`POST {base_url}/chat/completions` with model, messages, temperature, top_p, max_tokens, seed
(and n when `samples_per_request` > 1). The name sent is `served_model`'s: the model dir's
absolute path unless `backend.model` says otherwise. Before the first request that is not
cached, `GET {base_url}/models` must list that name (`backend.check_model`; see
srlm/backends/served.py), since some servers answer any name with whatever model they hold.
A batch's requests run concurrently (asyncio), at most `concurrency` in flight. 429, 5xx,
timeouts and connection errors are retried with exponential backoff and jitter (a server's
Retry-After wins, up to `max_backoff_s`); other 4xx fail at once. Every answer is stored in an
on-disk cache keyed by the sha256 of the request body, so an interrupted stage resumes without
paying for the same request twice.

The API key is read from the env var `api_key_env` names; it goes only into the Authorization
header and is scrubbed from error messages. Cache files hold the answers only.

Departures from the HF engine: the server applies its own chat template and sampler. A row's
seed fixes the server's sampling draws, but not the numbers they are drawn from, which depend
on what the server batched together; so no server run promises the same samples twice (the
README lists what each server guarantees), and manifests say `reproducible_samples: false`.
The cache makes a rerun stable. Seeds are sent as 31-bit numbers, which every server accepts.
With `samples_per_request` > 1, the samples of one prompt share one request and its first seed;
a server that answers such a request with one choice (llama-cpp-python) or refuses it
(llama.cpp's llama-server) gets one request per sample, each with its own seed, from then on.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from rich.markup import escape

from srlm.backends.base import Completion, GenItem, SamplingParams, is_truncated
from srlm.backends.retry import is_retryable, parse_retry_after, retry_delay
from srlm.backends.served import (
    PROBE_PARAMS,
    LocalProbes,
    cache_dir,
    fingerprint_problem,
    listed_names,
    listing_problem,
    local_probes,
    served_model,
)
from srlm.data.io import atomic_write_text

if TYPE_CHECKING:
    from srlm.config import BackendSection, Config

T = TypeVar("T")
_RETRIED_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class ServerError(RuntimeError):
    """A chat-completions request that failed for good: the message says why, without the key."""


class _NIgnored(Exception):
    """A server that answers `n` > 1 with one choice (llama-cpp-python) or refuses it (llama-server)."""


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
        cut = choice.get("finish_reason") == "length"  # stopped at max_tokens: cut off
        texts[index if isinstance(index, int) else position] = Completion(message.get("content") or "", cut)
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
    """One JSON file per request key: `<dir>/<key[:2]>/<key>.json` = {"texts": [...], "truncated": [...]}."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str, n: int) -> list[str] | None:
        try:
            stored = json.loads(self.path(key).read_text(encoding="utf-8"))
            texts = stored["texts"]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or unreadable: ask the server again
        ok = isinstance(texts, list) and len(texts) == n and all(isinstance(t, str) for t in texts)
        if not ok:
            return None
        cut = stored.get("truncated")
        cut = cut if isinstance(cut, list) and len(cut) == n else [False] * n  # older cache files: not marked
        return [Completion(text, bool(flag)) for text, flag in zip(texts, cut, strict=True)]

    def put(self, key: str, texts: list[str]) -> None:
        stored = {"texts": texts, "truncated": [is_truncated(text) for text in texts]}
        atomic_write_text(self.path(key), json.dumps(stored, ensure_ascii=False) + "\n")


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, also from a thread that already runs an event loop (a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, work).result()


def say(text: str) -> None:
    """One line on stderr (rich markup; escape names with `escape`)."""
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(text)


class OpenAIEngine:
    """The `Engine` for a model behind a chat-completions endpoint."""

    reproducible = False  # a fresh run's samples depend on the server's batching; a rerun reads the cache

    def __init__(
        self, model: str, backend: BackendSection, cache_dir: str | Path, local: LocalProbes | None = None
    ) -> None:
        self.model = model
        self.settings = backend
        self.url = backend.base_url.rstrip("/") + "/chat/completions"
        self.cache = ResponseCache(Path(cache_dir))
        self.local = local  # the model dir's own probe answers, for check_model: fingerprint
        self.attempts = 0  # requests sent, retries included
        self.answered = 0  # requests that got a reply
        self.cache_hits = 0
        self.checked = backend.check_model == "off"
        self.n_ignored = False  # the server answered n > 1 with one choice: one request per sample
        self._key_env = backend.api_key_env
        self._api_key = os.environ.get(backend.api_key_env or "") or None

    @classmethod
    def for_model(cls, cfg: Config, model_dir: str) -> OpenAIEngine:
        """The engine for a stage's model: the name `served_model` gives, the run's cache."""
        return cls(served_model(cfg, model_dir), cfg.backend, cache_dir(cfg), local_probes(cfg, model_dir))

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
        per_request = 1 if self.n_ignored else self.settings.samples_per_request
        requests = []
        for positions in groups.values():
            for start in range(0, len(positions), per_request):
                chunk = positions[start : start + per_request]
                body = self.body(batch[chunk[0]], params)
                if len(chunk) > 1:
                    body["n"] = len(chunk)
                requests.append((body, chunk))
        return requests

    def body(self, item: GenItem, params: SamplingParams) -> dict[str, Any]:
        """The request for one sample of `item`."""
        return {
            "model": self.model,
            "messages": list(item.messages),
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_new_tokens,
            "seed": item.seed & 0x7FFFFFFF,
        }

    def generate_batch(self, batch: Sequence[GenItem], params: SamplingParams) -> list[str]:
        return run_async(self.agenerate_batch(batch, params))

    async def agenerate_batch(self, batch: Sequence[GenItem], params: SamplingParams) -> list[str]:
        """`generate_batch` inside a running event loop (several servers at once: srlm/backends/server.py)."""
        requests = self.requests_for(batch, params)
        # Each request also as one request per sample, for a server that turns out to ignore n.
        singles = [[self.body(batch[p], params) for p in positions] for _, positions in requests]
        answers = await self.complete_all([body for body, _ in requests], singles)
        texts = [""] * len(batch)
        for (_, positions), answer in zip(requests, answers, strict=True):
            for position, text in zip(positions, answer, strict=True):
                texts[position] = Completion(text.strip(), is_truncated(text))
        return texts

    async def complete_all(self, bodies: list[dict[str, Any]], singles: list[list[dict[str, Any]]]) -> list[list[str]]:
        """All requests of a batch: cached answers first, then the rest `concurrency` at a time
        (after `check_model`); the first failure cancels the rest."""
        answers = {i: self.cache.get(request_key(body), body.get("n", 1)) for i, body in enumerate(bodies)}
        todo = [i for i, answer in answers.items() if answer is None]
        self.cache_hits += len(bodies) - len(todo)
        if todo:
            limit = asyncio.Semaphore(self.settings.concurrency)
            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            timeout = httpx.Timeout(self.settings.timeout_s)
            connections = httpx.Limits(max_connections=self.settings.concurrency)
            async with httpx.AsyncClient(headers=headers, timeout=timeout, limits=connections) as client:
                await self.check_model(client)
                tasks = [asyncio.create_task(self.complete(client, limit, bodies[i], singles[i])) for i in todo]
                try:
                    answers.update(zip(todo, await asyncio.gather(*tasks), strict=True))
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
        return [answers[i] or [] for i in range(len(bodies))]

    async def complete(
        self, client: httpx.AsyncClient, limit: asyncio.Semaphore, body: dict[str, Any], singles: list[dict[str, Any]]
    ) -> list[str]:
        """The texts of one request that is not cached, from the server (then cached); a server
        that ignores `n` gets the samples as `singles`, one request each."""
        n = body.get("n", 1)
        if n > 1 and self.n_ignored:
            return await self._one_by_one(client, limit, singles)
        try:
            async with limit:
                payload = await self._send(client, body)
            texts = self._choices(payload, n)
        except _NIgnored as reason:
            self._note_n_ignored(str(reason), n)
            return await self._one_by_one(client, limit, singles)
        self.cache.put(request_key(body), texts)
        return texts

    async def _one_by_one(
        self, client: httpx.AsyncClient, limit: asyncio.Semaphore, singles: list[dict[str, Any]]
    ) -> list[str]:
        async def one(body: dict[str, Any]) -> str:
            cached = self.cache.get(request_key(body), 1)
            if cached is not None:
                self.cache_hits += 1
                return cached[0]
            return (await self.complete(client, limit, body, [body]))[0]

        return list(await asyncio.gather(*(one(body) for body in singles)))

    def _note_n_ignored(self, reason: str, n: int) -> None:
        if not self.n_ignored:
            self.n_ignored = True
            say(
                f"[yellow]{self.url} {reason} for n={n}: one request per sample from now on "
                "(backend.samples_per_request: 1 says so for this server)[/yellow]"
            )

    def _choices(self, payload: Any, n: int) -> list[str]:
        choices = payload.get("choices") if isinstance(payload, dict) else None
        if n > 1 and isinstance(choices, list) and len(choices) == 1:
            raise _NIgnored("answered with one choice")
        try:
            return parse_choices(payload, n)
        except ValueError as error:
            message = f"{self.url}: not a chat-completions reply ({error}); model {self.model!r}"
            raise ServerError(self._scrub(message)) from None

    async def check_model(self, client: httpx.AsyncClient) -> None:
        """Once, before the first request: does the server serve `self.model`? (srlm/backends/served.py)"""
        if self.checked:
            return
        models_url = self.settings.base_url.rstrip("/") + "/models"
        listing = await self._send(client, None, models_url)
        try:
            names = listed_names(listing) if listing is not None else []
        except ValueError:
            names = []
        if not names:
            what = f"{models_url} lists no models: cannot check that {self.model!r} is served there"
            say(f"[yellow]{escape(what)}[/yellow]")
        elif problem := listing_problem(names, self.model, models_url):
            raise ServerError(self._scrub(problem))
        if self.local is not None:
            server = []
            for item in self.local.items():
                payload = await self._send(client, self.body(item, PROBE_PARAMS))
                server.append(str(self._choices(payload, 1)[0]).strip())
            local = self.local
            if problem := fingerprint_problem(self.model, local.model_dir, local.prompts, server, local.answers()):
                raise ServerError(self._scrub(problem))
        self.checked = True

    async def _send(self, client: httpx.AsyncClient, body: dict[str, Any] | None, url: str | None = None) -> Any:
        """POST `body` to the completions URL (or GET `url`) with retries; the parsed JSON of the
        first successful reply, None for a GET answered 404 or 405 (no such endpoint)."""
        settings, last, target = self.settings, "", url or self.url
        for attempt in range(settings.max_retries + 1):
            retry_after, posting = None, body is not None
            self.attempts += posting  # completions only: the model check's GET is not counted
            try:
                response = await (client.post(target, json=body) if body is not None else client.get(target))
            except _RETRIED_ERRORS as error:
                last = f"{type(error).__name__} {error}".strip()
            else:
                if response.status_code < 300:
                    self.answered += posting
                    return self._json(response, target)
                if not posting and response.status_code in (404, 405):
                    return None
                last = f"HTTP {response.status_code}: {server_message(response)}"
                if body is not None and body.get("n", 1) > 1 and "one completion choice" in last.lower():
                    raise _NIgnored("refused n > 1")  # llama.cpp's llama-server, with 400 or 500
                if not is_retryable(response.status_code):
                    raise ServerError(self._scrub(self._refused(response.status_code, last, target)))
                retry_after = parse_retry_after(response.headers)
            if attempt < settings.max_retries:
                jitter = random.random()
                await asyncio.sleep(
                    retry_delay(attempt, retry_after, settings.backoff_s, settings.max_backoff_s, jitter)
                )
        tries = settings.max_retries + 1
        raise ServerError(self._scrub(f"{target}: gave up after {tries} attempts (model {self.model!r}); last: {last}"))

    def _json(self, response: httpx.Response, target: str) -> Any:
        try:
            return response.json()
        except ValueError:
            snippet = response.text[:200]
            raise ServerError(
                self._scrub(f"{target}: the reply is not JSON (model {self.model!r}): {snippet!r}")
            ) from None

    def _refused(self, status: int, message: str, target: str) -> str:
        hint = ""
        if status in (401, 403) and self._key_env:
            hint = f" (the key is read from ${self._key_env}{'' if self._api_key else ', which is not set'})"
        elif status == 404:
            hint = f" (is model {self.model!r} served there? backend.model sets the name srlm sends)"
        return f"{target}: request for model {self.model!r} refused, {message}{hint}"

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def close(self) -> None:
        if self.attempts or self.cache_hits:
            retried = f", {self.attempts - self.answered} failed and retried" if self.attempts > self.answered else ""
            say(
                f"[dim]{escape(self.model)} via {self.url}: {self.answered} answers from the server "
                f"({self.attempts} requests{retried}), {self.cache_hits} from the cache[/dim]"
            )
