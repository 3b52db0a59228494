"""`srlm plan CONFIG`: what one iteration costs, in tokens and GPU-hours, before anything runs.

    srlm plan srlm/configs/paper-llama2-70b.yaml [--set prompts.n=5000] [--json]

Token counts follow from the config (prompts.n, candidates.n, judge.samples, max_new_tokens)
and from the data: rows are counted in the IFT/EFT files and their tokens with the model's
tokenizer when it loads offline, else estimated as words x 1.3 (and the output says so).
Every count is an upper bound where generation may stop early (max_new_tokens) or pairs are
dropped (ties). GPU-hours use the throughputs in THROUGHPUTS, whose sources and assumptions
are written in docs/scaling.md; they are planning figures, not measurements of srlm.

Switches beyond the paper add work, each counted by its own function below from the config
(P = prompts.n, N = candidates.n, k = judge.samples, J = judge.max_new_tokens, E =
eval.max_new_tokens) and listed under `switches`; the prompts they read are measured the same way
(pairwise.txt, meta_judge.txt, the EFT rows):

- `pairs.mode: pairwise`: P x N(N-1)/2 comparisons x 2 orders = P x N(N-1) generations of J tokens
  (one sample per order; judge.samples is not used) *instead of* the P x N x k pointwise ones: the
  judge rows count the comparisons, so this switch is not added again.
- `pairs.anchored_rejection` (iterations >= 2): M1 writes P x N answers, M_t judges each k times.
- `dpo.consistency` (iterations >= 2): M(t-1) judges at most the P x N candidates, k times each;
  DPO reads no more tokens.
- `dpo.select`: checkpoints x n_prompts answers of E tokens; with `judge: judge_model` also M_t's
  n_prompts answers and 2 x checkpoints x n_prompts verdicts of J tokens (the oracle generates
  nothing).
- `loop.meta_judge`: 2 x P verdicts of J tokens (one pair of judgments per prompt, both orders;
  none when k < 2) and up to P more DPO pairs (judge prompt, two judgments).
- `loop.eft_replay: n`: n x k judgments of J tokens and up to n more DPO pairs (judge prompt, seed
  judgment vs the model's).
- `loop.verdict_pairs: n`: no generation; up to n more DPO pairs (judge prompt, seed judgment vs
  the same with one verdict flipped), from iteration `loop.verdict_pairs_from`.

`generated_total` and the GPU-hours' `generation` / `iteration` are iteration 1's: they include
every switch that runs in every iteration. When a switch that starts at iteration 2 is on,
`generated_total_from_iteration_2` and `generation_from_iteration_2` / `iteration_from_iteration_2`
give those later iterations. DPO tokens include the extra pairs of iteration 1; pairs that start
at iteration 2 add `dpo_training_from_iteration_2` / `dpo_reference_from_iteration_2`, which
`iteration_from_iteration_2` counts. With every switch off the plan is the paper's loop alone, as
before.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from srlm.config import Config

WORDS_TO_TOKENS = 1.3  # rough English ratio for BPE tokenizers, used only without a tokenizer


@dataclass(frozen=True)
class Throughput:
    """Planning throughputs for one model size on H100 80 GB (see docs/scaling.md for each figure)."""

    generation_tokens_per_s: float  # generated tokens/s of one vLLM server
    gpus_per_server: int  # tensor-parallel size of that server
    training_tokens_per_s_per_gpu: float  # trained tokens/s per GPU, accelerate + DeepSpeed ZeRO-3


THROUGHPUTS = {
    "7B": Throughput(generation_tokens_per_s=12_500, gpus_per_server=1, training_tokens_per_s_per_gpu=9_400),
    "70B": Throughput(generation_tokens_per_s=3_000, gpus_per_server=4, training_tokens_per_s_per_gpu=700),
}


@dataclass(frozen=True)
class DataCounts:
    """What the estimate needs from the data, and how each figure was obtained."""

    sft_rows: int  # IFT (+ EFT) examples
    sft_tokens_per_row: float  # mean prompt + answer tokens of an SFT example
    prompt_tokens: float  # mean tokens of a prompt (IFT prompts stand in for generated ones)
    judge_template_tokens: float  # the judge prompt without the prompt and answer filled in
    basis: str  # "tokenizer: DIR" or "estimate: words x 1.3"
    pairwise_template_tokens: float  # pairwise.txt without its placeholders filled in
    meta_template_tokens: float  # meta_judge.txt without its placeholders filled in
    eft_judge_prompt_tokens: float  # mean judge prompt of an EFT row (template + prompt + answer)
    eft_judgment_tokens: float  # mean seed judgment of an EFT row


EVERY, LATER = "every iteration", "iterations >= 2"


@dataclass(frozen=True)
class Work:
    """Generation and DPO work of one judging scheme or switch in one iteration (upper bounds)."""

    applies: str  # EVERY or LATER (from iteration 2 on)
    generations: int  # sequences generated
    generated: float  # tokens generated: what the generation GPU-hours count
    judge_total: float  # tokens of its judging, judge prompts read + generated (as the judge total row)
    dpo_pairs: int = 0  # DPO pairs trained beside the answer pairs
    dpo_training: float = 0.0
    dpo_reference: float = 0.0
    note: str = ""


def _judging(applies: str, judgments: int, prompt_tokens: float, cfg: Config, **rest: Any) -> Work:
    """`judgments` judge generations of judge.max_new_tokens, each reading `prompt_tokens`."""
    new = cfg.judge.max_new_tokens
    return Work(applies, judgments, judgments * new, judgments * (prompt_tokens + new), **rest)


def _judge_prompt(cfg: Config, data: DataCounts) -> float:
    """The pointwise judge prompt of a candidate: template + prompt + answer."""
    return data.judge_template_tokens + data.prompt_tokens + cfg.candidates.max_new_tokens


def pointwise(cfg: Config, data: DataCounts) -> Work:
    """The paper's judging (srlm/stages/judge.py): k judgments of each of the P x N candidates."""
    judgments = cfg.prompts.n * cfg.candidates.n * cfg.judge.samples
    return _judging(EVERY, judgments, _judge_prompt(cfg, data), cfg)


def pairwise(cfg: Config, data: DataCounts) -> Work:
    """`pairs.mode: pairwise` (srlm/stages/compare.py): every two answers of a prompt, in both orders.

    N(N-1)/2 comparisons x 2 orders, one sample each (judge.samples is not used), each reading the
    pairwise prompt with the request and two answers. It replaces the pointwise judging.
    """
    n = cfg.candidates.n
    judgments = cfg.prompts.n * n * (n - 1)
    prompt = data.pairwise_template_tokens + data.prompt_tokens + 2 * cfg.candidates.max_new_tokens
    note = "instead of pointwise judging: counted in the judge rows, not added again"
    return _judging(EVERY, judgments, prompt, cfg, note=note)


def anchored_rejection(cfg: Config, data: DataCounts) -> Work:
    """`pairs.anchored_rejection` (srlm/stages/anchor.py): M1 answers the P prompts N times, M_t judges each k times."""
    answers = cfg.prompts.n * cfg.candidates.n
    judged = _judging(LATER, answers * cfg.judge.samples, _judge_prompt(cfg, data), cfg)
    return replace(
        judged,
        generations=answers + judged.generations,
        generated=answers * cfg.candidates.max_new_tokens + judged.generated,
        note="M1 answers, M_t judges; no more DPO pairs (M1's answer is the rejected side)",
    )


def consistency(cfg: Config, data: DataCounts) -> Work:
    """`dpo.consistency` (srlm/stages/consistency.py): M(t-1) judges k times the candidates of every paired prompt."""
    judgments = cfg.prompts.n * cfg.candidates.n * cfg.judge.samples
    note = "M(t-1) judges; DPO tokens unchanged (CREAM's two losses share one pass)"
    return _judging(LATER, judgments, _judge_prompt(cfg, data), cfg, note=note)


def select(cfg: Config, data: DataCounts) -> Work:
    """`dpo.select` (srlm/training/select.py): each checkpoint answers the selection prompts, then is judged.

    At most `checkpoints` models (the last step included) answer `n_prompts` prompts with the
    evaluation's settings. The oracle grades without generating; `judge_model` also needs M_t's
    answers and compares each checkpoint's with them in both orders (judge.max_new_tokens each).
    """
    settings = cfg.dpo.select
    assert settings is not None
    answer = cfg.eval.max_new_tokens
    answers = settings.checkpoints * settings.n_prompts
    if settings.judge == "oracle":
        return Work(EVERY, answers, answers * answer, 0.0, note="graded by the world oracle: no judge generation")
    answers += settings.n_prompts  # M_t's answers, the side every checkpoint is compared with
    prompt = data.pairwise_template_tokens + data.prompt_tokens + 2 * answer
    judged = _judging(EVERY, 2 * settings.checkpoints * settings.n_prompts, prompt, cfg)
    return replace(
        judged,
        generations=answers + judged.generations,
        generated=answers * answer + judged.generated,
        note="eval.judge_model judges, counted at this size's throughput",
    )


def meta_judge(cfg: Config, data: DataCounts) -> Work:
    """`loop.meta_judge` (srlm/stages/meta_judge.py): one pair of judgments per prompt, compared in both orders.

    Per prompt the most disputed answer's highest- vs lowest-scored judgment (none with k < 2:
    two judgments must differ); each comparison can give a DPO pair that trains judging: the
    judge prompt, the better and the worse judgment.
    """
    prompts = cfg.prompts.n if cfg.judge.samples >= 2 else 0
    answer, judgment = cfg.candidates.max_new_tokens, cfg.judge.max_new_tokens
    meta_prompt = data.meta_template_tokens + data.prompt_tokens + answer + 2 * judgment  # request, answer, 2 judgments
    sequence = _judge_prompt(cfg, data) + judgment  # a DPO sequence: the judge prompt + one judgment
    return _judging(
        EVERY,
        2 * prompts,
        meta_prompt,
        cfg,
        dpo_pairs=prompts,
        dpo_training=prompts * cfg.dpo.epochs * 2 * sequence,
        dpo_reference=prompts * 2 * sequence,
    )


def eft_replay(cfg: Config, data: DataCounts) -> Work:
    """`loop.eft_replay: n` (srlm/stages/eft_replay.py): M_t judges n EFT rows k times; a misjudged row is a pair.

    n is a bound (all rows when the EFT file has fewer). A pair is the row's judge prompt with the
    seed judgment (chosen) and the model's judgment furthest from it (rejected).
    """
    rows = cfg.loop.eft_replay
    pair = 2 * data.eft_judge_prompt_tokens + data.eft_judgment_tokens + cfg.judge.max_new_tokens
    return _judging(
        EVERY,
        rows * cfg.judge.samples,
        data.eft_judge_prompt_tokens,
        cfg,
        dpo_pairs=rows,
        dpo_training=rows * cfg.dpo.epochs * pair,
        dpo_reference=rows * pair,
    )


def verdict_pairs(cfg: Config, data: DataCounts) -> Work:
    """`loop.verdict_pairs: n` (srlm/stages/verdict_pairs.py): n EFT rows become pairs, nothing is generated.

    n is a bound (all rows when the EFT file has fewer). A pair is the row's judge prompt with the
    seed judgment and the same judgment with one verdict flipped (or unchanged, when it has no
    verdict line): two sequences of equal length. With `loop.verdict_pairs_from` above 1 they are
    counted in the iterations from 2 on (the plan does not tell iteration 2 from 3).
    """
    rows = cfg.loop.verdict_pairs
    pair = 2 * (data.eft_judge_prompt_tokens + data.eft_judgment_tokens)
    applies = EVERY if cfg.loop.verdict_pairs_from == 1 else LATER
    return Work(
        applies, 0, 0.0, 0.0, dpo_pairs=rows, dpo_training=rows * cfg.dpo.epochs * pair, dpo_reference=rows * pair
    )


def switches(cfg: Config, data: DataCounts) -> dict[str, Work]:
    """The work each switch that is on adds to an iteration, by its config key."""
    on = {
        "pairs.anchored_rejection": (cfg.pairs.anchored_rejection, anchored_rejection),
        "dpo.consistency": (cfg.dpo.consistency, consistency),
        "dpo.select": (cfg.dpo.select is not None, select),
        "loop.meta_judge": (cfg.loop.meta_judge, meta_judge),
        "loop.eft_replay": (cfg.loop.eft_replay > 0, eft_replay),
        "loop.verdict_pairs": (cfg.loop.verdict_pairs > 0, verdict_pairs),
    }
    return {name: count(cfg, data) for name, (enabled, count) in on.items() if enabled}


def estimate(cfg: Config, data: DataCounts) -> dict[str, Any]:
    """Token counts of one iteration (and of SFT, once) and GPU-hours per model size."""
    n_prompts = cfg.prompts.n
    prompt_generation = n_prompts * cfg.prompts.max_new_tokens if cfg.prompts.source == "self_instruct" else 0
    n_candidates = n_prompts * cfg.candidates.n
    candidate_tokens = n_candidates * cfg.candidates.max_new_tokens
    judging = pairwise(cfg, data) if cfg.pairs.mode == "pairwise" else pointwise(cfg, data)
    extras = switches(cfg, data)
    later_only = [work for work in extras.values() if work.applies == LATER]  # not in iteration 1
    every = [work for work in extras.values() if work.applies == EVERY]
    generated = prompt_generation + candidate_tokens + judging.generated + sum(work.generated for work in every)
    later = generated + sum(work.generated for work in later_only)
    pairs = n_prompts  # at most one (best, worst) pair per prompt
    dpo_tokens = pairs * cfg.dpo.epochs * 2 * (data.prompt_tokens + cfg.candidates.max_new_tokens)
    reference_tokens = pairs * 2 * (data.prompt_tokens + cfg.candidates.max_new_tokens)  # one forward pass
    dpo_tokens += sum(work.dpo_training for work in every)
    reference_tokens += sum(work.dpo_reference for work in every)
    later_dpo = dpo_tokens + sum(work.dpo_training for work in later_only)
    later_reference = reference_tokens + sum(work.dpo_reference for work in later_only)
    sft_tokens = data.sft_rows * cfg.sft.epochs * data.sft_tokens_per_row
    # A forward pass is ~1/3 of a training step's FLOPs (2N of 6N per token).
    iteration_training = dpo_tokens + reference_tokens / 3
    later_training = later_dpo + later_reference / 3
    gpu_hours: dict[str, dict[str, float]] = {}
    for size, rate in THROUGHPUTS.items():
        hours = {
            "generation": generated / rate.generation_tokens_per_s * rate.gpus_per_server / 3600,
            "dpo": iteration_training / rate.training_tokens_per_s_per_gpu / 3600,
            "sft_once": sft_tokens / rate.training_tokens_per_s_per_gpu / 3600,
        }
        hours["iteration"] = hours["generation"] + hours["dpo"]
        if later_only:
            hours["generation_from_iteration_2"] = later / rate.generation_tokens_per_s * rate.gpus_per_server / 3600
            later_dpo_hours = later_training / rate.training_tokens_per_s_per_gpu / 3600
            hours["iteration_from_iteration_2"] = hours["generation_from_iteration_2"] + later_dpo_hours
        gpu_hours[size] = hours
    tokens = {
        "prompt_generation": prompt_generation,
        "candidates": candidate_tokens,
        "judge_total": judging.judge_total,
        "judge_generated": judging.generated,
        "generated_total": generated,
    }
    if later_only:
        tokens["generated_total_from_iteration_2"] = later
    tokens |= {"dpo_training": dpo_tokens, "dpo_reference": reference_tokens}
    if any(work.dpo_pairs for work in later_only):  # a switch from iteration 2 adds DPO pairs there
        tokens |= {"dpo_training_from_iteration_2": later_dpo, "dpo_reference_from_iteration_2": later_reference}
    tokens["sft_training"] = sft_tokens
    shown = ({"pairs.mode: pairwise": judging} if cfg.pairs.mode == "pairwise" else {}) | extras
    return {
        "tokens": tokens,
        "counts": {"prompts": n_prompts, "candidates": n_candidates, "max_pairs": pairs, "sft_rows": data.sft_rows},
        "switches": {name: asdict(work) for name, work in shown.items()},
        "data": asdict(data),
        "gpu_hours": gpu_hours,
        "throughputs": {size: asdict(rate) for size, rate in THROUGHPUTS.items()},
    }


def _token_counter(cfg: Config) -> tuple[Any, str]:
    """Count tokens with the model's tokenizer when it loads without the network, else words x 1.3."""
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(cfg.model.path, local_files_only=True)
    except Exception:  # whatever keeps it from loading offline, the estimate below applies
        return (lambda text: len(text.split()) * WORDS_TO_TOKENS), "estimate: words x 1.3 (tokenizer not loadable)"
    return (lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])), f"tokenizer: {cfg.model.path}"


def _rows(path: str | None) -> list[dict[str, Any]]:
    if not path or not Path(path).is_file():
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def measure(cfg: Config) -> DataCounts:
    """Rows and mean token lengths from the config's data files (the paper's sizes when absent)."""
    from srlm.method.judging import load_template, render_template
    from srlm.method.judging.meta import META_PLACEHOLDERS, load_meta_template
    from srlm.method.judging.pairwise import PAIRWISE_PLACEHOLDERS, load_pairwise_template
    from srlm.method.judging.template import REQUIRED_PLACEHOLDERS

    count, basis = _token_counter(cfg)

    def blank(template: str, placeholders: tuple[str, ...]) -> float:
        """Tokens of a prompt template with its placeholders left empty."""
        return count(render_template(template, **dict.fromkeys(placeholders, "")))

    ift, eft = _rows(cfg.data.ift), [] if cfg.loop.ift_only else _rows(cfg.data.eft)
    template_tokens = blank(load_template(cfg.judge.template), REQUIRED_PLACEHOLDERS)
    templates = {
        "judge_template_tokens": template_tokens,
        "pairwise_template_tokens": blank(load_pairwise_template(), PAIRWISE_PLACEHOLDERS),
        "meta_template_tokens": blank(load_meta_template(), META_PLACEHOLDERS),
    }
    if not ift:
        # Without data: the paper's seed sizes and answers as long as candidates.max_new_tokens.
        rows = 3_200 + (0 if cfg.loop.ift_only else 1_630)
        prompt_tokens = float(cfg.prompts.max_new_tokens)
        return DataCounts(
            sft_rows=rows,
            sft_tokens_per_row=prompt_tokens + cfg.candidates.max_new_tokens,
            prompt_tokens=prompt_tokens,
            basis=basis + "; data files not found: paper sizes (3,200 IFT + 1,630 EFT), prompts of "
            "prompts.max_new_tokens and answers of candidates.max_new_tokens tokens",
            **templates,
            **_eft_lengths(cfg, template_tokens, prompt_tokens, [], []),
        )
    prompt_tokens = sum(count(r["prompt"]) for r in ift) / len(ift)
    eft_prompts = [template_tokens + count(r["prompt"]) + count(r["response"]) for r in eft]
    eft_judgments = [count(r["judgment"]) for r in eft]
    sft_lengths = [count(r["prompt"]) + count(r["response"]) for r in ift]
    sft_lengths += [judge_prompt + judgment for judge_prompt, judgment in zip(eft_prompts, eft_judgments, strict=True)]
    return DataCounts(
        sft_rows=len(sft_lengths),
        sft_tokens_per_row=sum(sft_lengths) / len(sft_lengths),
        prompt_tokens=prompt_tokens,
        basis=basis,
        **templates,
        **_eft_lengths(cfg, template_tokens, prompt_tokens, eft_prompts, eft_judgments),
    )


def _eft_lengths(
    cfg: Config, template_tokens: float, prompt_tokens: float, judge_prompts: list[float], judgments: list[float]
) -> dict[str, float]:
    """Mean judge prompt and seed judgment of the EFT rows; without rows, candidate-sized answers and judgments."""
    if not judge_prompts:
        return {
            "eft_judge_prompt_tokens": template_tokens + prompt_tokens + cfg.candidates.max_new_tokens,
            "eft_judgment_tokens": float(cfg.judge.max_new_tokens),
        }
    return {
        "eft_judge_prompt_tokens": sum(judge_prompts) / len(judge_prompts),
        "eft_judgment_tokens": sum(judgments) / len(judgments),
    }


def print_plan(plan: dict[str, Any]) -> None:
    """Rich tables: tokens per iteration, the switches' share of them, then GPU-hours per model size."""
    from rich.table import Table

    from srlm.console import console

    tokens = Table(title="tokens per iteration (upper bounds)")
    tokens.add_column("what")
    tokens.add_column("tokens", justify="right")
    for name, value in plan["tokens"].items():
        tokens.add_row(name.replace("_", " "), f"{value:,.0f}")
    console.print(tokens)
    if plan["switches"]:
        extra = Table(title="switches on (their tokens are in the totals above)")
        for column in ("switch", "from iteration", "generated", "DPO training"):
            extra.add_column(column, justify="left" if column == "switch" else "right")
        for name, work in plan["switches"].items():
            first = "2" if work["applies"] == LATER else "1"
            extra.add_row(name, first, f"{work['generated']:,.0f}", f"{work['dpo_training']:,.0f}")
        console.print(extra)
        for name, work in plan["switches"].items():
            if work["note"]:
                console.print(f"[dim]{name}: {work['note']}[/dim]")
    console.print(f"counts: {plan['counts']}")
    console.print(f"token counts from {plan['data']['basis']}")
    later = "iteration_from_iteration_2" in next(iter(plan["gpu_hours"].values()))
    keys = ["generation", "dpo", "iteration", "sft_once"]
    columns = ["model", "generation", "DPO", "iteration", "SFT (once)"]
    if later:  # a switch that starts at iteration 2 is on: those iterations cost more
        keys += ["generation_from_iteration_2", "iteration_from_iteration_2"]
        columns += ["generation (t >= 2)", "iteration (t >= 2)"]
    hours = Table(title="GPU-hours on H100 80 GB (planning throughputs, docs/scaling.md)")
    for column in columns:
        hours.add_column(column, justify="right")
    for size, row in plan["gpu_hours"].items():
        hours.add_row(size, *(f"{row[key]:,.1f}" for key in keys))
    console.print(hours)
