"""A tiny Llama: the HF engine marks cut-off texts; DPO never trains a cut-off or over-long answer as finished."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from srlm.backends.base import GenItem, SamplingParams, is_truncated, user
from srlm.config import config_from_dict
from srlm.rundir import RunDir, manifest_path
from srlm.training import dpo
from tests.helpers import tiny_config


def test_the_hf_engine_marks_a_text_that_stopped_at_max_new_tokens(tmp_path: Path, tiny_model_dir: Path) -> None:
    from srlm.backends.hf import HFEngine

    cfg = config_from_dict(tiny_config(tmp_path, tiny_model_dir))
    engine = HFEngine(str(tiny_model_dir), cfg.model, cfg.backend)
    items = [GenItem("a", user("Say the words apple and river please 1"), 1), GenItem("b", user("list three"), 2)]
    params = SamplingParams(0.0, 1.0, 3)
    texts = engine.generate_batch(items, params)
    assert all(is_truncated(text) for text in texts)  # the untrained model writes no end token in 3 steps
    engine._eos_ids = lambda: list(range(len(engine.tokenizer)))  # type: ignore[method-assign]  # every token ends
    assert not any(is_truncated(text) for text in engine.generate_batch(items, params))


def _pairs_run(tmp_path: Path, tiny_model_dir: Path, rows: list[dict[str, Any]], **sections: Any) -> tuple[Any, RunDir]:
    cfg = config_from_dict(tiny_config(tmp_path, tiny_model_dir, **sections))
    rd = RunDir(Path(cfg.loop.run_dir))
    shutil.copytree(tiny_model_dir, rd.model(1))
    rd.iteration(1).mkdir(parents=True)
    rd.artifact(1, "pairs").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return cfg, rd


def test_dpo_drops_and_counts_pairs_longer_than_max_length(tmp_path: Path, tiny_model_dir: Path) -> None:
    rows = [
        {"id": f"p{i}", "prompt": f"Say the words apple and blue please {i}", "chosen": "apple blue", "rejected": "x"}
        for i in range(4)
    ]
    rows[3]["rejected"] = "stone " * 80  # TRL would cut its end (and its end of turn) at dpo.max_length
    cfg, rd = _pairs_run(tmp_path, tiny_model_dir, rows, dpo={"max_length": 48, "batch_size": 3})
    m2 = dpo.run(cfg, rd, 1)
    manifest = json.loads(manifest_path(m2).read_text())
    assert manifest["rows"] == 3 and manifest["skipped"] == {"pairs_too_long": 1}


def test_a_cut_off_answer_is_trained_without_an_end_of_turn(tmp_path: Path, tiny_model_dir: Path) -> None:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    end = tokenizer.convert_tokens_to_ids("<|end|>")
    example = dpo._conversation("Say the words apple and blue please", chosen="apple blue", rejected="stone stone")
    example |= {"chosen_truncated": True, "rejected_truncated": False}
    args = DPOConfig(output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True, max_length=64)

    def tokenized(open_ended: bool) -> dict[str, Any]:
        model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        trainer = dpo.dpo_trainer_class(open_ended)(
            model=model, args=args, train_dataset=Dataset.from_list([example]), processing_class=tokenizer
        )
        return trainer.train_dataset[0]

    row = tokenized(open_ended=True)
    assert row["chosen_ids"] == tokenizer("apple blue", add_special_tokens=False)["input_ids"]  # no end of turn
    assert row["rejected_ids"][-1] == end  # a finished answer keeps its end of turn
    assert "chosen_truncated" not in row
    assert tokenized(open_ended=False)["chosen_ids"][-1] == end  # TRL alone would close the cut-off answer


def _mixed_pairs() -> list[dict[str, Any]]:
    """Short answer pairs beside long judge-like pairs, as `loop.verdict_pairs` mixes them.

    Enough of them that transformers' sampler sorts more than one batch at a time (its mega-batches
    are a quarter of the rows here).
    """
    short = [
        {"id": f"a{i}", "prompt": f"Say apple {i}", "chosen": "apple", "rejected": "stone"} for i in range(32)
    ]  # fmt: skip
    judgment = "end with apple : last apple , yes " * 3
    long = [
        {"id": f"j{i}", "prompt": "review the answer . " * 6 + str(i), "chosen": judgment,
         "rejected": judgment.replace("yes", "no")}
        for i in range(32)
    ]  # fmt: skip
    return short + long


def test_length_grouped_dpo_batches_pad_less_and_train(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _mixed_pairs()
    trainers: list[Any] = []
    promote = dpo.promote

    def keep(trainer: Any, *args: Any, **kwargs: Any) -> Path:
        trainers.append(trainer)
        return promote(trainer, *args, **kwargs)

    monkeypatch.setattr(dpo, "promote", keep)

    def trained(grouped: bool) -> tuple[int, int, dict[str, Any]]:
        """Padded and real tokens of one epoch's batches, and the model's manifest."""
        (tmp_path / str(grouped)).mkdir()
        sections = {"dpo": {"batch_size": 4, "group_by_length": grouped}}
        cfg, rd = _pairs_run(tmp_path / str(grouped), tiny_model_dir, rows, **sections)
        m2 = dpo.run(cfg, rd, 1)
        batches = list(trainers[-1].get_train_dataloader())
        padded = sum(batch["input_ids"].numel() for batch in batches)
        real = sum(int(batch["attention_mask"].sum()) for batch in batches)
        return padded, real, json.loads(manifest_path(m2).read_text())

    grouped, grouped_real, manifest = trained(True)
    shuffled, shuffled_real, _ = trained(False)
    assert manifest["rows"] == len(rows)  # every pair trained
    assert grouped_real == shuffled_real  # the same pairs either way
    assert grouped < shuffled  # short pairs are no longer padded to a judge pair's length
