"""The HF backend: per-row seeds, batch planning, and a real generate on the tiny model."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
import torch

from srlm.backends.base import GenItem, SamplingParams, user
from srlm.backends.hf import HFEngine, RowSeededSampler
from srlm.config import BackendSection, ModelSection


def test_a_rows_sample_depends_on_its_seed_not_its_neighbours() -> None:
    torch.manual_seed(0)
    scores = torch.randn(3, 50)
    alone = RowSeededSampler([7], 1.0, 0.9, "cpu", steps=4)(torch.zeros(1, 1), scores[:1].clone())
    batch = RowSeededSampler([7, 8, 9], 1.0, 0.9, "cpu", steps=4)(torch.zeros(3, 1), scores.clone())
    assert torch.equal(alone[0], batch[0])
    assert (batch == 0).sum(dim=1).tolist() == [1, 1, 1]  # exactly one token allowed per row


def test_sampler_respects_top_p() -> None:
    scores = torch.tensor([[10.0, 9.0, -5.0, -5.0]])
    samplers = [RowSeededSampler([s], 1.0, 0.5, "cpu", steps=1) for s in range(50)]
    picks = {int(sampler(torch.zeros(1, 1), scores.clone()).argmax()) for sampler in samplers}
    assert picks == {0}


def test_sampler_draws_each_token_with_its_probability() -> None:
    # 4,000 rows, one step: the share of each token matches softmax(scores / T) within sampling error.
    scores = torch.tensor([[2.0, 1.0, 0.0, -1.0, -30.0]]).repeat(4000, 1)
    sampler = RowSeededSampler(list(range(4000)), 0.7, 1.0, "cpu", steps=1)
    picks = sampler(torch.zeros(4000, 1), scores.clone()).argmax(dim=1)
    share = torch.bincount(picks, minlength=5).double() / 4000
    expected = torch.softmax(scores[0].double() / 0.7, dim=0)
    assert torch.allclose(share, expected, atol=4 * (0.25 / 4000) ** 0.5)  # 4 standard errors at most
    assert share[4] == 0  # a token of probability ~1e-19 is never drawn


def test_a_rows_draws_follow_its_own_stream_step_by_step() -> None:
    scores = torch.zeros(2, 10)  # uniform: each step's pick is floor(10 * u) of the row's own uniform
    sampler = RowSeededSampler([3, 4], 1.0, 1.0, "cpu", steps=3)
    picks = [int(sampler(torch.zeros(2, 1), scores.clone())[0].argmax()) for _ in range(3)]
    own = torch.rand(3, generator=torch.Generator().manual_seed(3))
    assert picks == [int(10 * u) for u in own.tolist()]


def test_generation_is_reproducible_and_batches_are_fixed(tiny_model_dir: Path) -> None:
    engine = HFEngine(str(tiny_model_dir), ModelSection(path=str(tiny_model_dir)), BackendSection(batch_size=3))
    items = [GenItem(f"r{i}", user("Say the words apple" + " x" * i), seed=i) for i in range(7)]
    params = SamplingParams(temperature=1.0, top_p=0.9, max_new_tokens=8)
    plan = engine.plan_batches(items)
    assert [len(b) for b in plan] == [3, 3, 1]
    assert plan == engine.plan_batches(list(reversed(items)))
    first = [engine.generate_batch(batch, params) for batch in plan]
    again = [engine.generate_batch(batch, params) for batch in plan]
    assert first == again
    reseeded = [GenItem(i.id, i.messages, i.seed + 100) for i in plan[0]]
    assert engine.generate_batch(reseeded, params) != first[0]
    greedy = engine.generate_batch(plan[0], SamplingParams(0.0, 1.0, 8))
    assert all(isinstance(text, str) for text in greedy)


@pytest.mark.parametrize("kv_cache", ["static", "dynamic"])
def test_rows_with_one_prompt_share_its_prefill_and_sample_the_same(tiny_model_dir: Path, kv_cache: str) -> None:
    prompts = [user("Say the words apple" + " x" * i) for i in range(3)]
    items = [GenItem(f"r{i}-{s}", prompts[i], seed=10 * i + s) for i in range(3) for s in range(3)]
    params = SamplingParams(temperature=1.0, top_p=0.9, max_new_tokens=8)
    backend = BackendSection(batch_size=16, kv_cache=kv_cache)  # type: ignore[arg-type]
    engine = HFEngine(str(tiny_model_dir), ModelSection(path=str(tiny_model_dir)), backend)
    engine.share_prefill = False
    separate = engine.generate_batch(items, params)
    engine.share_prefill = True
    with mock.patch.object(engine, "_shared_prefill", wraps=engine._shared_prefill) as prefill:
        assert engine.generate_batch(items, params) == separate
    assert prefill.call_count == 1 and prefill.call_args.args[0]["input_ids"].shape[0] == 3  # 3 prompts, 9 rows
    assert len(set(separate[:3])) > 1  # a prompt's rows still sample apart, each from its own seed


def test_the_attention_kernel_is_the_configured_one_and_samples_the_same(tiny_model_dir: Path) -> None:
    items = [
        GenItem(f"r{i}-{s}", user("Say the words apple" + " x" * i), seed=10 * i + s)
        for i in range(3)
        for s in range(2)
    ]
    params = SamplingParams(temperature=1.0, top_p=0.9, max_new_tokens=8)
    texts, kernels = {}, {}
    for kernel in (None, "eager", "sdpa"):
        backend = BackendSection(batch_size=16, attn_implementation=kernel)  # type: ignore[arg-type]
        engine = HFEngine(str(tiny_model_dir), ModelSection(path=str(tiny_model_dir)), backend)
        texts[kernel] = engine.generate_batch(items, params)
        kernels[kernel] = engine.model.config._attn_implementation
    assert kernels == {None: "sdpa", "eager": "eager", "sdpa": "sdpa"}  # null: the model's default
    assert texts["eager"] == texts["sdpa"] == texts[None]  # the same math: a speed setting only
