"""CREAM through TRL's own DPOTrainer: our loss weights give C·DPO(y+,y-) + (1-C)·DPO(y-,y+)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from srlm.method.consistency import cream_dpo_args
from tests.helpers import build_tiny_model

ROWS = [
    ("Say the words apple and blue please", "apple blue", "stone stone stone"),
    ("Say the words river and lamp please", "river lamp", "lamp"),
    ("Say the words seven and cloud please", "seven cloud", "green quick forest"),
    ("Say the words word and list please", "word list", "the the"),
]


def batch_loss(tmp: Path, policy_dir: Path, ref_dir: Path, swapped: bool, **loss: Any) -> float:
    """TRL's DPO loss over all ROWS in one batch (policy != reference, so the margins are not 0)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    def turn(role: str, text: str) -> list[dict[str, str]]:
        return [{"role": role, "content": text}]

    dataset = Dataset.from_list(
        [
            {"prompt": turn("user", p), "chosen": turn("assistant", r if swapped else c),
             "rejected": turn("assistant", c if swapped else r)}
            for p, c, r in ROWS
        ]
    )  # fmt: skip
    args = DPOConfig(
        output_dir=str(tmp / "trainer"),
        per_device_train_batch_size=len(ROWS),
        report_to="none",
        beta=0.5,
        bf16=False,
        **loss,
    )
    trainer = DPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(policy_dir),
        ref_model=AutoModelForCausalLM.from_pretrained(ref_dir),
        args=args,
        train_dataset=dataset,
        processing_class=AutoTokenizer.from_pretrained(policy_dir),
    )
    batch = next(iter(trainer.get_train_dataloader()))
    with torch.no_grad():
        return float(trainer.compute_loss(trainer.model, batch))


def test_cream_weights_equal_the_formula_in_trl(tmp_path: Path, tiny_model_dir: Path) -> None:
    ref = build_tiny_model(tmp_path / "ref", seed=1)
    forward = batch_loss(tmp_path, tiny_model_dir, ref, swapped=False)
    backward = batch_loss(tmp_path, tiny_model_dir, ref, swapped=True)
    assert abs(forward - backward) > 1e-3, "the test needs non-zero preference margins"
    c = 0.3
    cream = batch_loss(tmp_path, tiny_model_dir, ref, swapped=False, **cream_dpo_args(c))
    assert cream == pytest.approx(c * forward + (1 - c) * backward, rel=1e-5)
    # Why not label_smoothing alone: TRL's 'sigmoid' loss ignores it (plain DPO, whatever the value).
    smoothed = batch_loss(tmp_path, tiny_model_dir, ref, swapped=False, label_smoothing=1 - c)
    assert smoothed == pytest.approx(forward, rel=1e-6)
