"""The run directory: fixed artifact names, manifests, and the rule for "this stage is done".

    runs/<name>/config.yaml            resolved config, as run
    runs/<name>/m1/                    SFT(M0) as a HF model dir
    runs/<name>/iter1/prompts.jsonl    ... candidates, judgments, pairs
    runs/<name>/m2/                    DPO(M1, iter1 pairs)

Each artifact has `<artifact>.manifest.json` beside it, written after the artifact itself.
A stage is done when its manifest exists, its artifact exists, and the artifact's hash equals
the one the manifest recorded; anything else is redone (from the stage's partial rows).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srlm.config import Config, ConfigError, dump_config, execution_only
from srlm.data.io import atomic_write_text

CARD = "README.md"  # a model dir's model card
_VERSIONED = ("srlm", "torch", "transformers", "trl", "peft", "datasets", "accelerate")


def _hash_file(path: Path, digest: Any) -> None:
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)


def content_hash(path: str | Path) -> str:
    """sha256 of a file, or of a directory's files (names and contents, sorted).

    A model dir's card (`README.md` beside `config.json`, srlm.models.card) is not content: it is
    rewritten from the manifest as results come in, and that must not make the model look edited.
    """
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        card = path / CARD if (path / "config.json").is_file() else None
        for child in sorted(p for p in path.rglob("*") if p.is_file() and p != card):
            digest.update(str(child.relative_to(path)).encode())
            _hash_file(child, digest)
    else:
        _hash_file(path, digest)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    versions = {}
    for name in _VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def manifest_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + ".manifest.json")


def write_manifest(artifact: Path, *, stage: str, config_hash: str, inputs: list[Path], **fields: Any) -> None:
    manifest = {
        "stage": stage,
        "artifact": artifact.name,
        "sha256": content_hash(artifact),
        "config_hash": config_hash,
        "inputs": {str(p): content_hash(p) for p in inputs},
        **fields,
        "versions": library_versions(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write_text(manifest_path(artifact), json.dumps(manifest, indent=2) + "\n")


def read_manifest(artifact: Path) -> dict[str, Any] | None:
    path = manifest_path(artifact)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:  # torn JSON or bytes that are not UTF-8: not a finished manifest
        return None
    return data if isinstance(data, dict) else None


def is_done(artifact: Path) -> bool:
    """True only for a complete artifact whose content matches its manifest."""
    manifest = read_manifest(artifact)
    if manifest is None or not artifact.exists():
        return False
    return manifest.get("sha256") == content_hash(artifact)


@dataclass(frozen=True)
class RunDir:
    root: Path

    def model(self, t: int) -> Path:
        return self.root / f"m{t}"

    @property
    def sft_baseline(self) -> Path:
        return self.root / "sft_baseline"

    def iteration(self, t: int) -> Path:
        return self.root / f"iter{t}"

    def artifact(self, t: int, name: str) -> Path:
        return self.iteration(t) / f"{name}.jsonl"

    def eval_file(self, model: str, name: str) -> Path:
        """eval/<model>/<name>.jsonl: a model's evaluation answers and judgments."""
        return self.root / "eval" / model / f"{name}.jsonl"

    @property
    def config_file(self) -> Path:
        return self.root / "config.yaml"


def config_differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config dicts."""
    keys = sorted(set(old) | set(new))
    diffs = []
    for key in keys:
        a, b, name = old.get(key), new.get(key), f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += config_differences(a, b, name + ".")
        elif a != b:
            diffs.append(f"{name}: {a!r} -> {b!r}")
    return diffs


def result_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """`config_differences` without the keys that cannot change results (`execution_only`)."""
    diffs = config_differences(old, new)
    return [diff for diff in diffs if not execution_only(diff.partition(":")[0], old, new)]


def _with_defaults(stored: dict[str, Any]) -> dict[str, Any]:
    """The stored config with keys added to srlm since it was written filled with their defaults.

    A key that did not exist when a run started, left at its default, is not a change: the run
    is reopened. A stored config this version cannot read is compared as written.
    """
    from pydantic import ValidationError

    try:
        return Config.model_validate(stored).to_dict()
    except ValidationError:
        return stored


def open_run(cfg: Config, *, force: bool = False) -> RunDir:
    """Create the run dir, or reopen it if its stored config equals `cfg` (or `force`)."""
    import yaml

    run = RunDir(Path(cfg.loop.run_dir))
    if run.config_file.is_file():
        stored = _with_defaults(yaml.safe_load(run.config_file.read_text(encoding="utf-8")) or {})
        diffs = result_differences(stored, cfg.to_dict())  # another server or port is the same run
        if diffs and not force:
            raise ConfigError(
                f"{run.config_file} was run with another config; differing keys:\n  "
                + "\n  ".join(diffs)
                + "\nuse --force to continue with the new config (finished stages are kept)"
            )
    run.root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run.config_file, dump_config(cfg))
    return run
