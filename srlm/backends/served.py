"""Which model answers on a chat-completions server: checked before a stage sends it work.

    backend: {check_model: listed}        # the default: GET {base_url}/models must list the name sent
    backend: {check_model: fingerprint}   # also: greedy probe answers equal the local model dir's
    backend: {check_model: off}

Why: vLLM and SGLang refuse a name they do not serve (404), but llama.cpp's servers answer any
name with 200 and echo it back, whatever model they hold. A server still holding M(t-1), or the
GGUF a run started from, would answer for M_t without a word.

`listed` costs one GET per engine. It proves the name, not the weights: a server started with
an alias (llama.cpp `--alias`, `--model_alias`) lists the alias whatever file it loaded.
`fingerprint` also sends PROBE_COUNT prompts greedily and compares the first PROBE_WORDS words
with the local model dir's answers (srlm loads that dir with transformers, in this process,
once per engine). The prompts are the run's first IFT prompts: M1 was trained on them, so they
are where it most likely answers unlike the model it started from, even where a generic
question would not tell the two apart (GENERIC_PROBES when the IFT file cannot be read). A DPO
step may change those answers little: the check is strongest against a server holding a much
older model. It is opt-in because of the load: measured 2.9 s and 1 GB for SmolLM2-135M on CPU, but
a 70B model does not fit beside the server on its GPUs. A server that decodes in another
precision (a quantized GGUF) may differ from float32 after a few words; a majority of the
probes must agree, and only their start is compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from srlm.backends.base import GenItem, SamplingParams, user

if TYPE_CHECKING:
    from srlm.config import BackendSection, Config, ModelSection

GENERIC_PROBES = (
    "Name three colours.",
    "What is 2 + 3? Answer in one sentence.",
    "Write one sentence about the sea.",
)
PROBE_COUNT = 3
PROBE_TOKENS = 16
PROBE_WORDS = 8
PROBE_PARAMS = SamplingParams(temperature=0.0, top_p=1.0, max_new_tokens=PROBE_TOKENS)


def probe_prompts(ift_file: str) -> list[str]:
    """The first PROBE_COUNT prompts of the IFT file, else GENERIC_PROBES."""
    from srlm.data.io import DataError, read_rows

    try:
        prompts = [row["prompt"] for row in read_rows(ift_file, {"prompt": str})[:PROBE_COUNT]]
    except (DataError, OSError):
        prompts = []
    return prompts if len(prompts) == PROBE_COUNT else list(GENERIC_PROBES)


def listed_names(payload: Any) -> list[str]:
    """Model ids of a `GET /models` reply (`{"data": [{"id": ...}, ...]}`); ValueError if malformed.

    >>> listed_names({"object": "list", "data": [{"id": "runs/x/m1", "object": "model"}]})
    ['runs/x/m1']
    >>> listed_names({"models": []})
    Traceback (most recent call last):
    ...
    ValueError: no 'data' list
    """
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise ValueError("no 'data' list")
    return [entry["id"] for entry in data if isinstance(entry, dict) and isinstance(entry.get("id"), str)]


def listing_problem(names: list[str], name: str, models_url: str) -> str | None:
    """None when `name` is listed; else why the server is not serving it.

    >>> listing_problem(["/runs/a/m2", "other"], "/runs/a/m2", "http://h/v1/models") is None
    True
    >>> print(listing_problem(["smollm2.gguf"], "/runs/a/m2", "http://h/v1/models"))
    http://h/v1/models lists only 'smollm2.gguf', not '/runs/a/m2': that server holds another model ...
    """
    if name in names:
        return None
    if len(names) == 1:
        held = f"lists only {names[0]!r}, not {name!r}: that server holds another model"
    else:
        shown = ", ".join(repr(n) for n in names[:5]) + (" …" if len(names) > 5 else "")
        held = f"does not list {name!r} (it lists {shown})"
    return (
        f"{models_url} {held} (servers such as llama.cpp's would answer for it anyway). Serve the model "
        f"under that name (vllm serve DIR --served-model-name NAME; llama.cpp: --alias NAME) and rerun; "
        "backend.check_model: off skips this check"
    )


def agree(server_text: str, local_text: str) -> bool:
    """Two greedy answers agree when their first PROBE_WORDS words are equal (spacing aside).

    >>> agree(" Red, green and blue.", "Red, green  and blue."), agree("Red", "Blue")
    (True, False)
    >>> agree("one two three four five six seven eight nine", "one two three four five six seven eight ten")
    True
    """
    return server_text.split()[:PROBE_WORDS] == local_text.split()[:PROBE_WORDS]


def fingerprint_problem(
    name: str, model_dir: str, prompts: list[str], server: list[str], local: list[str]
) -> str | None:
    """None when most probes agree; else the first difference, quoted.

    >>> prompts = ["p1", "p2", "p3"]
    >>> fingerprint_problem("m", "/r/m1", prompts, ["a b", "c", "d"], ["a b", "c", "x"]) is None
    True
    >>> print(fingerprint_problem("m", "/r/m1", prompts, ["a", "b", "c"], ["a", "x", "y"]))
    model 'm' answers 2 of 3 greedy probes unlike /r/m1; e.g. 'p2': server 'b', local 'x'. ...
    """
    differing = [i for i, (s, t) in enumerate(zip(server, local, strict=True)) if not agree(s, t)]
    if 2 * len(differing) <= len(server):
        return None
    first = differing[0]
    return (
        f"model {name!r} answers {len(differing)} of {len(server)} greedy probes unlike {model_dir}; "
        f"e.g. {prompts[first][:80]!r}: server {server[first][:80]!r}, local {local[first][:80]!r}. The server "
        "holds other weights (or decodes in another precision): serve this model dir, or set "
        "backend.check_model: listed"
    )


class LocalProbes:
    """The probe prompts and the local model dir's greedy answers to them (computed once, on first use)."""

    def __init__(self, model_dir: str, prompts: list[str], model: ModelSection, backend: BackendSection) -> None:
        self.model_dir = model_dir
        self.prompts = prompts
        self._settings = (model, backend)
        self._answers: list[str] | None = None

    def items(self) -> list[GenItem]:
        return [GenItem(f"probe{i}", user(prompt), 0) for i, prompt in enumerate(self.prompts)]

    def answers(self) -> list[str]:
        if self._answers is None:
            from srlm.backends.hf import HFEngine

            engine = HFEngine(self.model_dir, *self._settings)
            try:
                self._answers = [str(text) for text in engine.generate_batch(self.items(), PROBE_PARAMS)]
            finally:
                engine.close()
        return self._answers


def served_model(cfg: Config, model_dir: str) -> str:
    """The name sent for a stage's model: `backend.model`, else the absolute path of the model
    dir, symlinks resolved, however the run dir was typed (eval's judge model keeps its name)."""
    if model_dir == cfg.eval.judge_model:
        return model_dir
    return cfg.backend.model or str(Path(model_dir).resolve())


def cache_dir(cfg: Config) -> str:
    return cfg.backend.cache or str(Path(cfg.loop.run_dir) / "openai_cache")


def local_probes(cfg: Config, model_dir: str) -> LocalProbes | None:
    """The model dir's probe answers for `check_model: fingerprint` (None: not asked, or no local dir)."""
    if cfg.backend.check_model != "fingerprint" or not Path(model_dir).is_dir():
        return None
    return LocalProbes(model_dir, probe_prompts(cfg.ift_file), cfg.model, cfg.backend)
