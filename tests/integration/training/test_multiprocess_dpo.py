"""DPO under `accelerate launch` with 2 CPU processes (gloo) against the same run in one process.

Same global batch (dpo.batch_size = 8: 8 per step in one process, 4 per process with two), so the
two runs take the same optimisation steps on the same examples and their loss curves agree up to
floating-point reduction order. Each process writes what it trained on through SRLM_TRAIN_DUMP.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from srlm.config import ConfigError, config_from_dict
from srlm.rundir import RunDir, is_done, manifest_path, open_run
from srlm.training import dpo
from srlm.training.common import TrainingError
from srlm.training.launch import SHIPPED, accelerate_config_path, launch_command
from tests.helpers import WORDS, tiny_config

LOSS_TOLERANCE = 1e-5  # absolute, per logged step; measured: at most 1.2e-7 (float32 reduction order)


def pair_rows(n: int = 64) -> list[dict[str, Any]]:
    return [
        {
            "id": f"p{i}",
            "prompt": f"Say the words {WORDS[i % 7]} and {WORDS[(i + 3) % 11]} please {i}",
            "chosen": f"{WORDS[i % 7]} {WORDS[(i + 3) % 11]}",
            "rejected": "stone stone stone" if i % 3 else "",
        }
        for i in range(n)
    ]


def dpo_run(tmp: Path, model_dir: Path, name: str, **train: Any) -> tuple[Any, RunDir]:
    (tmp / name).mkdir()
    cfg = config_from_dict(
        tiny_config(
            tmp / name,
            model_dir,
            dpo={"batch_size": 8, "epochs": 1},
            loop={"run_dir": str(tmp / name / "run")},
            backend={"device": "cpu"},
            train=train,
        )
    )
    rd = open_run(cfg)
    shutil.copytree(model_dir, rd.model(1))
    rd.iteration(1).mkdir(parents=True)
    rd.artifact(1, "pairs").write_text("".join(json.dumps(r) + "\n" for r in pair_rows()))
    return cfg, rd


def read_dumps(dump_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(dump_dir.glob("rank*.json"))]


@pytest.mark.slow
def test_two_processes_shard_the_pairs_and_match_one_process(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoModelForCausalLM

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("SRLM_TRAIN_DUMP", str(tmp_path / "dump1"))
    cfg1, rd1 = dpo_run(tmp_path, tiny_model_dir, "one")
    dpo.run(cfg1, rd1, 1)
    (single,) = read_dumps(tmp_path / "dump1")

    monkeypatch.setenv("SRLM_TRAIN_DUMP", str(tmp_path / "dump2"))
    cfg2, rd2 = dpo_run(tmp_path, tiny_model_dir, "two", launcher="accelerate", accelerate_config="cpu-2proc")
    m2 = dpo.run(cfg2, rd2, 1)
    ranks = read_dumps(tmp_path / "dump2")

    assert [r["rank"] for r in ranks] == [0, 1] and all(r["world_size"] == 2 for r in ranks)
    # Disjoint shards that together are exactly what the single process trained on.
    shard0, shard1 = (set(r["examples"]) for r in ranks)
    assert not shard0 & shard1
    assert shard0 | shard1 == set(single["examples"]) and len(shard0 | shard1) == 64
    assert len(ranks[0]["examples"]) == len(ranks[1]["examples"]) == 32
    # Gradients were synchronised: both processes ended with the same weights.
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]
    # Same global batch, same steps: the loss curves agree.
    curve1, curve2 = single["losses"], ranks[0]["losses"]
    assert len(curve1) == len(curve2) == 8
    assert max(abs(a - b) for a, b in zip(curve1, curve2, strict=True)) < LOSS_TOLERANCE, (curve1, curve2)
    assert curve2[-1] < curve2[0]
    # Only the main process wrote the model; it is complete and loads.
    assert is_done(m2) and manifest_path(m2).is_file() and not list(rd2.root.glob("m2.*/"))
    assert AutoModelForCausalLM.from_pretrained(m2) is not None
    # The stage resumes: run again, nothing is launched.
    assert dpo.run(cfg2, rd2, 1) == m2


def test_a_failed_launch_is_a_clear_error_and_writes_nothing(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from srlm.training import launch

    cfg, rd = dpo_run(tmp_path, tiny_model_dir, "fail", launcher="accelerate", accelerate_config="cpu-2proc")
    command = launch_command(cfg, rd.root, "dpo", 1)
    assert command[1:4] == ["launch", "--config_file", str(accelerate_config_path("cpu-2proc"))]
    assert command[-6:] == ["-m", "srlm.training", str(rd.root), "dpo", "--iteration", "1"]
    monkeypatch.setattr(launch, "launch_command", lambda *a: [sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(TrainingError, match="exited with status 3"):
        dpo.run(cfg, rd, 1)
    assert not rd.model(2).exists()


def test_launch_reads_only_the_stored_config(tmp_path: Path, tiny_model_dir: Path) -> None:
    cfg, rd = dpo_run(tmp_path, tiny_model_dir, "stored", launcher="accelerate", accelerate_config="zero2")
    other = cfg.model_copy(deep=True)
    other.dpo.beta = 0.5
    with pytest.raises(ConfigError, match="differs from the config"):
        dpo.run(other, rd, 1)
    with_processes = cfg.model_copy(deep=True)
    with_processes.train.num_processes = 4
    assert launch_command(with_processes, rd.root, "sft")[4:6] == ["--num_processes", "4"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_accelerate_configs_load(name: str) -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    loaded = load_config_from_file(str(accelerate_config_path(name)))
    assert loaded.num_processes == (2 if name == "cpu-2proc" else 8)
    assert loaded.distributed_type.value == {"fsdp": "FSDP", "cpu-2proc": "MULTI_GPU"}.get(name, "DEEPSPEED")
