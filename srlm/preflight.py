"""Fail fast: every input a run needs, checked before a model loads or anything is written.

    check_inputs(cfg)                                   # `srlm run`, before the run dir is touched
    check_inputs(cfg, run=rd, stage="candidates", iteration=2)   # a stage verb

- Models: `model.path` (stages that start from M0) and, with engine hf, `eval.judge_model` must be a
  local model dir (with `config.json`), `world:m0`, or a hub id already in the Hugging Face cache.
  With `HF_HUB_OFFLINE` set nothing else is looked at; otherwise the hub is asked once, without
  retries, whether the id exists (it is then downloaded when the stage loads it). A stage verb's
  own model (`m<t>` for prompts / candidates / judge / dpo) must be finished.
- Data: `data.ift`, `data.eft`, every held-out prompt file (`eval.prompts`, `data.eval_prompts`),
  `eval.judge_eval`, the prompt pool (`prompts.source: file`) and a `judge.template` file must
  exist and parse (the same readers the stages use, so an error names the file, line and field);
  `srlm run` checks them all, a stage verb those its stage reads (`READS`). Files a world run
  builds itself (`<run_dir>/world/`) are left to it until they exist.
- The run dir (`loop.run_dir`) must be a directory this process can create or write.

Every problem found is one line naming the setting and what was looked for; all of them are
reported together, as one `ConfigError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from srlm.config import Config, ConfigError
from srlm.data.io import DataError, read_rows
from srlm.rundir import RunDir, is_done

# Stages whose model is M0 (`model.path`), and those that use the model of their iteration.
FROM_M0 = ("run", "sft")
FROM_MT = ("prompts", "candidates", "judge", "dpo")
_TRUE = {"1", "on", "yes", "true"}


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def _looks_local(path: str) -> bool:
    # A hub id is "name" or "org/name"; anything else is meant as a local dir.
    return path.startswith((".", "/", "~")) or path.count("/") > 1 or (os.sep != "/" and os.sep in path)


def model_problem(path: str, key: str) -> str | None:
    """Why `path` (the value of setting `key`) cannot be loaded as a model, or None when it can."""
    if path.startswith("world:"):
        if path != "world:m0":
            return f"{key}: {path!r} is not a built-in model (the built-in base model is 'world:m0')"
        from srlm.world import shipped_m0_path

        found = (shipped_m0_path() / "config.json").is_file()
        return None if found else f"{key}: the built-in M0 is missing ({shipped_m0_path()}); run `srlm world pretrain`"
    local = Path(path).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            return f"{key}: {path} is not a Hugging Face model dir (no {local / 'config.json'})"
        return None
    if _looks_local(path):
        return f"{key}: model dir not found: {path}"
    return _hub_problem(path, key)


def _hub_problem(repo_id: str, key: str) -> str | None:
    from huggingface_hub import constants, try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(repo_id, "config.json")
    except ValueError:  # not a valid repo id either
        return f"{key}: {repo_id!r} is neither a local model dir nor a valid Hugging Face hub id"
    if isinstance(cached, str):
        return None
    where = f"not a local dir and not in the Hugging Face cache ({constants.HF_HUB_CACHE})"
    if _hub_offline():
        return f"{key}: {repo_id!r} is {where}, and HF_HUB_OFFLINE is set; download it first or give a local dir"
    from huggingface_hub import HfApi

    try:
        HfApi().model_info(repo_id, timeout=10)
    except Exception as error:  # not found, gated, unreachable: one line, no retries
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"{key}: {repo_id!r} is {where}, and the hub did not serve it ({type(error).__name__}: {reason})"
    return None


def _world_built(cfg: Config, path: str) -> bool:
    """A file the world stage writes into the run dir (checked by the world stage itself)."""
    return cfg.world is not None and Path(path).resolve().is_relative_to(cfg.world_dir.resolve())


# The data each stage reads ("run" reads them all): seed sets, held-out prompts, prompt pool, judge prompt.
READS = {
    "run": ("seed", "held_out", "pool", "template"),
    "sft": ("seed", "held_out", "template"),
    "prompts": ("seed", "held_out", "pool"),
    "judge": ("template",),
    "eval": ("held_out", "template"),
}


def data_problems(cfg: Config, stage: str = "run") -> list[str]:
    """Every data file the stage reads, read with the stages' own readers."""
    from srlm.data.decontaminate import prompt_texts
    from srlm.method.judging.template import TemplateError, load_template

    reads = READS.get(stage, ())
    checks: list[tuple[str, str | None, Callable[[str], object]]] = []
    if "seed" in reads:
        checks += [
            ("data.ift", cfg.data.ift, lambda p: read_rows(p, {"prompt": str, "response": str})),
            (
                "data.eft",
                cfg.data.eft,
                lambda p: read_rows(p, {"prompt": str, "response": str, "judgment": str}, may_be_blank={"response"}),
            ),
        ]
    if "held_out" in reads:
        checks += [(f"eval.prompts[{i}]", path, prompt_texts) for i, path in enumerate(cfg.eval.prompts)]
        checks += [(f"data.eval_prompts[{i}]", path, prompt_texts) for i, path in enumerate(cfg.data.eval_prompts)]
        judge_eval = cfg.eval.judge_eval
        checks.append(("eval.judge_eval", judge_eval, lambda p: read_rows(p, {"prompt": str, "responses": list})))
    if "pool" in reads and cfg.prompts.source == "file":
        checks.append(("prompts.path", cfg.prompts.path, lambda p: read_rows(p, {"prompt": str})))
    problems = []
    for key, path, read in checks:
        if not path or (_world_built(cfg, path) and not Path(path).exists()):
            continue
        if not Path(path).exists():
            problems.append(f"{key}: file not found: {path}")
            continue
        try:
            read(path)
        except DataError as error:
            problems.append(f"{key}: {error}")
    template = cfg.judge.template
    if "template" in reads and template and not template.startswith("world:"):
        try:
            load_template(template)
        except (TemplateError, OSError) as error:
            problems.append(f"judge.template: {error}")
    return problems


def run_dir_problem(root: Path) -> str | None:
    """Why `loop.run_dir` cannot be created or written, or None."""
    if root.exists():
        if not root.is_dir():
            return f"loop.run_dir: {root} exists and is not a directory"
        existing = root
    else:
        existing = root.parent
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            return f"loop.run_dir: {root} cannot be created: {existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"loop.run_dir: {existing} is not writable by this user (run dir {root})"
    return None


def check_inputs(cfg: Config, *, run: RunDir | None = None, stage: str = "run", iteration: int | None = None) -> None:
    """Raise one ConfigError listing every input problem; return when there is none."""
    problems: list[str] = []
    if stage in FROM_M0:
        problems.append(model_problem(cfg.model.path, "model.path") or "")
    local = cfg.backend.engine == "hf"  # servers load their model themselves; the judge model is a name there
    if stage in ("run", "eval") and cfg.eval.judge_model and local:
        problems.append(model_problem(cfg.eval.judge_model, "eval.judge_model") or "")
    if run is not None and stage in FROM_MT and iteration is not None and local and not is_done(run.model(iteration)):
        before = f"srlm sft {run.root}" if iteration == 1 else f"srlm dpo {run.root} --iteration {iteration - 1}"
        problems.append(
            f"{stage}: the model of iteration {iteration} ({run.model(iteration)}) is not finished; "
            f"run `{before}` first"
        )
    problems += data_problems(cfg, stage)
    problems.append(run_dir_problem(run.root if run is not None else Path(cfg.loop.run_dir)) or "")
    problems = [problem for problem in problems if problem]
    if problems:
        raise ConfigError("\n".join(problems))
