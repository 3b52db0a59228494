"""Generation with Hugging Face transformers: batched, left-padded, KV-cached, per-row seeds.

`model.generate` does the decoding. Sampling happens in `RowSeededSampler`, a logits
processor that draws each row's token with uniforms from that row's own seeded generator and
hands greedy decoding a one-hot choice; so a row's sample depends on its seed, not on which rows
share its batch or how many were drawn before it. Rows of a batch with the same prompt (the N candidates
of a prompt, the k judge samples of an answer) share one prefill: the prompt's KV cache is
computed once and copied to each of its rows (docs/performance.md measures what it saves).
The model loads once, on first use, and stays loaded across the stages of an iteration. A
prompt that leaves no room for `max_new_tokens` in the model's context (`max_position_embeddings`)
is not generated: it gets an empty text, which the stage counts (an empty answer, an unparsed
judgment), and a warning names it. A text whose new tokens hold no end of sequence stopped at
`max_new_tokens` and comes back marked `truncated` (`srlm.backends.base.Completion`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from srlm.backends.base import Completion, GenItem, SamplingParams
from srlm.models.loading import check_vocab, default_device, load_model, load_tokenizer

if TYPE_CHECKING:
    import torch

    from srlm.config import BackendSection, ModelSection


class RowSeededSampler:
    """Temperature + top-p sampling with one random stream per row (a transformers LogitsProcessor).

    Each row draws its uniforms for all steps up front from its own seeded `torch.Generator`;
    a step then samples every row at once by inverting its cumulative distribution
    (`searchsorted`), instead of one `torch.multinomial` call per row.
    """

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float, device: Any, steps: int) -> None:
        import torch
        from transformers import TemperatureLogitsWarper, TopPLogitsWarper

        draws = [torch.rand(steps, generator=torch.Generator().manual_seed(seed)) for seed in seeds]
        self.uniforms = torch.stack(draws, dim=1).to(device)  # (steps, rows)
        self.step = 0
        self.warpers: list[Any] = [TemperatureLogitsWarper(temperature)]
        if top_p < 1.0:
            self.warpers.append(TopPLogitsWarper(top_p))

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        for warper in self.warpers:
            scores = warper(input_ids, scores)
        cdf = torch.softmax(scores.float(), dim=-1).cumsum(dim=-1)
        total = cdf[:, -1]
        # Strictly below the total (a rounded product could reach it), so some token's interval holds it.
        target = torch.minimum(self.uniforms[self.step] * total, torch.nextafter(total, torch.zeros_like(total)))
        self.step += 1
        # `right=True`: a token with zero probability (cut by top-p) has an empty interval.
        choice = torch.searchsorted(cdf, target.unsqueeze(1), right=True)
        onehot = torch.full_like(scores, float("-inf"))
        onehot.scatter_(1, choice, 0.0)
        return onehot


class HFEngine:
    """The `Engine` for a local or hub model through transformers."""

    reproducible = True  # every sequence samples from its own seed in fixed batches

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
        # Rows of a batch with the same prompt (N candidates, k judge samples) share one prefill.
        self.share_prefill = True
        self.attn_implementation = backend.attn_implementation
        self._encoded: dict[tuple[tuple[str, str], ...], list[int]] = {}

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = load_model(self.model_path, self.model_settings, self.device).eval()
            if self.attn_implementation:
                self._model.set_attn_implementation(self.attn_implementation)
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

    def context_length(self) -> int | None:
        """Positions the model was built for (prompt + new tokens); None when its config does not say."""
        value = getattr(self.model.config, "max_position_embeddings", None)
        return value if isinstance(value, int) and value > 0 else None

    def generate_batch(self, batch: Sequence[GenItem], params: SamplingParams) -> list[str]:
        # Past its context a model with rotary positions writes garbage without any error.
        context = self.context_length()
        room = None if context is None else context - params.max_new_tokens
        fits = [i for i, item in enumerate(batch) if room is None or len(self.encode(item)) <= room]
        if len(fits) < len(batch):
            self._warn_too_long([item for i, item in enumerate(batch) if i not in fits], context, params)
        texts = self._generate([batch[i] for i in fits], params) if fits else []
        by_index = dict(zip(fits, texts, strict=True))
        return [by_index.get(i, "") for i in range(len(batch))]

    def _warn_too_long(self, skipped: list[GenItem], context: int | None, params: SamplingParams) -> None:
        from srlm.console import console

        longest = max(len(self.encode(item)) for item in skipped)
        ids = ", ".join(item.id for item in skipped[:3]) + (", ..." if len(skipped) > 3 else "")
        console.print(
            f"[yellow]{self.model_path}: {len(skipped)} prompt(s) too long for the context of {context} tokens "
            f"with max_new_tokens={params.max_new_tokens} (longest {longest} tokens) get an empty output, "
            f"counted by the stage: {ids}[/yellow]"
        )

    def _generate(self, batch: Sequence[GenItem], params: SamplingParams) -> list[Completion]:
        import torch
        from transformers import LogitsProcessorList

        rows = [tuple(self.encode(item)) for item in batch]
        prompts = list(dict.fromkeys(rows))  # the distinct prompts, in first-seen order
        index = {prompt: i for i, prompt in enumerate(prompts)}
        inputs = self.tokenizer.pad([{"input_ids": list(p)} for p in prompts], padding=True, return_tensors="pt")
        inputs = inputs.to(self.device)
        expand = torch.tensor([index[row] for row in rows], device=self.device)
        processors = LogitsProcessorList()
        if params.temperature > 0:
            seeds = [item.seed for item in batch]
            processors.append(
                RowSeededSampler(seeds, params.temperature, params.top_p, self.device, params.max_new_tokens)
            )
        with torch.inference_mode():
            # A 1-token prompt would leave a row of pure padding in the shared prefill.
            shared = self.share_prefill and len(prompts) < len(rows) and min(map(len, prompts)) > 1
            cache: dict[str, Any] = (
                {"cache": self._shared_prefill(inputs, expand, params.max_new_tokens)}
                if shared
                else {"cache_implementation": self.cache_implementation}
            )
            output = self.model.generate(
                input_ids=inputs["input_ids"][expand],
                attention_mask=inputs["attention_mask"][expand],
                max_new_tokens=params.max_new_tokens,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                logits_processor=processors,
                eos_token_id=self._eos_ids(),
                pad_token_id=self.tokenizer.pad_token_id,
                **cache,
            )
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        # A row that never produced an end of sequence stopped at max_new_tokens: cut off.
        ended = torch.isin(new_tokens, torch.tensor(self._eos_ids(), device=new_tokens.device)).any(dim=1)
        return [Completion(text.strip(), not bool(done)) for text, done in zip(texts, ended.tolist(), strict=True)]

    def _shared_prefill(self, inputs: Any, expand: torch.Tensor, max_new_tokens: int) -> Any:
        """KV cache of each distinct prompt but its last token, computed once and copied to every row using it.

        `generate` then prefills only the last prompt token per row. Each row still samples from its
        own seed; the texts equal those of a separate prefill per row (tests/integration/backends/test_hf_engine.py).
        """
        from transformers import DynamicCache, StaticCache

        ids, mask = inputs["input_ids"], inputs["attention_mask"]
        config = self.model.config.get_text_config(decoder=True)
        cache: Any = (
            StaticCache(config=config, max_cache_len=ids.shape[1] + max_new_tokens)
            if self.cache_implementation == "static"
            else DynamicCache(config=config)
        )
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding: as `generate` numbers them
        self.model(
            input_ids=ids[:, :-1],
            attention_mask=mask[:, :-1],
            position_ids=positions[:, :-1],
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        cache.reorder_cache(expand)
        return cache

    def close(self) -> None:
        self._model = None
        self._encoded.clear()
