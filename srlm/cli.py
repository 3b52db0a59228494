"""The `srlm` command line: the whole loop (`srlm run`), or one stage at a time.

    srlm run [CONFIG] [--set dpo.beta=0.2 ...] [--force]
    srlm sft RUN_DIR
    srlm prompts|candidates|judge|pairs|dpo RUN_DIR --iteration T
    srlm world build|pretrain ...

Stage verbs read the resolved config stored in RUN_DIR/config.yaml.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer

from srlm.config import Config, ConfigError, load_config
from srlm.data.io import DataError
from srlm.rundir import RunDir
from srlm.stages.common import console

app = typer.Typer(
    help="Self-Rewarding Language Models: a model that writes, answers and judges its own prompts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

RunDirArg = Annotated[Path, typer.Argument(help="a run directory written by `srlm run`")]
IterationOpt = Annotated[int, typer.Option("--iteration", "-t", min=1, help="iteration number (1 = uses M1)")]


def _expected_errors() -> tuple[type[BaseException], ...]:
    from srlm.models import ModelError
    from srlm.stages.pairs import DegenerateJudgeError
    from srlm.stages.prompts import NoPromptsError
    from srlm.stages.training import TrainingError

    errors = (ConfigError, DataError, ModelError, DegenerateJudgeError, NoPromptsError, TrainingError)
    return (*errors, FileNotFoundError)


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


def default_config_path() -> Path:
    return Path(str(resources.files("srlm") / "configs" / "default.yaml"))


def _stored(run_dir: Path) -> tuple[Config, RunDir]:
    return load_config(run_dir / "config.yaml"), RunDir(run_dir)


@app.command()
@friendly
def run(
    config: Annotated[Path | None, typer.Argument(help="YAML config; default: the built-in world run")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="section.key=value, repeatable")] = None,
    force: Annotated[bool, typer.Option(help="continue a run dir whose stored config differs")] = False,
) -> None:
    """Run the whole self-rewarding loop (resumes an interrupted run)."""
    from srlm.loop import run as run_loop

    cfg = load_config(config or default_config_path(), overrides or [])
    run_loop(cfg, force=force)


@app.command()
@friendly
def sft(
    run_dir: RunDirArg, baseline: Annotated[bool, typer.Option(help="train the IFT-only baseline")] = False
) -> None:
    """M1 = SFT(M0, IFT + EFT) (or the IFT-only baseline)."""
    from srlm.stages import sft as stage

    cfg, rd = _stored(run_dir)
    stage.run(cfg, rd, ift_only=baseline)


def _with_engine(name: str) -> Callable[[Path, int], None]:
    def command(run_dir: RunDirArg, iteration: IterationOpt = 1) -> None:
        import importlib

        from srlm.loop import engine_for

        cfg, rd = _stored(run_dir)
        stage = importlib.import_module(f"srlm.stages.{name}")
        with engine_for(cfg, str(rd.model(iteration))) as engine:
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
def pairs(run_dir: RunDirArg, iteration: IterationOpt = 1) -> None:
    """Build best-vs-worst preference pairs from the judgments."""
    from srlm.stages import pairs as stage

    cfg, rd = _stored(run_dir)
    stage.run(cfg, rd, iteration)


@app.command()
@friendly
def dpo(run_dir: RunDirArg, iteration: IterationOpt = 1) -> None:
    """M(t+1) = DPO(M(t), pairs of iteration t)."""
    from srlm.stages import dpo as stage

    cfg, rd = _stored(run_dir)
    stage.run(cfg, rd, iteration)


@app.command("eval")
@friendly
def eval_(run_dir: RunDirArg) -> None:
    """Evaluate every model of a run: eval/metrics.json and the summary table."""
    from srlm.stages import evaluate

    cfg, rd = _stored(run_dir)
    evaluate.run(cfg, rd)


@app.command()
@friendly
def report(run_dirs: Annotated[list[Path], typer.Argument(help="run dirs; several = side by side")]) -> None:
    """Write report.html + report.md from each run's eval/metrics.json."""
    from srlm.report import write_report

    console.print(f"report -> {write_report(run_dirs)}")


def _mount_world() -> None:
    from srlm.world.cli import app as world_app

    app.add_typer(world_app, name="world")


_mount_world()


def main() -> None:  # pragma: no cover
    sys.exit(app())
