"""World: build the built-in world's seed sets into `<run_dir>/world/` (world runs only).

    srlm world build --out DIR --seed S     (the same, by hand)

IFT, EFT, the ranked judge-eval set, held-out eval prompts and dev prompts come from the
world's oracle, like the paper's human-written seed data; see docs/world.md.

With `world.eft_model_answers: n`, `model_eft` adds n answers per EFT prompt sampled from the
IFT-only SFT model (candidate sampling settings), each judged by the oracle, to the synthetic
EFT rows: `<run_dir>/world/eft_model.jsonl`, which M1 then trains on. The paper's EFT answers
were written by real models, not damaged on purpose; the judge must learn the failures of the
model it will judge. A sampled answer cut off at `candidates.max_new_tokens` is kept (the
oracle judges it as it is) and marked `truncated`; the manifest counts them.
"""

from __future__ import annotations

import time
from pathlib import Path

from srlm.backends.base import Engine, GenItem, SamplingParams, is_truncated, row_seed, user
from srlm.config import Config
from srlm.console import begin, console
from srlm.data.io import read_rows
from srlm.rundir import RunDir, write_manifest
from srlm.stages.common import already_done, finish, partial_path, run_generation, truncation_count


def run(cfg: Config, rd: RunDir) -> Path:
    from srlm.world import WorldSizes, build_world

    assert cfg.world is not None
    marker = cfg.world_dir / "world.json"
    if already_done(marker, "world"):
        return cfg.world_dir
    begin("world")
    started = time.perf_counter()
    sizes = WorldSizes(**cfg.world.model_dump(exclude={"seed", "eft_model_answers", "clean_line", "rules"}))
    paths = build_world(
        cfg.world_dir, seed=cfg.world.seed, sizes=sizes, clean_line=cfg.world.clean_line, rules=tuple(cfg.world.rules)
    )
    seconds = round(time.perf_counter() - started, 2)
    files = (paths.ift, paths.eft, paths.judge_eval, paths.eval, paths.dev)
    counts = {p.stem: _lines(p) for p in files}
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


def _lines(path: Path) -> int:
    with path.open(encoding="utf-8") as handle:
        return sum(1 for _ in handle)


def model_eft(cfg: Config, rd: RunDir, engine: Engine) -> Path:
    """Synthetic EFT rows + oracle-judged answers that `engine` (the IFT-only model) samples."""
    from srlm.world.seeds import model_eft_rows

    assert cfg.world is not None and cfg.data.eft is not None
    artifact = Path(cfg.data.eft)
    label = "world eft (model answers)"
    if already_done(artifact, label):
        return artifact
    begin(label)
    started = time.perf_counter()
    synthetic_file = cfg.world_dir / "eft.jsonl"
    synthetic = read_rows(synthetic_file, {"prompt": str, "response": str, "judgment": str}, may_be_blank={"response"})
    prompts = list(dict.fromkeys(row["prompt"] for row in synthetic))
    plan = [(prompt, f"eft{i}-a{j}") for i, prompt in enumerate(prompts) for j in range(cfg.world.eft_model_answers)]
    items = [GenItem(key, user(prompt), row_seed(cfg.loop.seed, "eft", key)) for prompt, key in plan]
    params = SamplingParams(cfg.candidates.temperature, cfg.candidates.top_p, cfg.candidates.max_new_tokens)
    texts = run_generation(engine, items, params, partial_path(artifact), label)
    answers: dict[str, list[str]] = {}
    for prompt, key in plan:
        answers.setdefault(prompt, []).append(texts[key])
    sampled, histogram = model_eft_rows(answers, cfg.loop.seed, cfg.world.clean_line)
    known = {row["id"] for row in synthetic}
    cut = {(prompt, texts[key].strip()) for prompt, key in plan if is_truncated(texts[key])}
    added = [row | {"truncated": (row["prompt"], row["response"]) in cut} for row in sampled if row["id"] not in known]
    counts = {"synthetic": len(synthetic), "model": len(added), "model_same_as_synthetic": len(sampled) - len(added)}
    counts["model_truncated"] = sum(row["truncated"] for row in added)
    truncation_count(label, texts.values())
    counts |= {f"sampled_score_{score}": n for score, n in histogram.items()}  # before thinning
    return finish(
        artifact,
        synthetic + added,
        stage=label,
        config_hash=cfg.digest("world", "candidates", "loop"),
        inputs=[synthetic_file, rd.sft_baseline],
        started=started,
        engine=engine,
        counts=counts,
    )
