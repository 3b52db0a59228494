"""dpo.interpolation: the DPO model moved back toward its start, tensor by tensor, sharded or not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from srlm.config import config_from_dict
from srlm.rundir import RunDir, is_done, manifest_path
from srlm.training import dpo
from srlm.training.interpolate import InterpolationError, interpolate_dir
from tests.helpers import tiny_config


def _write(model_dir: Path, shards: dict[str, dict[str, list[float] | list[int]]]) -> None:
    import torch
    from safetensors.torch import save_file

    model_dir.mkdir(parents=True, exist_ok=True)
    for name, tensors in shards.items():
        save_file({k: torch.tensor(v) for k, v in tensors.items()}, str(model_dir / name), metadata={"format": "pt"})


def _read(model_dir: Path) -> dict[str, list[float]]:
    from safetensors.torch import load_file

    return {k: v.tolist() for f in sorted(model_dir.glob("*.safetensors")) for k, v in load_file(f).items()}


def test_each_float_tensor_moves_toward_the_start_across_shards(tmp_path: Path) -> None:
    # the start keeps every tensor in one file, the trained model in two shards: matched by name
    _write(tmp_path / "start", {"model.safetensors": {"a": [0.0, 2.0], "b": [4.0], "steps": [1, 2]}})
    _write(
        tmp_path / "trained",
        {"model-1.safetensors": {"a": [1.0, 0.0]}, "model-2.safetensors": {"b": [8.0], "steps": [5, 7]}},
    )
    assert interpolate_dir(tmp_path / "start", tmp_path / "trained", 0.25) == 2
    moved = _read(tmp_path / "trained")
    assert moved["a"] == pytest.approx([0.25, 1.5]) and moved["b"] == pytest.approx([5.0])
    assert moved["steps"] == [5, 7], "an integer buffer is kept as trained"
    assert not list((tmp_path / "trained").glob("*.partial"))
    assert interpolate_dir(tmp_path / "start", tmp_path / "start", 0.5) == 2, "a model with itself stays put"
    assert _read(tmp_path / "start")["a"] == [0.0, 2.0]


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ({"a": [0.0, 2.0]}, "no tensor 'b'"),
        ({"a": [0.0, 2.0, 3.0], "b": [1.0]}, "a: shapes differ"),
    ],
)
def test_a_mismatch_is_named_and_leaves_the_trained_model_as_it_was(
    tmp_path: Path, start: dict[str, list[float]], message: str
) -> None:
    _write(tmp_path / "start", {"model.safetensors": start})
    _write(tmp_path / "trained", {"model.safetensors": {"a": [1.0, 0.0], "b": [8.0]}})
    before = (tmp_path / "trained" / "model.safetensors").read_bytes()
    with pytest.raises(InterpolationError, match=message):
        interpolate_dir(tmp_path / "start", tmp_path / "trained", 0.5)
    assert (tmp_path / "trained" / "model.safetensors").read_bytes() == before
    with pytest.raises(InterpolationError, match="no safetensors"):
        interpolate_dir(tmp_path / "nothing", tmp_path / "trained", 0.5)


def test_dpo_with_interpolation_is_the_start_plus_a_share_of_the_full_step(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    rows = [
        {"id": f"p{i}", "prompt": f"Say apple and blue {i}", "chosen": "apple blue", "rejected": "stone stone"}
        for i in range(8)
    ]
    trained = {}
    for name, weight in (("full", 1.0), ("half", 0.5)):
        (tmp_path / name).mkdir()
        cfg = config_from_dict(tiny_config(tmp_path / name, tiny_model_dir, dpo={"interpolation": weight}))
        rd = RunDir(Path(cfg.loop.run_dir))
        shutil.copytree(tiny_model_dir, rd.model(1))
        rd.iteration(1).mkdir(parents=True)
        rd.artifact(1, "pairs").write_text("".join(json.dumps(r) + "\n" for r in rows))
        trained[name] = dpo.run(cfg, rd, 1)
        assert is_done(trained[name])
    import torch
    from safetensors.torch import load_file

    start, full, half = (load_file(d / "model.safetensors") for d in (tiny_model_dir, trained["full"], trained["half"]))
    assert any(not torch.equal(full[k], start[k]) for k in start), "the full DPO step moved the weights"
    for key in start:
        assert torch.allclose(half[key], start[key] + 0.5 * (full[key] - start[key]), atol=1e-6), key
    manifest = json.loads(manifest_path(trained["half"]).read_text())
    assert manifest["interpolation"]["weight"] == 0.5 and manifest["interpolation"]["tensors"] > 0
    assert "interpolation" not in json.loads(manifest_path(trained["full"]).read_text())
    from srlm.stages.iteration_health import dpo_health

    assert (dpo_health(RunDir(trained["half"].parent), 1) or {})["interpolation"] == 0.5
    assert "interpolation" not in (dpo_health(RunDir(trained["full"].parent), 1) or {})
