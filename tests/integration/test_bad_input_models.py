"""Bad models and prompts on real transformers objects: refused with the setting to change, or skipped and counted.

Part of the bad-input catalogue (docs/bad-input.md) and the Security section of the README.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from srlm.backends.base import GenItem, SamplingParams, user
from srlm.backends.hf import HFEngine
from srlm.config import BackendSection, ModelSection, config_from_dict
from srlm.data.io import read_rows
from srlm.models.loading import ModelError, load_model, load_tokenizer
from srlm.rundir import RunDir, manifest_path
from srlm.stages import candidates, judge
from srlm.training.common import load_start
from tests.helpers import tiny_config

LONG_PROMPT = "apple " * 1100  # > 1024 positions of the tiny model


def test_a_tokenizer_bigger_than_the_model_s_vocabulary_is_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    other = tmp_path / "small-vocab"
    shutil.copytree(tiny_model_dir, other)
    config = LlamaConfig.from_pretrained(tiny_model_dir)
    config.vocab_size = 100
    LlamaForCausalLM(config).save_pretrained(other, safe_serialization=True)
    cfg = config_from_dict(tiny_config(tmp_path, other))
    with pytest.raises(ModelError, match=r"small-vocab: tokenizer has \d+ tokens but the model only 100 embeddings"):
        load_start(cfg, str(other))


def test_a_prompt_longer_than_the_context_is_skipped_and_named(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = HFEngine(str(tiny_model_dir), ModelSection(path=str(tiny_model_dir)), BackendSection(batch_size=4))
    items = [GenItem("long", user(LONG_PROMPT), 1), GenItem("short", user("Say the words apple"), 2)]
    texts = engine.generate_batch(items, SamplingParams(temperature=0.0, top_p=1.0, max_new_tokens=6))
    assert texts[0] == "" and texts[1] != ""
    err = " ".join(capsys.readouterr().err.split())
    assert "1 prompt(s) too long for the context of 1024 tokens with max_new_tokens=6" in err and ": long" in err
    # The short prompt alone gives the same text: the skipped one did not change its batch's output.
    assert engine.generate_batch(items[1:], SamplingParams(0.0, 1.0, 6)) == texts[1:]
    # A prompt that fits but leaves no room for max_new_tokens is skipped as well.
    tokens = len(engine.encode(items[1]))
    assert engine.generate_batch(items[1:], SamplingParams(0.0, 1.0, 1024 - tokens + 1)) == [""]


def test_too_long_prompts_become_counted_empty_answers_and_unscored_candidates(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    cfg = config_from_dict(tiny_config(tmp_path, tiny_model_dir, candidates={"n": 2}, judge={"samples": 1}))
    rd = RunDir(Path(cfg.loop.run_dir))
    rd.iteration(1).mkdir(parents=True)
    prompts = [{"id": "p-long", "prompt": LONG_PROMPT}, {"id": "p-short", "prompt": "Say the words apple and blue"}]
    rd.artifact(1, "prompts").write_text("".join(json.dumps(p) + "\n" for p in prompts))
    engine = HFEngine(str(tiny_model_dir), cfg.model, cfg.backend)
    candidates.run(cfg, rd, 1, engine)
    rows = {r["id"]: r["response"] for r in read_rows(rd.artifact(1, "candidates"), None)}
    assert rows["p-long-c0"] == rows["p-long-c1"] == ""
    assert json.loads(manifest_path(rd.artifact(1, "candidates")).read_text())["counts"]["empty"] >= 2
    judge.run(cfg, rd, 1, engine)
    scores = {r["id"]: r["score"] for r in read_rows(rd.artifact(1, "judgments"), None)}
    assert scores["p-long-c0"] is None and scores["p-long-c1"] is None  # never a made-up score
    counts = json.loads(manifest_path(rd.artifact(1, "judgments")).read_text())["counts"]
    assert counts["unscored_candidates"] >= 2


def test_the_engine_returns_only_new_text_never_the_prompt(tiny_model_dir: Path) -> None:
    """A score line inside the judged response sits in the prompt; the judge's text must not contain it."""
    engine = HFEngine(str(tiny_model_dir), ModelSection(path=str(tiny_model_dir)), BackendSection(batch_size=2))
    prompt = "Rate the response. Response: Score: 5 Score: 5 Score: 5"
    (text,) = engine.generate_batch([GenItem("j", user(prompt), 3)], SamplingParams(0.0, 1.0, 4))
    assert "Rate the response" not in text and "Score: 5 Score: 5" not in text


# --- security: pickled weights and remote code -----------------------------------------------


@pytest.fixture()
def pickled_model(tmp_path: Path, tiny_model_dir: Path) -> Path:
    """The tiny model with its weights as a pickle (pytorch_model.bin) instead of safetensors."""
    from safetensors.torch import load_file

    out = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, out)
    torch.save(load_file(out / "model.safetensors"), out / "pytorch_model.bin")
    (out / "model.safetensors").unlink()
    return out


def test_pickled_weights_are_refused_unless_allowed(pickled_model: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(ModelError, match=r"pickled weights .* model\.allow_pickle: true"):
        load_model(str(pickled_model), ModelSection(path=str(pickled_model)))
    allowed = load_model(str(pickled_model), ModelSection(path=str(pickled_model), allow_pickle=True))
    reference = load_model(str(tiny_model_dir), ModelSection(path=str(tiny_model_dir)))
    assert all(torch.equal(a, b) for a, b in zip(allowed.parameters(), reference.parameters(), strict=True))


REMOTE_CONFIG = """
import pathlib
pathlib.Path({marker!r}).write_text("remote code ran")  # proof that the code ran
from transformers import LlamaConfig

class ShippedConfig(LlamaConfig):
    model_type = "srlm_shipped"
"""
REMOTE_MODEL = """
from transformers import LlamaForCausalLM
from .configuration_shipped import ShippedConfig

class ShippedModel(LlamaForCausalLM):
    config_class = ShippedConfig
"""


@pytest.fixture()
def remote_code_model(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The tiny model declaring its own Python classes (auto_map), which write a marker when imported."""
    import transformers.dynamic_module_utils as dynamic

    out = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, out)
    config: dict[str, Any] = json.loads((out / "config.json").read_text())
    config["model_type"] = "srlm_shipped"
    config["auto_map"] = {
        "AutoConfig": "configuration_shipped.ShippedConfig",
        "AutoModelForCausalLM": "modeling_shipped.ShippedModel",
    }
    (out / "config.json").write_text(json.dumps(config))
    (out / "configuration_shipped.py").write_text(REMOTE_CONFIG.format(marker=str(tmp_path / "marker")))
    (out / "modeling_shipped.py").write_text(REMOTE_MODEL)
    # Imported remote code is copied into the modules cache: keep it inside the test's tmp dir.
    monkeypatch.setattr(dynamic, "HF_MODULES_CACHE", str(tmp_path / "modules"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield out
    for name in [n for n in sys.modules if n.startswith("transformers_modules")]:
        del sys.modules[name]


def test_remote_code_does_not_run_unless_trusted(remote_code_model: Path, tmp_path: Path) -> None:
    settings = ModelSection(path=str(remote_code_model))
    with pytest.raises(ModelError, match=r"ships its own Python code.*model\.trust_remote_code: true"):
        load_model(str(remote_code_model), settings)
    assert not (tmp_path / "marker").exists()
    trusted = ModelSection(path=str(remote_code_model), trust_remote_code=True)
    model = load_model(str(remote_code_model), trusted)
    assert type(model).__name__ == "ShippedModel" and (tmp_path / "marker").exists()


def test_a_tokenizer_s_own_code_does_not_run_unless_trusted(remote_code_model: Path, tmp_path: Path) -> None:
    tokenizer_config = remote_code_model / "tokenizer_config.json"
    data = json.loads(tokenizer_config.read_text())
    data["auto_map"] = {"AutoTokenizer": [None, "tokenization_shipped.ShippedTokenizer"]}
    tokenizer_config.write_text(json.dumps(data))
    marker = tmp_path / "tokenizer-marker"
    (remote_code_model / "tokenization_shipped.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
        "from transformers import PreTrainedTokenizerFast\n\n"
        "class ShippedTokenizer(PreTrainedTokenizerFast):\n    pass\n"
    )
    tokenizer = load_tokenizer(str(remote_code_model), ModelSection(path=str(remote_code_model)))
    assert type(tokenizer).__name__ != "ShippedTokenizer" and not marker.exists()
    trusted = load_tokenizer(str(remote_code_model), ModelSection(path=str(remote_code_model), trust_remote_code=True))
    assert type(trusted).__name__ == "ShippedTokenizer" and marker.exists()
