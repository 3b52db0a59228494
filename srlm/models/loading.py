"""Loading and saving Hugging Face causal LMs the way every stage needs them.

Weights load from safetensors only unless `model.allow_pickle` is on (a pickled `*.bin` can run
code when it is loaded), and `trust_remote_code` stays off unless the config turns it on. A model
without a chat template is refused unless `model.chat_template` provides one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srlm.data.io import write_error

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from srlm.config import ModelSection


class ModelError(ValueError):
    """A model or tokenizer that cannot be used as given."""


def resolve_model_path(path: str) -> str:
    """`world:m0` names the built-in world's shipped base model; anything else is returned as is."""
    if path == "world:m0":
        from srlm.world import shipped_m0_path

        return str(shipped_m0_path())
    return path


def _check_local(path: str) -> None:
    # A hub id is "name" or "org/name"; anything else that does not exist is a missing local dir.
    if Path(path).exists():
        if not (Path(path) / "config.json").is_file():
            raise ModelError(f"{path}: not a Hugging Face model dir (no config.json)")
    elif path.startswith((".", "/", "~")) or path.count("/") > 1:
        raise ModelError(f"model dir not found: {path}")


def load_tokenizer(path: str, settings: ModelSection) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    _check_local(path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=settings.trust_remote_code)
    except ValueError as error:
        raise _refusal(path, error) from None
    if settings.chat_template:
        template = settings.chat_template
        tokenizer.chat_template = Path(template).read_text() if Path(template).is_file() else template
    if not tokenizer.chat_template:
        raise ModelError(
            f"{path}: the tokenizer has no chat template; set model.chat_template to a Jinja template "
            "(a file path or the template text)"
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def torch_dtype(name: str) -> Any:
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def load_model(path: str, settings: ModelSection, device: str | None = None) -> PreTrainedModel:
    from transformers import AutoModelForCausalLM

    _check_local(path)
    try:
        model: Any = AutoModelForCausalLM.from_pretrained(
            path,
            dtype=torch_dtype(settings.dtype),
            trust_remote_code=settings.trust_remote_code,
            use_safetensors=None if settings.allow_pickle else True,  # None: safetensors first, else *.bin
        )
    except OSError as error:
        if not settings.allow_pickle and "safetensors" in str(error):
            raise ModelError(
                f"{path}: no safetensors weights; pickled weights (*.bin) can run code when loaded, so they "
                "are refused: convert them to safetensors, or set model.allow_pickle: true if you trust them"
            ) from None
        raise
    except ValueError as error:
        raise _refusal(path, error) from None
    if device:
        model.to(device)
    return model


def _refusal(path: str, error: ValueError) -> Exception:
    """transformers refuses custom model code with a ValueError; say which setting allows it."""
    if "trust_remote_code" not in str(error):
        return error
    return ModelError(
        f"{path}: the model ships its own Python code, which srlm does not run unless "
        "model.trust_remote_code: true (set it only for a model you trust)"
    )


def check_vocab(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, path: str) -> None:
    """A tokenizer whose ids exceed the model's embedding table belongs to another model."""
    embeddings: Any = model.get_input_embeddings()
    rows = embeddings.weight.shape[0]
    if len(tokenizer) > rows:
        raise ModelError(f"{path}: tokenizer has {len(tokenizer)} tokens but the model only {rows} embeddings")


def save_atomically(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    out_dir: Path,
    accept: Callable[[Path], bool] | None = None,
) -> bool:
    """save_pretrained into a temporary dir, then rename: a half-saved model dir never has the final name.

    ``accept`` (optional) checks the saved copy first; when it returns False the copy is removed,
    nothing is renamed and the result is False.
    """
    tmp = out_dir.with_name(out_dir.name + ".saving")
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_error(out_dir, error) from error
    if accept is not None and not accept(tmp):
        shutil.rmtree(tmp, ignore_errors=True)
        return False
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    return True


def default_device(requested: str | None) -> str:
    if requested:
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
