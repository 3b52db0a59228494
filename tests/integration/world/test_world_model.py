"""The shipped M0 and the world tokenizer: load like any HF model, chat template fits TRL's SFT."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from srlm.world.answers import sample_answer, solve  # noqa: E402
from srlm.world.grammar import render, sample_instruction  # noqa: E402
from srlm.world.judgment import judge_template_path, write_judgment  # noqa: E402
from srlm.world.model import build_tokenizer, shipped_m0_path  # noqa: E402


def _messages(rng: random.Random) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    instruction = sample_instruction(rng)
    prompt = [{"role": "user", "content": render(instruction)}]
    return prompt, [{"role": "assistant", "content": " ".join(solve(instruction, rng))}]


def test_shipped_m0_loads_with_auto_classes() -> None:
    path = shipped_m0_path()
    model = transformers.AutoModelForCausalLM.from_pretrained(path)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    assert model.config.model_type == "llama"
    assert 1_000_000 <= model.num_parameters() <= 3_000_000
    assert tokenizer.pad_token == "<pad>" and tokenizer.eos_token == "<eos>"
    assert len(tokenizer) == model.config.vocab_size
    prompt, _ = _messages(random.Random(0))
    text = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    assert text.startswith("<bos> <user> write about") and text.endswith("<assistant>")
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert out.shape[1] > ids["input_ids"].shape[1]


def test_world_text_tokenizes_without_unknowns_and_decodes_back() -> None:
    tokenizer = build_tokenizer()
    rng = random.Random(1)
    template = judge_template_path().read_text()
    for _ in range(300):
        instruction = sample_instruction(rng)
        answer = " ".join(sample_answer(instruction, rng)[0])
        judge_prompt = template.replace("{prompt}", render(instruction)).replace("{response}", answer)
        for text in (render(instruction), answer, write_judgment(instruction, answer), judge_prompt):
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            assert tokenizer.unk_token_id not in ids
            assert str(tokenizer.decode(ids)).split() == text.split()


def test_rendered_prompt_is_a_token_prefix_of_prompt_plus_completion() -> None:
    tokenizer = build_tokenizer()
    rng = random.Random(2)
    for _ in range(50):
        prompt, completion = _messages(rng)
        prompt_ids = tokenizer(
            tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False),
            add_special_tokens=False,
        )["input_ids"]
        full_ids = tokenizer(
            tokenizer.apply_chat_template(prompt + completion, tokenize=False), add_special_tokens=False
        )["input_ids"]
        assert full_ids[: len(prompt_ids)] == prompt_ids
        assert full_ids[-1] == tokenizer.eos_token_id


def test_trl_sft_prompt_completion_loss_falls(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")
    rng = random.Random(3)
    rows = [dict(zip(("prompt", "completion"), _messages(rng), strict=True)) for _ in range(50)]
    path = shipped_m0_path()
    model = transformers.AutoModelForCausalLM.from_pretrained(path)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    config = trl.SFTConfig(
        output_dir=str(tmp_path),
        max_steps=20,
        per_device_train_batch_size=10,
        per_device_eval_batch_size=50,
        learning_rate=3e-3,
        logging_steps=5,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
    )
    started = time.perf_counter()
    dataset = datasets.Dataset.from_list(rows)
    trainer = trl.SFTTrainer(
        model=model, args=config, train_dataset=dataset, eval_dataset=dataset, processing_class=tokenizer
    )
    assert trainer.completion_only_loss  # the default for prompt-completion data
    sample: dict[str, list[int]] = trainer.train_dataset[0]
    trained = [label for label in sample["labels"] if label != -100]  # the completion only
    assert 0 < len(trained) < len(sample["input_ids"]) and trained[-1] == tokenizer.eos_token_id
    before = trainer.evaluate()["eval_loss"]
    trainer.train()
    after = trainer.evaluate()["eval_loss"]
    print(f"SFT sanity: {time.perf_counter() - started:.1f} s, completion loss {before:.3f} -> {after:.3f}")
    assert after < before - 0.2


def test_default_world_run_trains_on_whole_judgments(tmp_path: Path) -> None:
    """Every IFT and EFT example of the default world run fits in sft.max_length, judge prompt included.

    Regression: world runs once rendered EFT rows into the English rubric (249 tokens, half unknown
    to the world tokenizer), so the trainer cut every judgment after its first line.
    """
    from srlm.config import default_config_path, load_config
    from srlm.data.io import read_rows, write_jsonl
    from srlm.training.sft import drop_too_long, sft_examples
    from srlm.world.answers import sample_answer
    from srlm.world.grammar import parse
    from srlm.world.seeds import WorldSizes, build_world, model_eft_rows

    cfg = load_config(default_config_path(), [f"loop.run_dir={tmp_path / 'run'}"])
    assert cfg.judge.template == "world:judge"
    paths = build_world(cfg.world_dir, seed=0, sizes=WorldSizes(ift=50, eft_prompts=100, judge_eval=5, eval=5, dev=5))
    # the default also judges answers a model wrote (here the world's answer sampler stands in for it)
    assert cfg.world is not None and cfg.world.eft_model_answers == 2 and cfg.data.eft is not None
    synthetic = read_rows(paths.eft)
    rng = random.Random(0)
    answers = {
        row["prompt"]: [" ".join(sample_answer(parse(row["prompt"]), rng)[0]) for _ in range(2)] for row in synthetic
    }
    write_jsonl(Path(cfg.data.eft), synthetic + model_eft_rows(answers, seed=0)[0])
    tokenizer = transformers.AutoTokenizer.from_pretrained(shipped_m0_path())
    sources = sft_examples(cfg)
    kept, skipped = drop_too_long(sources, tokenizer, cfg.sft.max_length)
    assert skipped == {} and len(kept) == len(sources["ift"]) + len(sources["eft"])
    judge_prompt = sources["eft"][0]["prompt"][0]["content"]
    assert judge_prompt.startswith("review the answer to the request")
    ids = tokenizer(judge_prompt, add_special_tokens=False)["input_ids"]
    assert tokenizer.unk_token_id not in ids


def test_too_long_examples_are_counted_and_a_source_that_never_fits_is_an_error() -> None:
    from srlm.config import ConfigError
    from srlm.training.sft import drop_too_long

    tokenizer = transformers.AutoTokenizer.from_pretrained(shipped_m0_path())

    def ex(words: int) -> dict[str, list[dict[str, str]]]:
        return {
            "prompt": [{"role": "user", "content": " ".join(["sky"] * words)}],
            "completion": [{"role": "assistant", "content": "sun"}],
        }

    kept, skipped = drop_too_long({"ift": [ex(3), ex(40), ex(5)], "eft": [ex(2)]}, tokenizer, 20)
    assert len(kept) == 3 and skipped == {"ift_too_long": 1}
    with pytest.raises(ConfigError, match=r"no EFT example fits in sft.max_length=20 .*judge.template"):
        drop_too_long({"ift": [ex(3)], "eft": [ex(30), ex(40)]}, tokenizer, 20)
