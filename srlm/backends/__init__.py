"""Generation engines: every generating stage asks one of these for texts.

    base.py      the Engine protocol, GenItem / SamplingParams, per-row seeds, batch planning
    hf.py        in-process transformers `generate` (HFEngine); parallel.py: several worker processes
    openai.py    an OpenAI-compatible chat-completions server (retries, cache, model check)
    server.py    servers srlm starts and stops itself (vLLM, SGLang, TGI …); served.py, retry.py: shared parts

`engine_for(cfg, model_dir)` builds the one the config asks for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from srlm.backends.base import Engine

if TYPE_CHECKING:
    from srlm.config import Config


@contextmanager
def engine_for(cfg: Config, model_dir: str) -> Iterator[Engine]:
    """One engine (one model load, or one server's model) serves all generation stages of an iteration."""
    engine: Engine
    if cfg.backend.engine == "server":
        from srlm.backends.server import ServerEngine

        engine = ServerEngine.launch(cfg, model_dir)  # starts the servers; close() stops them
    elif cfg.backend.engine == "openai":
        from srlm.backends.openai import OpenAIEngine

        engine = OpenAIEngine.for_model(cfg, model_dir)  # checks the server serves it before sending work
    elif cfg.backend.num_processes > 1:
        from srlm.backends.parallel import ParallelHFEngine

        engine = ParallelHFEngine(model_dir, cfg.model, cfg.backend)  # worker processes, whole batches each
    else:
        from srlm.backends.hf import HFEngine

        engine = HFEngine(model_dir, cfg.model, cfg.backend)
    try:
        yield engine
    finally:
        engine.close()
