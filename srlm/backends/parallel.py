"""Data-parallel generation with transformers: N worker processes, each with its own model copy.

    backend: {engine: hf, num_processes: 2}        # or: srlm run --set backend.num_processes=2

The parent plans the batches exactly as `HFEngine` does (it loads the tokenizer, never the
model) and deals out the batches still to run: the i-th goes to worker i mod N. A batch is never
split, so each row is generated in the same batch as in a 1-process run (same padding, same
shared prefill, same per-row seeds) and the texts are the same; the stage merges finished
batches by row id into its partial file, so an interrupted stage resumes as usual. On CPU each
worker gets 1/N of torch's threads; on a CUDA machine worker i uses GPU i mod (GPU count).
Workers start on first use and keep their model loaded until the engine closes (one iteration's
generation stages), as `HFEngine` keeps its model.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from srlm.backends.base import BatchDone, GenItem, SamplingParams
from srlm.backends.hf import HFEngine
from srlm.console import stage_log_file

if TYPE_CHECKING:
    from srlm.config import BackendSection, ModelSection


class WorkerError(RuntimeError):
    """A generation worker that failed or died; the message carries its traceback or exit code."""


def _serve(
    model_path: str,
    model_settings: ModelSection,
    backend: BackendSection,
    threads: int | None,
    tasks: Any,
    results: Any,
    output: str | None = None,
) -> None:
    """A worker's life: load the model on first use, answer (key, batch, params) tasks until None.

    `output`: a log file for whatever the libraries print in this process (errors come back as results).
    """
    import torch

    if output is not None:
        log_file = os.open(output, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(log_file, 1)
        os.dup2(log_file, 2)
    if threads is not None:
        torch.set_num_threads(threads)
    engine = HFEngine(model_path, model_settings, backend)
    while (task := tasks.get()) is not None:
        key, batch, params = task
        try:
            results.put((key, engine.generate_batch(batch, params), None))
        except Exception:
            results.put((key, None, traceback.format_exc()))


@dataclass
class _Worker:
    process: Any
    tasks: Any


class ParallelHFEngine:
    """The `Engine` for `backend.num_processes` > 1 with the HF backend."""

    reproducible = True  # whole planned batches: the texts of a 1-process run

    def __init__(self, model_path: str, model_settings: ModelSection, backend: BackendSection) -> None:
        self.model_path = model_path
        self.model_settings = model_settings
        self.backend = backend
        self.num_processes = backend.num_processes
        self.planner = HFEngine(model_path, model_settings, backend)  # tokenizer only: plans, never generates
        self.batches_per_worker = [0] * self.num_processes
        self._context = multiprocessing.get_context("spawn")  # fork and torch's threads do not mix
        self._results: Any = None
        self._workers: list[_Worker] = []

    def plan_batches(self, items: Sequence[GenItem]) -> list[list[GenItem]]:
        return self.planner.plan_batches(items)

    def generate_batch(self, batch: Sequence[GenItem], params: SamplingParams) -> list[str]:
        texts: list[str] = []
        self.generate_batches([batch], params, lambda _, answer: texts.extend(answer))
        return texts

    def generate_batches(
        self, batches: Sequence[Sequence[GenItem]], params: SamplingParams, on_done: BatchDone
    ) -> None:
        """Batch i to worker i mod N; `on_done` as each batch comes back, in whatever order."""
        workers = self._start()
        try:
            for key, batch in enumerate(batches):
                workers[key % len(workers)].tasks.put((key, list(batch), params))
                self.batches_per_worker[key % len(workers)] += 1
            for _ in batches:
                key, texts = self._next_result()
                on_done(batches[key], texts)
        except BaseException:
            self.close()  # tasks of this call may still be queued: start afresh next time
            raise

    def _start(self) -> list[_Worker]:
        if self._workers:
            return self._workers
        device = self.planner.device
        threads = None
        if device == "cpu":
            import torch

            threads = max(1, torch.get_num_threads() // self.num_processes)
        self._results = self._context.Queue()
        for index in range(self.num_processes):
            backend = self.backend.model_copy(update={"device": self._device(device, index), "num_processes": 1})
            tasks = self._context.Queue()
            output = stage_log_file()
            args = (
                self.model_path,
                self.model_settings,
                backend,
                threads,
                tasks,
                self._results,
                output and str(output),
            )
            process = self._context.Process(target=_serve, args=args, name=f"srlm-generate-{index}", daemon=True)
            process.start()
            self._workers.append(_Worker(process, tasks))
        return self._workers

    @staticmethod
    def _device(device: str, index: int) -> str:
        if device != "cuda":
            return device
        import torch

        return f"cuda:{index % max(torch.cuda.device_count(), 1)}"

    def _next_result(self) -> tuple[int, list[str]]:
        while True:
            try:
                key, texts, error = self._results.get(timeout=1.0)
            except queue.Empty:
                for index, worker in enumerate(self._workers):
                    if worker.process.exitcode is not None:
                        raise WorkerError(
                            f"generation worker {index} of {self.model_path} exited with code {worker.process.exitcode}"
                        ) from None
                continue
            if error is not None:
                raise WorkerError(f"generation worker failed on {self.model_path}:\n{error}")
            return key, texts

    def close(self) -> None:
        for worker in self._workers:
            if worker.process.is_alive():
                worker.tasks.put(None)
        for worker in self._workers:
            worker.process.join(timeout=30)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
        self._workers = []
        self._results = None
        self.planner.close()
