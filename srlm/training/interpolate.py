"""Weight interpolation (`dpo.interpolation: w`): M(t+1) = M(t) + w (trained - M(t)).

WiSE-FT (Wortsman et al., 2022) interpolates fine-tuned weights back toward the start model to
keep what fine-tuning does not train; WARP (Ramé et al., 2024) does it after RLHF (its LERP
step), and Lin et al. (2024) find that averaging gives a better reward-vs-forgetting trade than
a smaller learning rate. In srlm it keeps the judge, which DPO on answers does not train.

The saved model dir's safetensors files are rewritten tensor by tensor, each file replaced
atomically; the start model dir is only read. Tensors are matched by name, so any two dirs that
`save_pretrained` wrote for the same architecture work, sharded or not.
"""

from __future__ import annotations

import os
from pathlib import Path

WEIGHTS = "*.safetensors"


class InterpolationError(ValueError):
    """Two model dirs whose weights cannot be interpolated."""


def _locations(model_dir: Path) -> dict[str, Path]:
    """Each tensor name of a model dir -> the safetensors file that holds it."""
    from safetensors import safe_open

    found: dict[str, Path] = {}
    for file in sorted(model_dir.glob(WEIGHTS)):
        with safe_open(str(file), framework="pt") as handle:
            found.update(dict.fromkeys(handle.keys(), file))
    if not found:
        raise InterpolationError(f"{model_dir}: no safetensors weights to interpolate")
    return found


def interpolate_dir(start: Path, trained: Path, weight: float) -> int:
    """Rewrite `trained`'s weights as start + weight * (trained - start); returns the tensors moved.

    Floating-point tensors are interpolated in float32 and stored in their own dtype; any other
    tensor (an integer buffer) is kept as trained. Every name and shape is checked before a file
    is written, so a mismatch leaves `trained` as it was.
    """
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    if not 0 < weight <= 1:
        raise InterpolationError(f"interpolation weight {weight} is not in (0, 1]")
    origin = _locations(start)
    targets = _locations(trained)
    missing = sorted(set(targets) - set(origin))
    if missing:
        raise InterpolationError(f"{start}: no tensor {missing[0]!r} of {trained} ({len(missing)} missing)")
    for file in sorted(set(targets.values())):
        with safe_open(str(file), framework="pt") as handle:
            for name in handle.keys():  # noqa: SIM118 (a safetensors handle, not a dict: it has no __iter__)
                with safe_open(str(origin[name]), framework="pt") as source:
                    if source.get_slice(name).get_shape() != handle.get_slice(name).get_shape():
                        raise InterpolationError(f"{name}: shapes differ between {start} and {trained}")
    moved = 0
    for file in sorted(set(targets.values())):
        with safe_open(str(file), framework="pt") as handle:
            metadata = handle.metadata()
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
        for name, tensor in tensors.items():
            if not tensor.is_floating_point():
                continue
            with safe_open(str(origin[name]), framework="pt") as source:
                base = source.get_tensor(name).to(torch.float32)
            tensors[name] = (base + weight * (tensor.to(torch.float32) - base)).to(tensor.dtype)
            moved += 1
        partial = file.with_name(file.name + ".partial")
        save_file(tensors, str(partial), metadata=metadata)
        os.replace(partial, file)
    return moved
