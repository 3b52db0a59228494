"""SFT and DPO on a tiny Llama: the loss falls, the preference margin rises, dirs reload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from srlm.config import config_from_dict
from srlm.models.loading import ModelError
from srlm.rundir import RunDir, is_done, manifest_path
from srlm.training import dpo, sft
from tests.helpers import build_tiny_model, fixture_rows, tiny_config


def answer_logprob(model_dir: Path, prompt: str, answer: str) -> float:
    """Sum of log-probs of the answer tokens (and end token) after the chat-formatted prompt."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    messages = [{"role": "user", "content": prompt}]
    head = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template([*messages, {"role": "assistant", "content": answer}], tokenize=False)
    head_ids = tok(head, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([tok(full, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        logits = model(ids).logits.log_softmax(-1)[0, :-1]
    targets = ids[0, 1:]
    picked = logits.gather(1, targets.unsqueeze(1)).squeeze(1)
    return float(picked[len(head_ids) - 1 :].sum())


@pytest.fixture()
def setup(tmp_path: Path, tiny_model_dir: Path) -> tuple[Any, RunDir]:
    cfg = config_from_dict(tiny_config(tmp_path, tiny_model_dir, sft={"epochs": 4}))
    return cfg, RunDir(Path(cfg.loop.run_dir))


def test_sft_lowers_loss_and_saves_a_loadable_model(setup: tuple[Any, RunDir], tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg, rd = setup
    ift = fixture_rows()["ift"][:10]
    before = sum(answer_logprob(tiny_model_dir, r["prompt"], r["response"]) for r in ift)
    m1 = sft.run(cfg, rd)
    after = sum(answer_logprob(m1, r["prompt"], r["response"]) for r in ift)
    assert after > before + 10, (before, after)
    assert AutoModelForCausalLM.from_pretrained(m1) is not None
    assert AutoTokenizer.from_pretrained(m1).chat_template
    manifest = json.loads(manifest_path(m1).read_text())
    assert manifest["rows"] == 80 and manifest["last_loss"] < manifest["first_loss"]
    assert is_done(m1) and not (rd.root / "m1.saving").exists()


def test_dpo_raises_the_chosen_minus_rejected_margin(setup: tuple[Any, RunDir], tiny_model_dir: Path) -> None:
    import shutil

    cfg, rd = setup
    shutil.copytree(tiny_model_dir, rd.model(1))
    rows = [
        {
            "id": f"p{i}",
            "prompt": f"Say the words apple and blue please {i}",
            "chosen": "apple blue",
            "rejected": "stone stone stone" if i else "",  # an empty answer is a real rejected candidate
        }
        for i in range(8)
    ]
    rd.iteration(1).mkdir(parents=True)
    rd.artifact(1, "pairs").write_text("".join(json.dumps(r) + "\n" for r in rows))

    def margin(model_dir: Path) -> float:
        return sum(
            answer_logprob(model_dir, r["prompt"], r["chosen"]) - answer_logprob(model_dir, r["prompt"], r["rejected"])
            for r in rows
        )

    before = margin(rd.model(1))
    m2 = dpo.run(cfg, rd, 1)
    assert margin(m2) > before + 1.0, (before, margin(m2))
    assert is_done(m2)


def test_lora_trains_adapters_and_saves_a_merged_model(tmp_path: Path, tiny_model_dir: Path) -> None:
    from safetensors.torch import load_file

    lora = {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}
    cfg = config_from_dict(tiny_config(tmp_path, tiny_model_dir, model={"lora": lora}, sft={"epochs": 1}))
    m1 = sft.run(cfg, RunDir(Path(cfg.loop.run_dir)))
    base = load_file(tiny_model_dir / "model.safetensors")
    merged = load_file(m1 / "model.safetensors")
    assert set(merged) == set(base), "the saved model must be a plain merged model, no adapter keys"
    changed = {k for k in base if not (base[k] == merged[k]).all()}
    assert changed and all("q_proj" in k or "v_proj" in k for k in changed), changed


def test_model_without_chat_template_is_refused(tmp_path: Path) -> None:
    bare = build_tiny_model(tmp_path / "bare", chat_template=None)
    cfg = config_from_dict(tiny_config(tmp_path, bare))
    with pytest.raises(ModelError, match=r"no chat template; set model\.chat_template"):
        sft.run(cfg, RunDir(Path(cfg.loop.run_dir)))


def test_missing_model_dir_is_named(tmp_path: Path) -> None:
    cfg = config_from_dict(tiny_config(tmp_path, tmp_path / "nowhere" / "m0"))
    with pytest.raises(ModelError, match=r"model dir not found"):
        sft.run(cfg, RunDir(Path(cfg.loop.run_dir)))
