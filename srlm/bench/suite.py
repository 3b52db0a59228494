"""`srlm bench`: speed ratios of generation, judging and training, measured side by side.

    srlm bench [--model world|MODEL_DIR] [--quick] [--e2e] [--threads N] [--only generation,scaling,training]
               [--out bench/bench-world.json]

Every ratio compares paths measured in one process on one machine: a warm-up each, then
rounds in which every path runs once (interleaved, so load from other processes falls on all
paths alike), and the median of the rounds (>= 3). Absolute numbers move with the machine and
its load; the ratios are what docs/performance.md tracks. Sections: generation (naive
per-sequence `generate`, plain batched `generate`, srlm's HFEngine without and with the shared
prefill), scaling (engine seconds at 4 prompt counts, then at 4 N and 4 k on fixed prompts, a line
through each), training (DPO vs SFT step per token,
`training.py`), and with `--e2e` the default run at reduced size in a child process
(its peak memory is the child's `ru_maxrss`; seconds per stage come from the run dir's
manifests).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from srlm.bench.timing import FULL, QUICK
from srlm.config import Config, default_config_path, load_config
from srlm.console import console
from srlm.models.loading import resolve_model_path

if TYPE_CHECKING:
    from srlm.bench.generation import Workload


def bench_config(model: str) -> tuple[Config, str]:
    """The default run's settings (N, k, sampling, batch size, trainers), pointed at `model`."""
    cfg = load_config(default_config_path())
    if model != "world":
        cfg.model.path = model
    return cfg, resolve_model_path(cfg.model.path)


def machine() -> dict[str, Any]:
    import platform

    import torch
    import transformers
    import trl

    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "trl": trl.__version__,
    }


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)  # Linux reports KiB


SECTIONS = ("generation", "scaling", "training")


def run_bench(
    model: str, out: Path, *, quick: bool, e2e: bool, threads: int | None, sections: tuple[str, ...] = SECTIONS
) -> dict[str, Any]:
    """Run the sections, print the table, write the JSON; return the results."""
    import torch

    from srlm.bench.generation import generation_section, make_workload, scaling_section
    from srlm.bench.training import training_section

    quiet_libraries()
    if threads:
        torch.set_num_threads(threads)
    sizes = QUICK if quick else FULL
    cfg, path = bench_config(model)
    started = time.perf_counter()
    results: dict[str, Any] = {"model": model, "model_path": path, "quick": quick, "machine": machine()}
    workload: Workload = make_workload(cfg, max(sizes.prompts, *sizes.scaling))
    console.print(f"bench: {model} ({path}), {'quick' if quick else 'full'} sizes, {torch.get_num_threads()} threads")
    if "generation" in sections:
        results["generation"] = generation_section(cfg, path, workload, sizes)
    if "scaling" in sections:
        results["scaling"] = scaling_section(cfg, path, workload, sizes)
    if "training" in sections:
        results["training"] = training_section(cfg, path, sizes.train_pairs, sizes.repeats)
    if e2e:
        results["e2e"] = end_to_end(quick=quick, threads=threads)
    results["ratios"] = collect_ratios(results)
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["machine"]["peak_rss_mb"] = peak_rss_mb()
    results["machine"]["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    out_console = Console(highlight=False)
    if not out_console.is_terminal:
        out_console.width = 160  # a log file gets the whole table, not 80 columns
    out_console.print(results_table(results))
    console.print(f"bench -> {out} ({results['seconds']:.0f} s)")
    return results


def quiet_libraries() -> None:
    """No progress bars or deprecation chatter from transformers / datasets / TRL inside the measurements."""
    import warnings

    import datasets
    import transformers

    os.environ["TQDM_DISABLE"] = "1"  # TRL's reference log-prob pass reads it
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*pin_memory.*")  # the trainers' CPU dataloader
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def collect_ratios(results: dict[str, Any]) -> dict[str, float]:
    """The headline ratios of the sections that ran (> 1: srlm's path faster, except DPO ÷ SFT cost and the
    scaling fits' R², which is near 1 for a straight line)."""
    ratios: dict[str, float] = {}
    if "generation" in results:
        gen = results["generation"]
        for part in ("combined", "candidates", "judge"):
            name = "generation" if part == "combined" else part
            ratios[f"{name}_engine_vs_naive"] = gen[part]["engine_vs_naive"]
            ratios[f"{name}_engine_vs_batched"] = gen[part]["engine_vs_batched"]
        ratios["judge_shared_prefill_vs_separate"] = gen["judge"]["shared_vs_separate"]
        ratios["candidates_shared_prefill_vs_separate"] = gen["candidates"]["shared_vs_separate"]
        ratios["generation_kernel_vs_other"] = gen["combined"]["kernel_vs_other"]
    if "training" in results:
        ratios["dpo_vs_sft_seconds_per_token"] = results["training"]["dpo_vs_sft_seconds_per_token"]
    if "scaling" in results:
        ratios["scaling_seconds_per_prompt_largest_vs_smallest"] = results["scaling"]["largest_vs_smallest"]
        for x in ("n", "k"):
            if x in results["scaling"]:
                ratios[f"scaling_{x}_fit_r2"] = results["scaling"][x]["fit_r2"]
    return ratios


def results_table(results: dict[str, Any]) -> Table:
    m = results["machine"]
    table = Table(
        title=f"srlm bench: {results['model']} · {m['torch_threads']} torch threads on {m['cpu_count']} CPUs · "
        f"load {m['load_average_1min']} → {m['load_average_1min_after']}",
        show_lines=True,
    )
    for column in ("measure", "value", "setup"):
        table.add_column(column, overflow="fold")
    if "generation" in results:
        _generation_rows(table, results["generation"])
    if "training" in results:
        training = results["training"]
        ratio_text = f"{training['dpo_vs_sft_seconds_per_token']:.2f}×"
        table.add_row("DPO ÷ SFT seconds per token", ratio_text, training["setup"])
    if "scaling" in results:
        scaling = results["scaling"]
        points = zip(scaling["prompts"], scaling["seconds_per_prompt"], strict=True)
        curve = ", ".join(f"{n}: {s:.3f}" for n, s in points) + f" (fit R² {scaling['fit_r2']:.3f})"
        table.add_row("scaling: seconds per prompt", curve, scaling["setup"])
        for x, label in (("n", "N"), ("k", "k")):
            if x in scaling:
                sweep = scaling[x]
                points = zip(sweep["values"], sweep["seconds_per_row"], strict=True)
                curve = ", ".join(f"{label}={v}: {s:.4f}" for v, s in points) + f" (fit R² {sweep['fit_r2']:.3f})"
                table.add_row(f"scaling: seconds per sequence vs {label}", curve, sweep["setup"])
    if "e2e" in results:
        e2e = results["e2e"]
        stages = ", ".join(f"{name} {s:.0f}" for name, s in e2e["stage_seconds"].items())
        table.add_row("end to end (reduced)", f"{e2e['wall_seconds']:.0f} s, {e2e['peak_rss_mb']:.0f} MB", stages)
    return table


def _generation_rows(table: Table, gen: dict[str, Any]) -> None:
    for part in ("combined", "candidates", "judge"):
        row = gen[part]
        rates = ", ".join(f"{p} {row['tokens_per_second'][p]:.0f}" for p in row["tokens_per_second"])
        table.add_row(f"{part}: engine ÷ naive", f"{row['engine_vs_naive']:.1f}×", f"new tokens/s: {rates}")
        table.add_row(f"{part}: engine ÷ batched", f"{row['engine_vs_batched']:.2f}×", gen["setup"][part])
    for part in ("judge", "candidates"):
        row = gen[part]
        table.add_row(
            f"{part}: shared ÷ separate prefill", f"{row['shared_vs_separate']:.2f}×", gen["setup"]["prefill"]
        )
    for part in ("judge", "candidates"):
        row = gen[part]
        table.add_row(f"{part}: attention kernel ÷ the other", f"{row['kernel_vs_other']:.2f}×", gen["setup"]["kernel"])


def reduced_default_overrides(run_dir: Path, quick: bool) -> list[str]:
    """The default run with fewer rows: every stage runs, each on less data."""
    small = {"ift": 200, "eft": 200, "prompts": 24, "eval": 100, "epochs": 2}
    scale = small if quick else {"ift": 500, "eft": 500, "prompts": 60, "eval": 300, "epochs": 4}
    return [
        f"loop.run_dir={run_dir}",
        f"world.ift={scale['ift']}",
        f"world.eft_prompts={scale['eft']}",
        f"world.eval={scale['eval']}",
        "world.dev=50",
        "world.judge_eval=60",
        f"sft.epochs={scale['epochs']}",
        f"prompts.n={scale['prompts']}",
    ]


def stage_seconds(run_dir: Path) -> dict[str, float]:
    """Seconds per stage from every manifest of a run dir, in the order they were written."""
    manifests = sorted(run_dir.rglob("*.manifest.json"), key=lambda p: p.stat().st_mtime)
    seconds: dict[str, float] = {}
    for path in manifests:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(manifest.get("seconds"), int | float):
            name = str(manifest.get("stage", path.name))
            seconds[name] = round(seconds.get(name, 0.0) + manifest["seconds"], 2)
    return seconds


def end_to_end(*, quick: bool, threads: int | None) -> dict[str, Any]:
    """`srlm run` (default config, reduced) in a child process: wall time, stages, peak memory."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        overrides = reduced_default_overrides(run_dir, quick)
        command = [sys.executable, "-m", "srlm", "run", *[x for o in overrides for x in ("--set", o)]]
        env = os.environ | ({"OMP_NUM_THREADS": str(threads)} if threads else {})
        started = time.perf_counter()
        child = subprocess.run(command, env=env, capture_output=True, text=True)
        if child.returncode != 0:
            raise RuntimeError(f"bench --e2e: srlm run failed ({child.returncode}):\n{child.stderr[-3000:]}")
        wall = time.perf_counter() - started
        stages = stage_seconds(run_dir)
        stopped = (run_dir / "stopped_early.json").is_file()
    return {
        "wall_seconds": round(wall, 1),
        "stage_seconds": stages,
        "other_seconds": round(wall - sum(stages.values()), 1),
        "peak_rss_mb": peak_rss_mb(resource.RUSAGE_CHILDREN),
        "stopped_early": stopped,
        "overrides": [o for o in overrides if not o.startswith("loop.run_dir")],
        "setup": "srlm run (default config) with the overrides, in a child process; peak memory = its ru_maxrss",
    }
