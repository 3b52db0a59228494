"""`backend.num_processes`: HF generation in 2 worker processes equals the 1-process run, row for row."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from srlm.backends import engine_for
from srlm.backends.base import GenItem, SamplingParams, row_seed, user
from srlm.backends.parallel import ParallelHFEngine, WorkerError
from srlm.config import BackendSection, ModelSection, config_from_dict
from srlm.data.io import append_jsonl, read_partial, read_rows, write_jsonl
from srlm.rundir import RunDir
from srlm.stages import candidates
from srlm.stages.common import generate_missing
from tests.helpers import tiny_config

PROMPTS = [{"id": f"q{i}", "prompt": f"Say the words apple and {'river ' * (i % 3)}please {i}"} for i in range(7)]


def run_candidates(tmp_path: Path, model_dir: Path, num_processes: int) -> tuple[list[dict], list[int] | None]:
    tmp_path.mkdir()
    backend = {"batch_size": 4, "num_processes": num_processes}
    cfg = config_from_dict(tiny_config(tmp_path, model_dir, backend=backend, candidates={"n": 3}))
    rd = RunDir(Path(cfg.loop.run_dir))
    write_jsonl(rd.artifact(1, "prompts"), PROMPTS)
    with engine_for(cfg, str(model_dir)) as engine:
        candidates.run(cfg, rd, 1, engine)
        per_worker = getattr(engine, "batches_per_worker", None)
    return read_rows(rd.artifact(1, "candidates"), {"id": str, "response": str}), per_worker


@pytest.mark.slow  # about a minute on 2 CPU cores: each worker imports torch and loads the model
def test_two_processes_give_the_one_process_texts(tmp_path: Path, tiny_model_dir: Path) -> None:
    one, in_process = run_candidates(tmp_path / "one", tiny_model_dir, 1)
    assert in_process is None  # 1 process: the plain HFEngine
    two, per_worker = run_candidates(tmp_path / "two", tiny_model_dir, 2)
    assert per_worker == [3, 3]  # 21 rows in 6 batches of 4, dealt 0 1 0 1 0 1
    assert len(two) == 21 and len({row["id"] for row in two}) == 21
    assert two == one  # same rows, same texts, same order
    assert len({row["response"] for row in two}) > 5


def test_only_missing_batches_are_dealt_out_and_each_row_is_stored_once(tmp_path: Path, tiny_model_dir: Path) -> None:
    model = ModelSection(path=str(tiny_model_dir))
    engine = ParallelHFEngine(str(tiny_model_dir), model, BackendSection(batch_size=3, num_processes=2))
    items = [GenItem(f"r{i}", user(f"Say the words stone {i}"), row_seed(0, "t", f"r{i}")) for i in range(12)]
    params = SamplingParams(1.0, 0.9, 6)
    plan = engine.plan_batches(items)
    partial = tmp_path / "texts.jsonl.partial"
    append_jsonl(partial, [{"id": item.id, "text": "from before"} for item in plan[1]])  # one batch done earlier
    done = {row["id"]: row["text"] for row in read_partial(partial)}
    try:
        generate_missing(engine, items, params, partial, done, lambda n: None)
    finally:
        engine.close()
    assert engine.batches_per_worker == [2, 1]  # the 3 batches still to run
    stored = [row["id"] for row in read_partial(partial)]
    assert sorted(stored) == sorted(item.id for item in items)  # every row once
    assert all(done[item.id] == "from before" for item in plan[1])
    assert sum(text == "from before" for text in done.values()) == 3


def test_a_worker_that_cannot_load_the_model_is_a_clear_error(tmp_path: Path, tiny_model_dir: Path) -> None:
    broken = Path(shutil.copytree(tiny_model_dir, tmp_path / "broken"))
    (broken / "model.safetensors").write_bytes(b"not weights")
    engine = ParallelHFEngine(str(broken), ModelSection(path=str(broken)), BackendSection(num_processes=2))
    item = GenItem("r0", user("Say the words stone"), 1)
    with pytest.raises(WorkerError, match=r"generation worker failed on .*broken"):
        engine.generate_batch([item], SamplingParams(0.0, 1.0, 4))
    assert engine._workers == []  # stopped after the failure
