"""Model cards: written from the manifest, rewritten with the evaluation, never part of the model's content."""

from __future__ import annotations

import json
from pathlib import Path

from huggingface_hub import ModelCard

from srlm.config import config_from_dict
from srlm.models.card import write_card
from srlm.rundir import RunDir, content_hash, is_done, write_manifest
from srlm.verify import verify_run


def _model_dir(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text('{"model_type": "llama"}')
    (path / "model.safetensors").write_bytes(b"weights")
    return path


def test_a_dpo_model_s_card_names_its_data_by_hash_and_gains_the_evaluation(tmp_path: Path) -> None:
    cfg = config_from_dict(
        {"model": {"path": "org/base-model"}, "data": {"ift": "i.jsonl"}, "loop": {"run_dir": str(tmp_path)}}
    )
    rd = RunDir(tmp_path)
    _model_dir(rd.model(1))
    pairs = rd.artifact(1, "pairs")
    pairs.parent.mkdir(parents=True)
    pairs.write_text('{"id": "p1"}\n')
    m2 = _model_dir(rd.model(2))
    diagnostics = {"rewards/margins": {"first": 0.0, "last": 0.8}}
    write_manifest(m2, stage="iter1 dpo", config_hash="h", inputs=[pairs, rd.model(1)], rows=12, seconds=3.5,
                   first_loss=0.6931, last_loss=0.5012, diagnostics=diagnostics, skipped={})  # fmt: skip
    weights_hash = content_hash(m2)

    card = ModelCard.load(write_card(cfg, m2))
    assert card.data.base_model == "org/base-model" and card.data.library_name == "transformers"
    assert card.data.tags == ["srlm", "self-rewarding", "dpo"]
    assert card.data.datasets == ["iter1/pairs.jsonl"]
    assert card.data.to_dict()["dataset_sha256"] == {"iter1/pairs.jsonl": content_hash(pairs)}
    assert "iteration 1: M2 = DPO(M1" in card.text and "0.6931 -> 0.5012" in card.text
    assert "| beta | 0.1 |" in card.text and "Not evaluated yet" in card.text

    metrics = {
        "models": {"m2": {"oracle_score_mean": 3.1, "oracle_score_ci95": [3.0, 3.2]}},
        "head_to_head": [{"a": "m2", "b": "m1", "judge": "oracle", "wins": 5, "ties": 90, "losses": 5,
                          "win_rate": 0.5, "win_rate_ci95": [0.45, 0.55], "verdict": "no clear difference"}],
    }  # fmt: skip
    card = ModelCard.load(write_card(cfg, m2, metrics))
    assert "| oracle mean (0-5) | 3.100 [3.00, 3.20] |" in card.text and "m2 vs m1 (oracle): W/T/L 5/90/5" in card.text
    assert card.data.eval_results[0].metric_value == 3.1
    # The card is not content: the model stays finished and unedited.
    assert content_hash(m2) == weights_hash and is_done(m2)
    (tmp_path / "config.yaml").write_text(json.dumps({"loop": {"run_dir": str(tmp_path)}}))
    assert not [p for p in verify_run(tmp_path)[1] if "m2" in p.path]


def test_an_sft_model_from_a_local_dir_has_no_base_model_id(tmp_path: Path) -> None:
    local = _model_dir(tmp_path / "m0")
    cfg = config_from_dict(
        {"model": {"path": str(local)}, "data": {"ift": "i.jsonl"}, "loop": {"run_dir": str(tmp_path / "run")}}
    )
    ift = tmp_path / "ift.jsonl"
    ift.write_text('{"prompt": "p", "response": "r"}\n')
    m1 = _model_dir(RunDir(tmp_path / "run").model(1))
    write_manifest(m1, stage="sft", config_hash="h", inputs=[ift], rows=1, first_loss=2.0, last_loss=1.0)
    card = ModelCard.load(write_card(cfg, m1))
    assert card.data.base_model is None and card.data.tags == ["srlm", "self-rewarding", "sft"]
    assert f"SFT of {local}" in card.text and str(ift) in card.data.datasets


def test_no_manifest_no_card(tmp_path: Path) -> None:
    cfg = config_from_dict({"model": {"path": "m"}, "data": {"ift": "i.jsonl"}})
    assert write_card(cfg, _model_dir(tmp_path / "m1")) is None
    assert not (tmp_path / "m1" / "README.md").exists()


def test_a_dir_that_is_no_model_dir_gets_no_card(tmp_path: Path) -> None:
    cfg = config_from_dict({"model": {"path": "m"}, "data": {"ift": "i.jsonl"}})
    other = tmp_path / "m1"
    other.mkdir()
    (other / "weights.bin").write_text("x")
    write_manifest(other, stage="sft", config_hash="h", inputs=[])
    assert write_card(cfg, other) is None and is_done(other)
