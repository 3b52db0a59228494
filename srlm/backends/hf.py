"""Generation with Hugging Face transformers: batched, left-padded, KV-cached, per-row seeds.

`model.generate` does the decoding. Sampling happens in `RowSeededSampler`, a logits
processor that draws each row's token from that row's own `torch.Generator` and hands greedy
decoding a one-hot choice; so a row's sample depends on its seed, not on which rows share its
batch or how many were drawn before it. The model loads once, on first use, and stays loaded
across the stages of an iteration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from srlm.backends.base import GenItem, SamplingParams
from srlm.models import check_vocab, default_device, load_model, load_tokenizer

if TYPE_CHECKING:
    import torch

    from srlm.config import BackendSection, ModelSection


class RowSeededSampler:
    """Temperature + top-p sampling with one generator per row (a transformers LogitsProcessor)."""

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float, device: Any) -> None:
        import torch
        from transformers import TemperatureLogitsWarper, TopPLogitsWarper

        self.generators = [torch.Generator(device=device).manual_seed(seed) for seed in seeds]
        self.warpers: list[Any] = [TemperatureLogitsWarper(temperature)]
        if top_p < 1.0:
            self.warpers.append(TopPLogitsWarper(top_p))

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        for warper in self.warpers:
            scores = warper(input_ids, scores)
        probs = torch.softmax(scores.float(), dim=-1)
        choice = torch.cat([torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(self.generators)])
        onehot = torch.full_like(scores, float("-inf"))
        onehot.scatter_(1, choice.unsqueeze(1), 0.0)
        return onehot


class HFEngine:
    """The `Engine` for a local or hub model through transformers."""

    def __init__(self, model_path: str, model_settings: ModelSection, backend: BackendSection) -> None:
        self.model_path = model_path
        self.model_settings = model_settings
        self.batch_size = backend.batch_size
        self.device = default_device(backend.device)
        self.tokenizer = load_tokenizer(model_path, model_settings)
        self.tokenizer.padding_side = "left"
        self._model: Any = None
        # A preallocated cache avoids re-concatenating the KV tensors at every decoding step.
        self.cache_implementation = "static" if backend.kv_cache == "static" else None
        self._encoded: dict[tuple[tuple[str, str], ...], list[int]] = {}

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = load_model(self.model_path, self.model_settings, self.device).eval()
            check_vocab(self._model, self.tokenizer, self.model_path)
        return self._model

    def encode(self, item: GenItem) -> list[int]:
        """Chat-template token ids of an item's messages, cached: the N candidates share one encoding."""
        key = tuple((m["role"], m["content"]) for m in item.messages)
        if key not in self._encoded:
            text = self.tokenizer.apply_chat_template(list(item.messages), tokenize=False, add_generation_prompt=True)
            self._encoded[key] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return self._encoded[key]

    def plan_batches(self, items: Sequence[GenItem]) -> list[list[GenItem]]:
        # Longest first, then by id: similar lengths share a batch (less padding), and the
        # plan depends only on the items, never on which of them are already finished.
        ordered = sorted(items, key=lambda item: (-len(self.encode(item)), item.id))
        return [ordered[i : i + self.batch_size] for i in range(0, len(ordered), self.batch_size)]

    def _eos_ids(self) -> list[int]:
        ids = self.model.generation_config.eos_token_id
        eos = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
        if self.tokenizer.eos_token_id is not None:
            eos.add(self.tokenizer.eos_token_id)
        return sorted(eos)

    def generate_batch(self, batch: Sequence[GenItem], params: SamplingParams) -> list[str]:
        import torch
        from transformers import LogitsProcessorList

        encoded = [{"input_ids": self.encode(item)} for item in batch]
        inputs = self.tokenizer.pad(encoded, padding=True, return_tensors="pt").to(self.device)
        processors = LogitsProcessorList()
        if params.temperature > 0:
            seeds = [item.seed for item in batch]
            processors.append(RowSeededSampler(seeds, params.temperature, params.top_p, self.device))
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                max_new_tokens=params.max_new_tokens,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                logits_processor=processors,
                eos_token_id=self._eos_ids(),
                pad_token_id=self.tokenizer.pad_token_id,
                cache_implementation=self.cache_implementation,
            )
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [text.strip() for text in texts]

    def close(self) -> None:
        self._model = None
        self._encoded.clear()
