"""Seed sets of the built-in world, written as ordinary JSONL files (``srlm world build``).

Files in ``out_dir`` (the paper's data, with the oracle in place of humans):

- ``ift.jsonl``        {id, prompt, response}: an oracle-5 answer per prompt (human rank 0).
- ``eft.jsonl``        {id, prompt, response, judgment}: answers of varied quality (``answers.py``
                       imitates a tiny model's failure modes), judged in the world's format; the
                       most common score is thinned to the second most common count, as the paper
                       thinned score 4. Departure: the paper kept SFT-model judgments agreeing with
                       human ranks; ours are written by the oracle, so all are correct.
- ``judge_eval.jsonl`` {id, prompt, responses, scores}: 3-4 answers with distinct oracle scores,
                       ranked best first (the paper's EFT eval split, ~2.85 answers per prompt).
- ``eval.jsonl`` / ``dev.jsonl``  {id, prompt}: held-out evaluation and tuning prompts.
- ``world.json``       seed, sizes, the EFT judgments' clean-line format, row counts, EFT score histograms.

No prompt is in two sets, and none is in the pretraining pool (a fixed hash slice of the prompt
space reserved for M0's corpus), whatever the world seed. ``sample_prompts`` is the fixed prompt
generator that stands in for the paper's Llama 2-Chat prompt model.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from srlm.data.io import atomic_write_text, write_jsonl
from srlm.world.answers import sample_answer, solve
from srlm.world.grammar import KINDS, LOCAL_KINDS, Instruction, parse, render, sample_instruction
from srlm.world.judgment import CleanLine, write_judgment
from srlm.world.oracle import grade_instruction

PRETRAIN_POOL_SHARE = 8  # 1 prompt in 8 (by hash) belongs to M0's pretraining corpus only


@dataclass(frozen=True)
class WorldSizes:
    """How many prompts (rows) each seed set gets."""

    ift: int = 1000
    eft_prompts: int = 1000
    eft_answers_per_prompt: int = 4
    judge_eval: int = 300
    eval: int = 1000
    dev: int = 300


@dataclass(frozen=True)
class WorldPaths:
    root: Path
    ift: Path
    eft: Path
    judge_eval: Path
    eval: Path
    dev: Path
    manifest: Path

    @classmethod
    def under(cls, root: Path) -> WorldPaths:
        names = ("ift", "eft", "judge_eval", "eval", "dev")
        files = {n: root / f"{n}.jsonl" for n in names}
        return cls(root=root, manifest=root / "world.json", **files)


def row_id(prefix: str, *parts: str) -> str:
    """Stable id: a hash of the row's inputs."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12]
    return f"{prefix}-{digest}"


def in_pretrain_pool(prompt: str) -> bool:
    """True for the slice of prompts reserved for pretraining M0 (never in any seed set)."""
    return hashlib.sha256(prompt.encode()).digest()[0] % PRETRAIN_POOL_SHARE == 0


def is_valid_prompt(text: str) -> bool:
    """Whether ``text`` is an instruction of the world (self-instruct's filter)."""
    return parse(text) is not None


def _unique_instructions(
    rng: random.Random, seen: set[str], pretrain: bool = False, kinds: tuple[str, ...] = KINDS
) -> Iterator[Instruction]:
    """Endless fresh instructions of ``kinds``, adding each prompt to ``seen``. ``pretrain`` picks the pool."""
    while True:
        instruction = sample_instruction(rng, kinds)
        prompt = render(instruction)
        if prompt in seen or in_pretrain_pool(prompt) != pretrain:
            continue
        seen.add(prompt)
        yield instruction


def sample_prompts(n: int, seed: int, exclude: set[str], kinds: tuple[str, ...] = KINDS) -> list[str]:
    """``n`` distinct world prompts of ``kinds``, never one in ``exclude`` or the pretraining pool."""
    rng = random.Random(f"prompt-generator-{seed}")
    fresh = _unique_instructions(rng, set(exclude), kinds=kinds)
    return [render(next(fresh)) for _ in range(n)]


def _rebalance(rows: list[dict[str, Any]], scores: list[int], rng: random.Random) -> list[dict[str, Any]]:
    """Thin the most common score down to the count of the second most common."""
    counts = Counter(scores).most_common()
    if len(counts) < 2:
        return rows
    top, cap = counts[0][0], counts[1][1]
    top_rows = [i for i, s in enumerate(scores) if s == top]
    drop = set(rng.sample(top_rows, len(top_rows) - cap))
    return [row for i, row in enumerate(rows) if i not in drop]


def _eft_rows(
    instructions: list[Instruction], per_prompt: int, rng: random.Random, clean_line: CleanLine, kinds: tuple[str, ...]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for instruction in instructions:
        prompt = render(instruction)
        answers: set[str] = set()
        for _ in range(per_prompt * 5):  # distinct answers per prompt; give up after a few tries
            if len(answers) == per_prompt:
                break
            answers.add(" ".join(sample_answer(instruction, rng, kinds)[0]))
        for answer in sorted(answers):
            rows.append(
                {
                    "id": row_id("eft", prompt, answer),
                    "prompt": prompt,
                    "response": answer,
                    "judgment": write_judgment(instruction, answer, clean_line),
                    "score": grade_instruction(instruction, answer).score,
                }
            )
    return rows


def model_eft_rows(
    answers: dict[str, list[str]], seed: int, clean_line: CleanLine = "verdict"
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """EFT rows for answers a model wrote to world prompts: the oracle's judgment of each.

    Per prompt, repeated answers are kept once; then the most common score is thinned, as for
    the synthetic rows. Returns the rows and the score histogram before thinning.
    """
    rows: list[dict[str, Any]] = []
    scores: list[int] = []
    for prompt, texts in answers.items():
        instruction = _parse(prompt)
        for answer in dict.fromkeys(text.strip() for text in texts):
            rows.append(
                {
                    "id": row_id("eft", prompt, answer),
                    "prompt": prompt,
                    "response": answer,
                    "judgment": write_judgment(instruction, answer, clean_line),
                }
            )
            scores.append(grade_instruction(instruction, answer).score)
    return _rebalance(rows, scores, random.Random(f"model-eft-{seed}")), _histogram(scores)


def _judge_eval_row(instruction: Instruction, rng: random.Random, kinds: tuple[str, ...]) -> dict[str, Any] | None:
    """3-4 answers with distinct oracle scores, best first; None if too few distinct scores."""
    by_score: dict[int, str] = {}
    for _ in range(40):
        answer = " ".join(sample_answer(instruction, rng, kinds)[0])
        by_score.setdefault(grade_instruction(instruction, answer).score, answer)
    if len(by_score) < 3:
        return None
    chosen = sorted(rng.sample(sorted(by_score), min(len(by_score), rng.choice((3, 4)))), reverse=True)
    prompt = render(instruction)
    return {
        "id": row_id("judge-eval", prompt),
        "prompt": prompt,
        "responses": [by_score[s] for s in chosen],
        "scores": [float(s) for s in chosen],
    }


def _judge_eval_rows(n: int, rng: random.Random, seen: set[str], kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    fresh = _unique_instructions(rng, seen, kinds=kinds)
    while len(rows) < n:
        row = _judge_eval_row(next(fresh), rng, kinds)
        if row is not None:
            rows.append(row)
    return rows


def _prompt_rows(prefix: str, instructions: list[Instruction]) -> list[dict[str, Any]]:
    return [{"id": row_id(prefix, render(i)), "prompt": render(i)} for i in instructions]


def build_world(
    out_dir: Path,
    seed: int = 0,
    sizes: WorldSizes | None = None,
    clean_line: CleanLine = "verdict",
    rules: tuple[str, ...] = LOCAL_KINDS,
) -> WorldPaths:
    """Write the world's seed sets under ``out_dir`` and return their paths (``clean_line``: the
    EFT judgments' clean line, see ``srlm.world.judgment``; ``rules``: the constraint kinds every
    set's instructions are drawn from)."""
    sizes = sizes or WorldSizes()
    paths = WorldPaths.under(Path(out_dir))
    paths.root.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()

    def draw(split: str, n: int) -> tuple[list[Instruction], random.Random]:
        # One random stream per split, so a split's content does not depend on other sizes.
        rng = random.Random(f"world-{seed}-{split}")
        fresh = _unique_instructions(rng, seen, kinds=rules)
        return [next(fresh) for _ in range(n)], rng

    eval_set, _ = draw("eval", sizes.eval)
    dev_set, _ = draw("dev", sizes.dev)
    ift, ift_rng = draw("ift", sizes.ift)
    ift_rows = [
        {"id": row_id("ift", render(i)), "prompt": render(i), "response": " ".join(solve(i, ift_rng))} for i in ift
    ]
    eft, eft_rng = draw("eft", sizes.eft_prompts)
    raw_eft = _eft_rows(eft, sizes.eft_answers_per_prompt, eft_rng, clean_line, rules)
    raw_scores = [row.pop("score") for row in raw_eft]
    eft_rows = _rebalance(raw_eft, raw_scores, eft_rng)
    judge_rows = _judge_eval_rows(sizes.judge_eval, random.Random(f"world-{seed}-judge_eval"), seen, rules)

    counts = {
        "ift": write_jsonl(paths.ift, ift_rows),
        "eft": write_jsonl(paths.eft, eft_rows),
        "judge_eval": write_jsonl(paths.judge_eval, judge_rows),
        "eval": write_jsonl(paths.eval, _prompt_rows("eval", eval_set)),
        "dev": write_jsonl(paths.dev, _prompt_rows("dev", dev_set)),
    }
    kept = [grade_instruction(_parse(r["prompt"]), r["response"]).score for r in eft_rows]
    manifest = {
        "seed": seed,
        "sizes": asdict(sizes),
        "clean_line": clean_line,
        "rules": [k for k in KINDS if k in rules],
        "counts": counts,
        "eft_score_histogram": _histogram(kept),
        "eft_score_histogram_before_rebalance": _histogram(raw_scores),
        "judge_eval_answers_per_prompt": sum(len(r["scores"]) for r in judge_rows) / max(1, len(judge_rows)),
    }
    atomic_write_text(paths.manifest, json.dumps(manifest, indent=2) + "\n")
    return paths


def _histogram(scores: list[int]) -> dict[str, int]:
    counts = Counter(scores)
    return {str(score): counts.get(score, 0) for score in range(6)}


def _parse(prompt: str) -> Instruction:
    instruction = parse(prompt)
    assert instruction is not None, prompt  # every prompt here was rendered by the grammar
    return instruction
