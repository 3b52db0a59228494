"""What the user sees, and where everything else goes. Any layer may use it; it imports nothing of srlm.

On the console (stderr), each stage shows one start line (`begin`), one progress bar of its rows
or steps with rate and ETA (`progress`, `Bar`), and one result line. Everything else — the
libraries' logs and warnings, their progress bars, the trainers' per-step logs — goes to
`<run_dir>/logs/<stage>.log` while `run_logs` is active; with `verbose` it is also shown live.
`run_logs` also keeps the console's own output in `<run_dir>/run.log`, so a finished run can be
read later.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.control import Control
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text

# The libraries whose loggers write to stderr on their own; inside `run_logs` they write to logs/ instead.
LIBRARIES = ("transformers", "datasets", "trl", "peft", "accelerate", "huggingface_hub", "torch", "httpx")
DEFAULT_LOG = "srlm"  # logs/srlm.log: what happens outside a stage (model loads, the report)
log = logging.getLogger("srlm")  # srlm's own log records (per-step training logs): logs/ only


class RunConsole(Console):
    """rich's Console that also appends what it prints to a plain-text file (run.log) while one is open."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.copy: Console | None = None

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*objects, **kwargs)
        if self.copy is not None and not all(isinstance(o, Control) for o in objects):  # not a live display's redraw
            self.copy.print(*objects, **kwargs)

    def to_log(self, text: str) -> None:
        """A line for run.log only (not shown)."""
        if self.copy is not None:
            self.copy.print(text)


console = RunConsole(stderr=True, highlight=False, soft_wrap=True)


class RateColumn(ProgressColumn):
    """`12.3 rows/s`: the task's speed in its own unit."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "rows")
        return Text("" if speed is None else f"{speed:.1f} {unit}/s", style="progress.data.speed")


class Bar:
    """One stage's progress bar (transient: the result line replaces it; none where stderr is no terminal)."""

    def __init__(self, label: str, total: int, unit: str = "rows") -> None:
        self._progress = Progress(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(unit),
            RateColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[note]}"),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self._task = self._progress.add_task(label, total=total, unit=unit, note="")
        self._progress.start()

    def advance(self, n: int = 1) -> None:
        self._progress.advance(self._task, n)

    def note(self, text: str) -> None:
        """A short text after the ETA, e.g. the last training loss."""
        self._progress.update(self._task, note=text)

    def close(self) -> None:
        self._progress.stop()


@contextmanager
def progress(label: str, total: int, unit: str = "rows") -> Iterator[Callable[[int], None]]:
    """A stage's progress bar for `total` rows; yields `advance(n)`."""
    bar = Bar(label, total, unit)
    try:
        yield bar.advance
    finally:
        bar.close()


def slug(label: str) -> str:
    """A stage label as a log file name: 'iter1 candidates' -> 'iter1-candidates'."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", label).strip("-") or DEFAULT_LOG


class StageFiles(logging.Handler):
    """Writes every record to the current stage's file, `<logs>/<stage>.log` (appended)."""

    def __init__(self, logs: Path) -> None:
        super().__init__(logging.INFO)
        self.logs = logs
        self.stream: TextIO | None = None
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        self.switch(DEFAULT_LOG)

    def switch(self, name: str) -> None:
        if self.stream is not None:
            self.stream.close()
        self.logs.mkdir(parents=True, exist_ok=True)
        self.stream = (self.logs / f"{name}.log").open("a", encoding="utf-8")

    def write(self, text: str) -> None:
        if self.stream is not None and text:
            self.stream.write(text)
            self.stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write(self.format(record) + "\n")
        except Exception:  # a log line must never stop a run
            self.handleError(record)

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        super().close()


class _ToLog(io.TextIOBase):
    """sys.stdout inside a quiet run: whatever a library prints goes to the current stage's log."""

    def __init__(self, files: StageFiles) -> None:
        self.files = files

    def write(self, text: str) -> int:
        self.files.write(text)
        return len(text)

    def writable(self) -> bool:
        return True


@dataclass
class _Run:
    files: StageFiles
    verbose: bool
    stage: str = DEFAULT_LOG


_active: _Run | None = None


def begin(label: str, detail: str = "") -> None:
    """A stage starts: its start line, and from now on the libraries' logs go to logs/<label>.log."""
    if _active is not None:
        _active.files.switch(slug(label))
        _active.stage = slug(label)
    stamp = time.strftime("%H:%M:%S")
    console.print(f"[dim]{stamp}[/dim] [bold]{label}[/bold]{': ' + detail if detail else ''} …")


def end() -> None:
    """The stage is over: what follows (model loads, the next stage's setup) goes to logs/srlm.log."""
    if _active is not None and _active.stage != DEFAULT_LOG:
        _active.files.switch(DEFAULT_LOG)
        _active.stage = DEFAULT_LOG


def stage_log_file() -> Path | None:
    """The current stage's log file, for a child process's output; None when verbose or outside `run_logs`."""
    if _active is None or _active.verbose:
        return None
    return _active.files.logs / f"{_active.stage}.log"


def logs_dir(root: Path) -> Path:
    return Path(root) / "logs"


@contextmanager
def run_logs(root: Path, command: str, *, verbose: bool = False) -> Iterator[None]:
    """One srlm command on one run dir: run.log, logs/<stage>.log, and quiet libraries unless `verbose`.

    Nested calls (a stage verb inside `srlm run`) use the outer one.
    """
    global _active
    if _active is not None:
        yield
        return
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    files = StageFiles(logs_dir(root))
    copy = (root / "run.log").open("a", encoding="utf-8")
    console.copy = Console(file=copy, width=120, no_color=True, highlight=False, soft_wrap=True, emoji=False)
    console.to_log(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {command}")
    _active = _Run(files, verbose)
    try:
        with _libraries_to(files, verbose):
            yield
    except BaseException as error:  # the run's last line: why it stopped
        console.to_log(f"stopped: {type(error).__name__}: {error}")
        raise
    finally:
        _active = None
        console.copy = None
        copy.close()
        files.close()


@contextmanager
def _libraries_to(files: StageFiles, verbose: bool) -> Iterator[None]:
    """Library loggers, Python warnings, progress bars and stray prints into the stage files."""
    _import_libraries()  # they set up their own stderr handlers when first imported
    root = logging.getLogger()
    libraries = [logging.getLogger(name) for name in LIBRARIES]
    saved = [(library, library.handlers[:], library.propagate) for library in libraries]
    level = root.level
    root.addHandler(files)
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    shown = None
    if verbose:  # live as well: the libraries keep their own handlers and bars
        shown = logging.StreamHandler(sys.stderr)
        shown.setFormatter(files.formatter)
        for name in ("srlm", "py.warnings"):
            logging.getLogger(name).addHandler(shown)
    for library in libraries:
        if not verbose:
            library.handlers = []
        library.propagate = True
    logging.captureWarnings(True)
    with warnings.catch_warnings(), _quiet_bars(not verbose):
        warnings.simplefilter("default")  # each warning once per place, into the log
        stdout = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(_ToLog(files))
        try:
            with stdout:
                yield
        finally:
            logging.captureWarnings(False)
            root.removeHandler(files)
            root.setLevel(level)
            if shown is not None:
                for name in ("srlm", "py.warnings"):
                    logging.getLogger(name).removeHandler(shown)
            for library, handlers, propagate in saved:
                library.handlers, library.propagate = handlers, propagate


def _import_libraries() -> None:
    for name in ("transformers", "datasets"):
        with contextlib.suppress(ImportError):
            __import__(f"{name}.utils.logging")


@contextmanager
def _quiet_bars(quiet: bool) -> Iterator[None]:
    """No tqdm bars from transformers, datasets, huggingface_hub or TRL (TQDM_DISABLE) while `quiet`."""
    if not quiet:
        yield
        return
    restore: list[Callable[[], None]] = []
    previous = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"  # TRL's reference log-prob pass and plain tqdm bars read it
    try:
        import datasets.utils
        from transformers.utils import logging as transformers_logging

        if transformers_logging.is_progress_bar_enabled():  # also turns off huggingface_hub's bars
            transformers_logging.disable_progress_bar()
            restore.append(transformers_logging.enable_progress_bar)
        if not datasets.utils.are_progress_bars_disabled():
            datasets.utils.disable_progress_bars()
            restore.append(datasets.utils.enable_progress_bars)
    except ImportError:  # the pure parts of srlm run without them
        pass
    try:
        yield
    finally:
        for undo in restore:
            undo()
        if previous is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = previous
