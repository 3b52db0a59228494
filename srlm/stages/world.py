"""World: build the built-in world's seed sets into `<run_dir>/world/` (world runs only).

    srlm world build --out DIR --seed S     (the same, by hand)

IFT, EFT, the ranked judge-eval set, held-out eval prompts and dev prompts come from the
world's oracle, like the paper's human-written seed data; see docs/world.md.
"""

from __future__ import annotations

import time
from pathlib import Path

from srlm.config import Config
from srlm.rundir import RunDir, write_manifest
from srlm.stages.common import already_done, console


def run(cfg: Config, rd: RunDir) -> Path:
    from srlm.world import WorldSizes, build_world

    assert cfg.world is not None
    marker = cfg.world_dir / "world.json"
    if already_done(marker, "world"):
        return cfg.world_dir
    started = time.perf_counter()
    sizes = WorldSizes(**cfg.world.model_dump(exclude={"seed"}))
    paths = build_world(cfg.world_dir, seed=cfg.world.seed, sizes=sizes)
    seconds = round(time.perf_counter() - started, 2)
    files = (paths.ift, paths.eft, paths.judge_eval, paths.eval, paths.dev)
    counts = {p.stem: sum(1 for _ in p.open(encoding="utf-8")) for p in files}
    write_manifest(
        marker,
        stage="world",
        config_hash=cfg.digest("world"),
        inputs=[],
        seconds=seconds,
        rows=sum(counts.values()),
        counts=counts,
    )
    console.print(f"world: seed {cfg.world.seed}, {counts} ({seconds:.1f} s) -> {cfg.world_dir}")
    return cfg.world_dir
