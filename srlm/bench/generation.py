"""Generation paths that `srlm bench` compares, on the same prompts with the same sampling settings.

- naive: one `model.generate` call per sequence (batch of 1, default dynamic cache, HF's own
  sampling), the loop public reproductions run;
- batched: plain HF `generate` over `backend.batch_size` rows in input order, left padding,
  dynamic cache, HF's own sampling;
- separate: srlm's HFEngine (static KV cache, length-sorted batch plan, per-row seeds) with its
  shared prefill switched off, so every row prefills its own copy of its prompt;
- engine: srlm's HFEngine as the stages use it (rows with the same prompt share one prefill);
- other_kernel: the engine with the other attention kernel (`backend.attn_implementation`,
  eager <-> sdpa), so the configured one is measured against it.

Throughput counts the new tokens each path actually wrote (its texts re-tokenized, so every
path is counted by one rule; EOS and padding are not counted).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from srlm.backends.base import GenItem, SamplingParams, row_seed, user
from srlm.bench.timing import BenchSizes, line_fit, measure, ratio
from srlm.config import Config
from srlm.method.judging import load_template, render_template

if TYPE_CHECKING:
    from srlm.backends.hf import HFEngine

PATHS = ("naive", "batched", "separate", "engine", "other_kernel")


@dataclass(frozen=True)
class Workload:
    """World prompts with their N candidate rows and N answers × k judge rows, per prompt."""

    prompts: list[str]
    candidates: list[list[GenItem]]
    judge: list[list[GenItem]]
    candidate_params: SamplingParams
    judge_params: SamplingParams

    def first(self, n: int) -> tuple[list[GenItem], list[GenItem]]:
        """Candidate rows and judge rows of the first `n` prompts."""
        return [i for rows in self.candidates[:n] for i in rows], [i for rows in self.judge[:n] for i in rows]


def make_workload(cfg: Config, n_prompts: int) -> Workload:
    """World prompts, and the world's judge prompt on the world's sampled answers, for every model.

    One workload for every model keeps the ratios comparable across models. A real model's judge
    prompt (the shipped rubric) is ~5x longer (297 vs 59 SmolLM2 tokens), which gives the shared
    prefill more to save.
    """
    template = load_template("world:judge")
    from srlm.world import parse, sample_prompts
    from srlm.world.answers import sample_answer

    prompts = sample_prompts(n_prompts, seed=cfg.loop.seed, exclude=set())
    rng = random.Random(cfg.loop.seed)
    candidates, judge = [], []
    for i, prompt in enumerate(prompts):
        ids = [f"p{i:03d}-c{j}" for j in range(cfg.candidates.n)]
        candidates.append([GenItem(cid, user(prompt), row_seed(cfg.loop.seed, "candidates", cid)) for cid in ids])
        instruction = parse(prompt)
        assert instruction is not None, prompt  # the world's prompt generator writes only valid prompts
        rows = []
        for cid in ids:
            answer = " ".join(sample_answer(instruction, rng)[0])
            messages = user(render_template(template, prompt=prompt, response=answer))
            for s in range(cfg.judge.samples):
                jid = f"{cid}-j{s}"
                rows.append(GenItem(jid, messages, row_seed(cfg.loop.seed, "judge", jid)))
        judge.append(rows)
    c, j = cfg.candidates, cfg.judge
    return Workload(
        prompts,
        candidates,
        judge,
        SamplingParams(c.temperature, c.top_p, c.max_new_tokens),
        SamplingParams(j.temperature, j.top_p, j.max_new_tokens),
    )


def engine_texts(engine: HFEngine, items: Sequence[GenItem], params: SamplingParams) -> list[str]:
    return [text for batch in engine.plan_batches(items) for text in engine.generate_batch(batch, params)]


def separate_texts(engine: HFEngine, items: Sequence[GenItem], params: SamplingParams) -> list[str]:
    engine.share_prefill = False
    try:
        return engine_texts(engine, items, params)
    finally:
        engine.share_prefill = True


def kernel_of(engine: HFEngine) -> str:
    return str(engine.model.config._attn_implementation)


def other_kernel_texts(engine: HFEngine, items: Sequence[GenItem], params: SamplingParams) -> list[str]:
    configured = kernel_of(engine)
    engine.model.set_attn_implementation("sdpa" if configured == "eager" else "eager")
    try:
        return engine_texts(engine, items, params)
    finally:
        engine.model.set_attn_implementation(configured)


def _hf_sampling(engine: HFEngine, params: SamplingParams) -> dict[str, Any]:
    # The engine's stopping rule and distribution (no top-k), HF's own sampler.
    sampling = {"do_sample": True, "temperature": params.temperature, "top_p": params.top_p, "top_k": 0}
    return {
        **(sampling if params.temperature > 0 else {"do_sample": False}),
        "max_new_tokens": params.max_new_tokens,
        "eos_token_id": engine._eos_ids(),
        "pad_token_id": engine.tokenizer.pad_token_id,
    }


def batched_texts(engine: HFEngine, items: Sequence[GenItem], params: SamplingParams) -> list[str]:
    import torch

    torch.manual_seed(0)
    tokenizer, texts = engine.tokenizer, []
    for start in range(0, len(items), engine.batch_size):
        chunk = items[start : start + engine.batch_size]
        prompts = [
            tokenizer.apply_chat_template(list(i.messages), tokenize=False, add_generation_prompt=True) for i in chunk
        ]
        inputs = tokenizer(prompts, padding=True, return_tensors="pt", add_special_tokens=False).to(engine.device)
        with torch.inference_mode():
            output = engine.model.generate(**inputs, **_hf_sampling(engine, params))
        texts += tokenizer.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    return texts


def naive_texts(engine: HFEngine, items: Sequence[GenItem], params: SamplingParams) -> list[str]:
    import torch

    torch.manual_seed(0)
    tokenizer, texts = engine.tokenizer, []
    for item in items:
        encoded: Any = tokenizer.apply_chat_template(
            list(item.messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        inputs = encoded.to(engine.device)
        with torch.inference_mode():
            output = engine.model.generate(**inputs, **_hf_sampling(engine, params))
        texts += tokenizer.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    return texts


def token_counter(engine: HFEngine) -> Callable[[list[str]], int]:
    def count(texts: list[str]) -> int:
        encoded = engine.tokenizer([t.strip() for t in texts], add_special_tokens=False)["input_ids"]
        return sum(len(ids) for ids in encoded)

    return count


def _part(timed: dict[str, dict[str, Any]], part: str, prompts: dict[str, int]) -> dict[str, Any]:
    rows = {path: timed[f"{path}/{part}"] for path in PATHS}
    return _summary(rows, prompts) | {"runs": {path: row["runs"] for path, row in rows.items()}}


def _summary(rows: dict[str, dict[str, Any]], prompts: dict[str, int]) -> dict[str, Any]:
    rate = {path: row["new_tokens"] / row["seconds"] for path, row in rows.items()}
    return {
        "tokens_per_second": {path: round(r, 1) for path, r in rate.items()},
        "seconds": {path: round(row["seconds"], 4) for path, row in rows.items()},
        "seconds_per_prompt": {path: round(row["seconds"] / prompts[path], 4) for path, row in rows.items()},
        "new_tokens": {path: row["new_tokens"] for path, row in rows.items()},
        "engine_vs_naive": ratio(rate["engine"], rate["naive"]),
        "engine_vs_batched": ratio(rate["engine"], rate["batched"]),
        "shared_vs_separate": ratio(rate["engine"], rate["separate"]),
        "kernel_vs_other": ratio(rate["engine"], rate["other_kernel"]),
    }


def generation_section(cfg: Config, path: str, workload: Workload, sizes: BenchSizes) -> dict[str, Any]:
    """Candidates and judge samples of the same prompts through the four paths."""
    from srlm.backends.hf import HFEngine

    engine = HFEngine(path, cfg.model, cfg.backend)
    cand, judge = workload.first(sizes.prompts)
    naive_cand, naive_judge = workload.first(sizes.naive_prompts)
    cp, jp = workload.candidate_params, workload.judge_params
    runners: dict[str, Callable[[HFEngine, Sequence[GenItem], SamplingParams], list[str]]] = {
        "naive": naive_texts,
        "batched": batched_texts,
        "separate": separate_texts,
        "engine": engine_texts,
        "other_kernel": other_kernel_texts,
    }
    inputs = {"candidates": (cand, cp), "judge": (judge, jp)}
    naive_inputs = {"candidates": (naive_cand, cp), "judge": (naive_judge, jp)}
    paths: dict[str, Callable[[], Any]] = {
        f"{name}/{part}": partial(run, engine, items, params)
        for name, run in runners.items()
        for part, (items, params) in (naive_inputs if name == "naive" else inputs).items()
    }
    timed = measure(paths, sizes.repeats, token_counter(engine))
    prompts = {p: sizes.naive_prompts if p == "naive" else sizes.prompts for p in PATHS}
    combined = {
        p: {
            "seconds": timed[f"{p}/candidates"]["seconds"] + timed[f"{p}/judge"]["seconds"],
            "new_tokens": timed[f"{p}/candidates"]["new_tokens"] + timed[f"{p}/judge"]["new_tokens"],
        }
        for p in PATHS
    }
    judge_tokens = sum(len(engine.encode(item)) for item in judge) / max(len(judge), 1)
    kernel = kernel_of(engine)
    engine.close()
    return {
        "candidates": _part(timed, "candidates", prompts),
        "judge": _part(timed, "judge", prompts),
        "combined": _summary(combined, prompts),
        "setup": _setup(cfg, sizes, judge_tokens, kernel),
    }


def _setup(cfg: Config, sizes: BenchSizes, judge_prompt_tokens: float, kernel: str) -> dict[str, str]:
    c, j, n = cfg.candidates, cfg.judge, sizes.prompts
    return {
        "candidates": f"{n} world prompts × N={c.n}, max_new_tokens {c.max_new_tokens}, T {c.temperature}, "
        f"top_p {c.top_p}; naive on the first {sizes.naive_prompts}; batch_size {cfg.backend.batch_size}",
        "judge": f"{n} prompts × N={c.n} world answers × k={j.samples}, judge prompt ~{judge_prompt_tokens:.0f} "
        f"tokens, max_new_tokens {j.max_new_tokens}, T {j.temperature}; naive on the first {sizes.naive_prompts}",
        "combined": "candidates + judge: all new tokens ÷ all seconds of each path",
        "prefill": "HFEngine, share_prefill off (each row prefills its prompt) vs on (one prefill per distinct "
        "prompt, its KV cache copied to the rows)",
        "kernel": f"HFEngine with its attention kernel, {kernel}, vs the other one "
        f"({'sdpa' if kernel == 'eager' else 'eager'}; backend.attn_implementation)",
        "paths": "naive: generate per sequence, batch 1, dynamic cache; batched: HF generate, left padding, "
        "dynamic cache, input order; engine: HFEngine, static cache, length-sorted batches, shared prefill",
    }


def with_sizes(cfg: Config, *, n: int, k: int) -> Config:
    """A copy of `cfg` with N candidates per prompt and k judge samples per candidate.

    `model_copy(update=...)` skips validation: the N sweep may go below the config's minimum N of 2.
    """
    candidates = cfg.candidates.model_copy(update={"n": n})
    judge = cfg.judge.model_copy(update={"samples": k})
    return cfg.model_copy(update={"candidates": candidates, "judge": judge}, deep=True)


def _curve(engine: HFEngine, points: dict[int, tuple[Workload, int]], repeats: int) -> dict[str, Any]:
    """Engine seconds for candidates + judge of each point's (workload, first prompts); a line through them."""

    def run(load: Workload, n_prompts: int) -> list[str]:
        cand, judge = load.first(n_prompts)
        return engine_texts(engine, cand, load.candidate_params) + engine_texts(engine, judge, load.judge_params)

    timed = measure({str(x): partial(run, *point) for x, point in points.items()}, repeats)
    xs = list(points)
    seconds = [timed[str(x)]["seconds"] for x in xs]
    rows = [sum(len(part) for part in load.first(n_prompts)) for load, n_prompts in points.values()]
    fit = line_fit(xs, seconds)
    return {
        "values": xs,
        "rows": rows,
        "seconds": [round(s, 4) for s in seconds],
        "seconds_per_row": [round(s / r, 5) for s, r in zip(seconds, rows, strict=True)],
        "runs": {str(x): timed[str(x)]["runs"] for x in xs},
        "fit_slope_seconds": fit["slope"],
        "fit_intercept_seconds": fit["intercept"],
        "fit_r2": fit["r2"],
    }


def scaling_section(cfg: Config, path: str, workload: Workload, sizes: BenchSizes) -> dict[str, Any]:
    """Engine seconds for candidates + judge at 4 prompt counts, then at 4 N and at 4 k on fixed prompts.

    A line through each sweep (seconds vs prompts, N, k). Every point of the N and k sweeps is
    `make_workload` on a copy of the config with that N or k: the same first world prompts.
    """
    from srlm.backends.hf import HFEngine

    engine = HFEngine(path, cfg.model, cfg.backend)
    curve = _curve(engine, {n: (workload, n) for n in sizes.scaling}, sizes.repeats)
    n_cfg, k_cfg, p = cfg.candidates.n, cfg.judge.samples, sizes.sweep_prompts
    n_points = {n: (make_workload(with_sizes(cfg, n=n, k=k_cfg), p), p) for n in sizes.sweep_n}
    n_sweep = _curve(engine, n_points, sizes.repeats)
    k_points = {k: (make_workload(with_sizes(cfg, n=n_cfg, k=k), p), p) for k in sizes.sweep_k}
    k_sweep = _curve(engine, k_points, sizes.repeats)
    engine.close()
    batch = f"batch_size {cfg.backend.batch_size}"
    prompts, seconds = curve["values"], curve["seconds"]
    per_prompt = [s / n for s, n in zip(seconds, prompts, strict=True)]
    n_setup = f"HFEngine, candidates + judge, {p} prompts × N × (1 + k={k_cfg}) sequences, {batch}; seconds vs N"
    k_setup = f"HFEngine, candidates + judge, {p} prompts × N={n_cfg} × (1 + k) sequences, {batch}; seconds vs k"
    return {
        "prompts": prompts,
        "seconds": seconds,
        "seconds_per_prompt": [round(s, 4) for s in per_prompt],
        "runs": curve["runs"],
        "fit_seconds_per_prompt": curve["fit_slope_seconds"],
        "fit_intercept_seconds": curve["fit_intercept_seconds"],
        "fit_r2": curve["fit_r2"],
        "largest_vs_smallest": ratio(per_prompt[-1], per_prompt[0]),
        "setup": f"HFEngine, candidates + judge, {n_cfg * (1 + k_cfg)} sequences per prompt, {batch}; "
        "seconds per prompt at each size",
        "n": {"prompts": p, "k": k_cfg, **n_sweep, "setup": n_setup},
        "k": {"prompts": p, "n": n_cfg, **k_sweep, "setup": k_setup},
    }
