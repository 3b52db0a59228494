"""The `srlm` command line: the whole loop (`srlm run`), or one stage at a time.

    srlm run [CONFIG] [--set dpo.beta=0.2 ...] [--force] [-v]
    srlm sft RUN_DIR [-v]
    srlm prompts|candidates|judge|pairs|dpo RUN_DIR --iteration T [-v]
    srlm verify RUN_DIR
    srlm ablate CONFIG [--seeds 0,1,2] [--variants a,b] [--out DIR]
    srlm world build|pretrain ...
    srlm data oasst|eft ...
    srlm model import GGUF_FILE|smollm2 OUT_DIR
    srlm bench [--model world|MODEL_DIR] [--quick] [--e2e] [--out bench/bench-world.json]
    srlm plan CONFIG [--set ...] [--json]

Each stage shows a start line, a progress bar and a result line; RUN_DIR/run.log keeps what the
console showed and RUN_DIR/logs/<stage>.log the libraries' logs (`-v`: shown live too).

Stage verbs read the resolved config stored in RUN_DIR/config.yaml; their `--set` takes only the
settings that cannot change results (`srlm.config.EXECUTION_KEYS`: server URL, concurrency,
timeouts, retries, cache dir …), e.g. `srlm judge RUN_DIR -t 1 --set backend.base_url=…`.

Exit status: 0 done, 2 an error (one line), 3 `srlm run` stopped early (the judge left no
usable pair; RUN_DIR/stopped_early.json says why), 1 `srlm verify` found problems.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer

from srlm.config import Config, ConfigError, default_config_path, load_config
from srlm.console import console, run_logs
from srlm.data.io import DataError, WriteError
from srlm.preflight import check_inputs
from srlm.rundir import RunDir

app = typer.Typer(
    help="Self-Rewarding Language Models: a model that writes, answers and judges its own prompts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

RunDirArg = Annotated[Path, typer.Argument(help="a run directory written by `srlm run`")]
IterationOpt = Annotated[int, typer.Option("--iteration", "-t", min=1, help="iteration number (1 = uses M1)")]
ExecutionSetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="section.key=value for settings that cannot change results (server URL, concurrency …)"),
]
VerboseOpt = Annotated[
    bool,
    typer.Option("--verbose", "-v", help="also show the libraries' logs and warnings live (always in RUN_DIR/logs/)"),
]
STOPPED_EARLY = 3  # exit status of `srlm run` when an iteration stopped early


def _expected_errors() -> tuple[type[BaseException], ...]:
    from srlm.backends.openai import ServerError
    from srlm.method.judging.template import TemplateError
    from srlm.models.loading import ModelError
    from srlm.stages.pairs import DegenerateJudgeError
    from srlm.stages.prompts import NoPromptsError
    from srlm.training.common import TrainingError

    errors = (ConfigError, DataError, ModelError, DegenerateJudgeError, NoPromptsError, TrainingError)
    return (*errors, ServerError, TemplateError, WriteError, FileNotFoundError)


def friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Known failures print one clear message and exit 2 instead of a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except _expected_errors() as error:
            console.print(f"[red]error:[/red] {error}")
            raise typer.Exit(2) from None

    return wrapper


def _stored(run_dir: Path, overrides: list[str] | None = None) -> tuple[Config, RunDir]:
    """The run's stored config, with `--set` overrides of execution settings only."""
    from srlm.config import EXECUTION_KEYS
    from srlm.rundir import result_differences

    stored = load_config(run_dir / "config.yaml")
    if not overrides:
        return stored, RunDir(run_dir)
    cfg = load_config(run_dir / "config.yaml", overrides)
    if changed := result_differences(stored.to_dict(), cfg.to_dict()):
        raise ConfigError(
            f"--set {', '.join(changed)}: a stage verb may change only settings that leave results alone "
            f"({', '.join(EXECUTION_KEYS)}; backend.batch_size on servers with samples_per_request 1); "
            "use `srlm run CONFIG --set … --force` for others"
        )
    return cfg, RunDir(run_dir)


@app.command()
@friendly
def run(
    config: Annotated[Path | None, typer.Argument(help="YAML config; default: the built-in world run")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="section.key=value, repeatable")] = None,
    force: Annotated[bool, typer.Option(help="continue a run dir whose stored config differs")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Run the whole self-rewarding loop (resumes an interrupted run)."""
    from srlm.loop import run as run_loop

    cfg = load_config(config or default_config_path(), overrides or [])
    rd = run_loop(cfg, force=force, verbose=verbose)
    if (rd.root / "stopped_early.json").is_file():
        raise typer.Exit(STOPPED_EARLY)


@app.command()
@friendly
def sft(
    run_dir: RunDirArg,
    baseline: Annotated[bool, typer.Option(help="train the IFT-only baseline")] = False,
    overrides: ExecutionSetOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """M1 = SFT(M0, IFT + EFT) (or the IFT-only baseline)."""
    from srlm.training import sft as stage

    cfg, rd = _stored(run_dir, overrides)
    check_inputs(cfg, run=rd, stage="sft")
    with run_logs(rd.root, f"srlm sft {run_dir}", verbose=verbose):
        stage.run(cfg, rd, ift_only=baseline)


def _with_engine(name: str) -> Callable[[Path, int, list[str] | None, bool], None]:
    def command(
        run_dir: RunDirArg, iteration: IterationOpt = 1, overrides: ExecutionSetOpt = None, verbose: VerboseOpt = False
    ) -> None:
        import importlib

        from srlm.backends import engine_for

        cfg, rd = _stored(run_dir, overrides)
        check_inputs(cfg, run=rd, stage=name, iteration=iteration)
        stage = importlib.import_module(f"srlm.stages.{name}")
        logs = run_logs(rd.root, f"srlm {name} {run_dir} -t {iteration}", verbose=verbose)
        with logs, engine_for(cfg, str(rd.model(iteration))) as engine:
            stage.run(cfg, rd, iteration, engine)

    return command


for _name, _help in [
    ("prompts", "Write new prompts for an iteration (self-instruct or a fixed pool)."),
    ("candidates", "Sample N answers per prompt with M_t."),
    ("judge", "Score every candidate k times with M_t as judge."),
]:
    app.command(_name, help=_help)(friendly(_with_engine(_name)))


@app.command()
@friendly
def pairs(
    run_dir: RunDirArg, iteration: IterationOpt = 1, overrides: ExecutionSetOpt = None, verbose: VerboseOpt = False
) -> None:
    """Build best-vs-worst preference pairs from the judgments."""
    from srlm.stages import pairs as stage

    cfg, rd = _stored(run_dir, overrides)
    check_inputs(cfg, run=rd, stage="pairs", iteration=iteration)
    with run_logs(rd.root, f"srlm pairs {run_dir} -t {iteration}", verbose=verbose):
        stage.run(cfg, rd, iteration)


@app.command()
@friendly
def dpo(
    run_dir: RunDirArg, iteration: IterationOpt = 1, overrides: ExecutionSetOpt = None, verbose: VerboseOpt = False
) -> None:
    """M(t+1) = DPO(M(t), pairs of iteration t)."""
    from srlm.training import dpo as stage

    cfg, rd = _stored(run_dir, overrides)
    check_inputs(cfg, run=rd, stage="dpo", iteration=iteration)
    with run_logs(rd.root, f"srlm dpo {run_dir} -t {iteration}", verbose=verbose):
        stage.run(cfg, rd, iteration)


@app.command("eval")
@friendly
def eval_(
    run_dir: RunDirArg,
    alpaca_eval: Annotated[
        Path | None,
        typer.Option("--alpaca-eval", help="alpaca_eval's results (leaderboard.csv / annotations.json) to show"),
    ] = None,
    overrides: ExecutionSetOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Evaluate every model of a run: eval/metrics.json and the summary table."""
    from srlm.stages import evaluate

    cfg, rd = _stored(run_dir, overrides)
    check_inputs(cfg, run=rd, stage="eval")
    with run_logs(rd.root, f"srlm eval {run_dir}", verbose=verbose):
        evaluate.run(cfg, rd, alpaca_eval_dir=alpaca_eval)


@app.command()
@friendly
def report(run_dirs: Annotated[list[Path], typer.Argument(help="run dirs; several = side by side")]) -> None:
    """Write report.html + report.md from each run's eval/metrics.json."""
    from srlm.report import write_report

    console.print(f"report -> {write_report(run_dirs)}")


@app.command()
def verify(run_dir: RunDirArg) -> None:
    """Check a run's artifacts against their manifests (hashes, rows, inputs, leftovers); exit 1 on any problem."""
    from rich.console import Console

    from srlm.verify import problems_table, verify_run

    checked, problems = verify_run(run_dir)
    out = Console(highlight=False, soft_wrap=True)
    if problems:
        out.print(problems_table(run_dir, problems))
        raise typer.Exit(1)
    out.print(f"{run_dir}: {checked} artifacts match their manifests; no problems")


@app.command()
@friendly
def ablate(
    config: Annotated[Path, typer.Argument(help="YAML config every variant starts from")],
    seeds: Annotated[str, typer.Option(help="comma-separated loop.seed values, one run each")] = "0,1,2",
    variants: Annotated[str | None, typer.Option(help="comma-separated subset of the variants; default all")] = None,
    out: Annotated[
        Path | None, typer.Option(help="where the runs and the table go; default runs/ablate-<config>")
    ] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="section.key=value for every variant")] = None,
) -> None:
    """Run the paper's ablations and the follow-up fixes as separate runs; one report and table (docs/ablations.md)."""
    from srlm.ablate import parse_list, run_ablations

    try:
        seed_list = [int(seed) for seed in parse_list(seeds, "seeds")]
    except ValueError:
        raise ConfigError(f"--seeds: expected comma-separated integers, got {seeds!r}") from None
    names = parse_list(variants, "variants") if variants else None
    _, failed = run_ablations(config, overrides or [], seed_list, names, out or Path("runs") / f"ablate-{config.stem}")
    if failed:
        console.print(f"[red]{len(failed)} run(s) failed; rerun the same command to retry them[/red]")
        raise typer.Exit(1)


@app.command()
@friendly
def bench(
    model: Annotated[str, typer.Option(help="'world' (the shipped world M0) or a HF model dir")] = "world",
    quick: Annotated[bool, typer.Option(help="CI-sized run (ratios only indicative)")] = False,
    e2e: Annotated[bool, typer.Option(help="also time the world's default run at reduced size (minutes)")] = False,
    threads: Annotated[int | None, typer.Option(min=1, help="torch threads; default: torch's own setting")] = None,
    only: Annotated[str | None, typer.Option(help="comma-separated: generation,scaling,training; default all")] = None,
    out: Annotated[Path | None, typer.Option(help="JSON results; default bench/bench-<model>[-quick].json")] = None,
) -> None:
    """Speed ratios side by side: generation paths, shared judge prefill, DPO vs SFT, scaling (docs/performance.md)."""
    from srlm.bench.suite import SECTIONS, run_bench

    sections = tuple(s.strip() for s in only.split(",")) if only else SECTIONS
    if unknown := set(sections) - set(SECTIONS):
        raise ConfigError(f"--only: unknown section(s) {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    name = "world" if model == "world" else Path(model).name
    default_out = Path("bench") / f"bench-{name}{'-quick' if quick else ''}.json"
    run_bench(model, out or default_out, quick=quick, e2e=e2e, threads=threads, sections=sections)


@app.command()
@friendly
def plan(
    config: Annotated[Path, typer.Argument(help="YAML config to plan")],
    overrides: Annotated[list[str] | None, typer.Option("--set", help="section.key=value, repeatable")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
) -> None:
    """What one iteration costs (tokens, GPU-hours for 7B/70B) before it runs."""
    import json

    from srlm.plan import estimate, measure, print_plan

    cfg = load_config(config, overrides or [])
    result = estimate(cfg, measure(cfg))
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print_plan(result)


def _mount_world() -> None:
    from srlm.world.cli import app as world_app

    app.add_typer(world_app, name="world")


def _mount_data() -> None:
    from srlm.data.cli import app as data_app

    for command in data_app.registered_commands:  # the same one-line errors as srlm's own commands
        command.callback = friendly(command.callback) if command.callback else None
    app.add_typer(data_app, name="data")


def _mount_model() -> None:
    from srlm.models.cli import app as model_app

    app.add_typer(model_app, name="model")


_mount_world()
_mount_data()
_mount_model()


def main() -> None:  # pragma: no cover
    sys.exit(app())
