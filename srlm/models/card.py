"""Model cards: the `README.md` every model dir srlm writes (`m<t>/`, `sft_baseline/`) carries.

The card is written from the model's manifest (stage, inputs and their sha256, rows, loss first
-> last, DPO diagnostics) and the run's settings, with huggingface_hub's `ModelCard`: YAML front
matter (`base_model` when the start model is a Hub id, `library_name`, `tags`, `datasets` by file and
`dataset_sha256`) and a body
with the stage, the iteration, the key settings and the training loss. Once `srlm eval` has
measured the model its card is written again with the evaluation numbers (also as
`model-index`). The manifest stays the source of truth: the card is not part of the model dir's
content hash (`srlm.rundir.content_hash`), so writing it never makes a finished model look
unfinished or edited, and the dir can be pushed to the Hub as it is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srlm.data.io import atomic_write_text
from srlm.rundir import CARD, read_manifest

if TYPE_CHECKING:
    from srlm.config import Config

PAPER = "Self-Rewarding Language Models (Yuan et al., 2024, arXiv:2401.10020)"


def _shown(path: str, root: Path) -> str:
    """An input path as the card shows it: relative to the run dir when inside it."""
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return path


def is_hub_id(path: str) -> bool:
    """A Hugging Face Hub model id (`org/name`), not a local dir or `world:m0`: the Hub checks `base_model`.

    >>> is_hub_id("HuggingFaceTB/SmolLM2-135M-Instruct"), is_hub_id("world:m0"), is_hub_id("./models/m0")
    (True, False, False)
    """
    return bool(re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", path)) and not Path(path).exists()


def _kind(stage: str) -> tuple[str, int | None]:
    """('sft' | 'dpo' | 'sft_best', iteration) from a manifest's stage label."""
    found = re.fullmatch(r"iter(\d+) (dpo|sft_best)", stage)
    if found:
        return found.group(2), int(found.group(1))
    return "sft", None


def _settings(cfg: Config, kind: str) -> list[tuple[str, str]]:
    lora = cfg.model.lora
    shared = [
        ("dtype", cfg.model.dtype),
        ("LoRA", f"r={lora.r}, alpha={lora.alpha} (merged)" if lora else "none (full fine-tuning)"),
        ("seed", str(cfg.loop.seed)),
    ]
    if kind == "sft":
        s = cfg.sft
        return [
            ("learning rate", f"{s.learning_rate:g} -> {s.min_learning_rate:g} (cosine)"),
            ("epochs", f"{s.epochs:g}"),
            ("batch size", str(s.batch_size)),
            ("max length", str(s.max_length)),
            *shared,
        ]
    d = cfg.dpo
    rows = [
        ("method", "DPO (reference = the start model)" if kind == "dpo" else "SFT on each pair's chosen answer"),
        ("beta", f"{d.beta:g}"),
        ("learning rate", f"{d.learning_rate:g} -> {d.min_learning_rate:g} (cosine, warm-up {d.warmup_ratio:g})"),
        ("epochs", f"{d.epochs:g}"),
        ("batch size", str(d.batch_size)),
        ("max length", str(d.max_length)),
        ("NLL weight", f"{d.nll_weight:g}"),
        ("pairs", f"best vs worst of {cfg.candidates.n} answers, {cfg.judge.samples} judge samples each"),
    ]
    return rows + shared


def _table(header: tuple[str, str], rows: list[tuple[str, str]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    return [f"| {header[0]} | {header[1]} |", "|---|---|", *(f"| {cell(a)} | {cell(b)} |" for a, b in rows)]


def _evaluation(name: str, metrics: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """The card's evaluation section and its `model-index` results, from eval/metrics.json."""
    from huggingface_hub import EvalResult

    m = metrics.get("models", {}).get(name)
    if not m:
        return ["Not evaluated yet: `srlm eval RUN_DIR` adds the numbers here."], []
    prompts = metrics.get("settings", {}).get("eval_prompts_file") or "held-out prompts"
    found = {
        "oracle_score_mean": ("oracle mean (0-5)", m.get("oracle_score_mean"), m.get("oracle_score_ci95")),
        "sampled_oracle_score_mean": (
            "oracle mean of sampled answers",
            (m.get("sampled") or {}).get("oracle_score_mean"),
            (m.get("sampled") or {}).get("oracle_score_ci95"),
        ),
        "self_judge_score_mean": ("self-judge mean (the model grades itself)", m.get("self_judge_score_mean"), None),
        "judge_pairwise_accuracy": ("judge pairwise accuracy", (m.get("judge") or {}).get("pairwise_accuracy"), None),
        "answer_words_mean": ("answer words", m.get("answer_words_mean"), None),
    }
    rows, results = [], []
    for key, (label, value, ci) in found.items():
        if not isinstance(value, int | float):
            continue
        interval = f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci and ci[0] is not None else ""
        rows.append((label, f"{value:.3f}{interval}"))
        results.append(
            EvalResult(
                task_type="text-generation",
                dataset_type=Path(str(prompts)).name,
                dataset_name="srlm held-out prompts",
                metric_type=key,
                metric_name=label,
                metric_value=round(float(value), 4),
            )
        )
    lines = _table(("measure", "value [95% CI]"), rows)
    against = [e for e in metrics.get("head_to_head", []) if name in (e.get("a"), e.get("b"))]
    if against:
        lines += ["", "Head to head (win rate of the first model, a tie counts half):", ""]
        for e in against:
            ci = e.get("win_rate_ci95") or [None, None]
            interval = f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci[0] is not None else ""
            rate = e.get("win_rate")
            shown = "–" if rate is None else f"{rate:.2f}{interval}"
            lines.append(
                f"- {e['a']} vs {e['b']} ({e['judge']}): W/T/L {e['wins']}/{e['ties']}/{e['losses']}, "
                f"win rate {shown}: {e.get('verdict', '')}"
            )
    return lines, results


def write_card(cfg: Config, model_dir: Path, metrics: dict[str, Any] | None = None) -> Path | None:
    """Write `model_dir/README.md` from its manifest (and `metrics`, once evaluated).

    None, and nothing written, for a dir without a manifest or that is no HF model dir (no config.json).
    """
    from huggingface_hub import ModelCard, ModelCardData

    manifest = read_manifest(model_dir)
    if manifest is None or not (model_dir / "config.json").is_file():
        return None
    root = Path(cfg.loop.run_dir)
    name = model_dir.name
    kind, iteration = _kind(str(manifest.get("stage", "")))
    inputs = {_shown(path, root): digest for path, digest in (manifest.get("inputs") or {}).items()}
    models = [p for p in inputs if (root / p / "config.json").is_file() or Path(p, "config.json").is_file()]
    data = {p: digest for p, digest in inputs.items() if p not in models}
    evaluation, results = _evaluation(name, metrics or {})
    card_data = ModelCardData(
        base_model=cfg.model.path if is_hub_id(cfg.model.path) else None,
        library_name="transformers",
        tags=["srlm", "self-rewarding", "dpo" if kind == "dpo" else "sft"],
        datasets=list(data),
        dataset_sha256=data,
        model_name=name,
        eval_results=results or None,
    )
    if kind == "sft":
        what = "the IFT-only SFT baseline" if name == "sft_baseline" else "M1 = SFT(M0, IFT ∪ EFT)"
        stage = f"SFT of {cfg.model.path} on the seed data: {what}"
    else:
        how = "DPO" if kind == "dpo" else "SFT on the chosen answers"
        stage = f"iteration {iteration}: M{(iteration or 0) + 1} = {how}(M{iteration}, the pairs M{iteration} built"
        stage += f" by judging its own answers), starting from {models[-1] if models else f'm{iteration}'}"
    training = [("stage", stage), ("examples", str(manifest.get("rows", "?")))]
    if manifest.get("skipped"):
        training.append(("left out", ", ".join(f"{k} {v}" for k, v in manifest["skipped"].items())))
    if "first_loss" in manifest:
        training.append(
            ("training loss (first -> last)", f"{manifest['first_loss']:.4f} -> {manifest['last_loss']:.4f}")
        )
    for key, entry in (manifest.get("diagnostics") or {}).items():
        training.append((key, f"{entry['first']:.4f} -> {entry['last']:.4f}"))
    if manifest.get("selection"):
        chosen = manifest["selection"]
        training.append(("checkpoint", f"{chosen.get('chosen')}: {chosen.get('reason')}"))
    training.append(("seconds", str(manifest.get("seconds", "?"))))
    body = [
        f"# {root.name}/{name}",
        "",
        f"Written by srlm, an implementation of {PAPER}: a model that writes, answers and judges its own",
        "prompts. A plain Hugging Face model dir (safetensors, LoRA merged); `AutoModelForCausalLM.from_pretrained`",
        "loads it. Its `.manifest.json` beside the dir in the run is the record this card is written from.",
        "",
        "## Training",
        "",
        *_table(("training", ""), training),
        "",
        "## Settings",
        "",
        *_table(("setting", "value"), _settings(cfg, kind)),
        "",
        "## Data",
        "",
        *_table(("file", "sha256"), list(data.items()) or [("–", "–")]),
        "",
        "## Evaluation",
        "",
        *evaluation,
        "",
    ]
    card = ModelCard("---\n" + card_data.to_yaml() + "\n---\n\n" + "\n".join(body))
    path = model_dir / CARD
    atomic_write_text(path, str(card))
    return path
