"""Pretrain the world's base model M0 (``srlm world pretrain --out DIR``) with ``transformers.Trainer``.

M0 plays the paper's Llama 2 base model: it knows the world's language but is not yet an
instruction follower or a judge. Its corpus is "web text" of the world, never the seed sets:
every instruction in it comes from the pretraining pool (``seeds.in_pretrain_pool``), a hash
slice of the prompt space that no seed, eval or dev set and no ``sample_prompts`` call ever
uses. Document kinds (share):

- topic prose (25 %): sentences of a topic's words and function words;
- dialogues (35 %): ``<user> P <assistant> A`` in the chat template's layout, with answers of
  *mixed* quality (``answers.sample_answer``, mean oracle score ~3), like web chat logs: M0 knows
  the roles and the task but has not learnt to prefer good answers - that is SFT's job (and it
  makes SFT fast: the first SFT loss is on known tokens, not on untrained role embeddings);
- reviewed pages (25 %): ``request : P \\n answer : A \\n review : J`` with a judgment in the
  world's format, so the judgment language is known; the judge prompt template is first seen in
  SFT (EFT);
- request lists (15 %): several instructions one per line (helps few-shot self-instruct).

Documents are wrapped in ``<bos> ... <eos>`` and packed into 128-token blocks (standard LM
pretraining). Held-out loss is measured on a separately seeded stream of the same mixture.

A second phase continues from the first phase's model with check notes (``notes.py``) as 60 %
of the documents, at a lower peak lr: the first phase leaves a model that restates a review's
rules but cannot look an answer up, and a judge that cannot look up cannot find the better of
its own answers. ``lookup_accuracy`` measures that on held-out notes; ``pretrain.json`` records
every phase (steps, lr, losses, look-up accuracy per rule family).
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srlm.world.answers import sample_answer
from srlm.world.grammar import FILLERS, TOPICS, Instruction, render, sample_instruction
from srlm.world.judgment import write_judgment
from srlm.world.notes import check_note
from srlm.world.seeds import in_pretrain_pool

BLOCK_TOKENS = 128
HELDOUT_STREAM = "pretrain-heldout"  # fixed, so every M0 is measured on the same text
DEFAULT_STEPS = 10000  # the shipped M0's first phase: 20 M tokens, ~30 minutes on 2 cores
NOTES_STEPS = 10000  # its second phase, with check notes


def _pool_instruction(rng: random.Random) -> Instruction:
    while True:
        instruction = sample_instruction(rng)
        if in_pretrain_pool(render(instruction)):
            return instruction


def _prose(rng: random.Random) -> str:
    words = [*TOPICS[rng.choice(sorted(TOPICS))], *FILLERS]
    sentences = [" ".join(rng.choices(words, k=rng.randint(4, 10))) for _ in range(rng.randint(1, 3))]
    return " . ".join(sentences) + " ."


def _page(rng: random.Random, reviewed: bool) -> str:
    instruction = _pool_instruction(rng)
    answer = " ".join(sample_answer(instruction, rng)[0])
    if not reviewed:  # a dialogue in the chat template's layout (documents get <bos> .. <eos>)
        return f"<user> {render(instruction)} <assistant> {answer}"
    return f"request : {render(instruction)}\nanswer : {answer}\nreview :\n{write_judgment(instruction, answer)}"


def sample_document(rng: random.Random, notes_share: float = 0.0) -> str:
    """One document of the first phase's mixture, or with probability ``notes_share`` a check note."""
    if notes_share and rng.random() < notes_share:
        return check_note(rng)
    kind = rng.choices(("prose", "page", "reviewed", "requests"), weights=(25, 35, 25, 15))[0]
    if kind == "prose":
        return _prose(rng)
    if kind == "requests":
        return "\n".join(render(_pool_instruction(rng)) for _ in range(rng.randint(3, 8)))
    return _page(rng, reviewed=kind == "reviewed")


def corpus_blocks(tokenizer: Any, n_blocks: int, stream_name: str, notes_share: float = 0.0) -> list[list[int]]:
    """``n_blocks`` packed blocks of ``BLOCK_TOKENS`` token ids from the named document stream."""
    rng = random.Random(stream_name)
    stream: list[int] = []
    need = n_blocks * BLOCK_TOKENS
    while len(stream) < need:
        ids = tokenizer(sample_document(rng, notes_share), add_special_tokens=False)["input_ids"]
        stream += [tokenizer.bos_token_id, *ids, tokenizer.eos_token_id]
    return [stream[i * BLOCK_TOKENS : (i + 1) * BLOCK_TOKENS] for i in range(n_blocks)]


def heldout_loss(model: Any, tokenizer: Any, n_blocks: int = 64) -> float:
    """Mean next-token loss (nats) on held-out world text (a stream seeded apart from training)."""
    import torch

    blocks = torch.tensor(corpus_blocks(tokenizer, n_blocks, HELDOUT_STREAM))
    model.eval()
    with torch.no_grad():
        losses = [model(input_ids=chunk, labels=chunk).loss.item() for chunk in blocks.split(16)]
    return math.fsum(losses) / len(losses)


def lookup_accuracy(model: Any, tokenizer: Any, n_notes: int = 300) -> dict[str, float]:
    """Teacher-forced look-up on held-out check notes: the share of check lines whose observed
    fact (``found``/``missing``, the first or last word, a count, the word seen) is the model's
    top next token, per rule family and overall."""
    import torch

    rng = random.Random(NOTES_HELDOUT_STREAM)
    right: dict[str, list[bool]] = {}
    model.eval()
    for _ in range(n_notes):
        note = check_note(rng)
        ids = tokenizer(note, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            top = model(input_ids=torch.tensor([[tokenizer.bos_token_id, *ids]])).logits[0].argmax(-1).tolist()
        page, lines = note.split("\nreview :\n")
        before = f"{page}\nreview :\n"
        for line in lines.split("\n"):
            rule, fact = line.split(" : ")
            lead = fact.split()[0] in ("got", "first", "last")  # the fact word comes after it
            prefix = f"{before}{rule} : {fact.split()[0] if lead else ''}"
            at = len(tokenizer(prefix, add_special_tokens=False)["input_ids"])  # logits at `at` predict ids[at]
            family = next((f for f, kinds in LOOKUP_FAMILIES.items() if any(k in rule for k in kinds)), "order")
            right.setdefault(family, []).append(top[at] == ids[at])
            before += line + "\n"
    scores = {family: sum(r) / len(r) for family, r in sorted(right.items())}
    scores["all"] = sum(sum(r) for r in right.values()) / sum(len(r) for r in right.values())
    return scores


NOTES_HELDOUT_STREAM = "notes-heldout"
LOOKUP_FAMILIES = {  # rule words naming each family of check lines ("order" otherwise)
    "include/avoid": ("include", "avoid"),
    "first/last": ("start with", "end with"),
    "count": ("words", "times"),
    "list": ("list",),
    "topic": ("topic",),
    "clean": ("clean",),
}


def _training_args(out_dir: Path, seed: int, steps: int, batch_size: int, learning_rate: float) -> Any:
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(out_dir / "_trainer"),
        max_steps=steps,
        per_device_train_batch_size=batch_size,
        learning_rate=learning_rate,  # tiny models tolerate (and need) a large lr to learn in minutes
        lr_scheduler_type="cosine",
        warmup_steps=max(1, steps // 20),
        weight_decay=0.01,
        logging_steps=max(1, steps // 10),
        save_strategy="steps",  # a checkpoint every tenth, so an interrupted pretrain resumes
        save_steps=max(1, steps // 10),
        save_total_limit=1,
        report_to=[],
        seed=seed,
        data_seed=seed,
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=False,
    )


def _early_probe(tokenizer: Any, at_step: int, stop: bool, record: dict[str, float]) -> Any:
    """A callback measuring held-out loss at ``at_step`` (and optionally stopping there), so a
    short rebuild can be compared with the shipped run's number at that step of the same schedule."""
    from transformers import TrainerCallback

    class EarlyProbe(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
            if state.global_step == at_step:
                record["heldout_loss_at_probe"] = heldout_loss(model, tokenizer)
                model.train()
                control.should_training_stop = stop

    return EarlyProbe()


def probe_step(steps: int) -> int:
    """The step whose held-out loss every run records: a tenth of the way (a rebuild test stops there)."""
    return max(1, steps // 10)


@dataclass(frozen=True)
class Phase:
    """One pretraining phase: its steps, peak lr (cosine, 5 % warm-up) and share of check notes."""

    name: str
    steps: int
    learning_rate: float
    notes_share: float


# The shipped M0: 20 M tokens of world text from scratch, then continued pretraining with check
# notes mixed in (docs/world.md: what each phase bought the judge).
PHASES = (
    Phase("text", DEFAULT_STEPS, 3e-3, 0.0),
    Phase("notes", NOTES_STEPS, 1e-3, 0.6),
)


def pretrain(
    out_dir: Path,
    seed: int = 0,
    steps: int | None = None,
    batch_size: int = 16,
    stop_at_probe: bool = False,
    phase: Phase = PHASES[0],
    init: Path | None = None,
) -> dict[str, float]:
    """Pretrain one phase and save model and tokenizer to ``out_dir``; return stats.

    The first phase starts from a fresh tiny Llama (``init`` None), later ones from ``init``'s
    weights; ``steps`` overrides the phase's steps. A checkpoint is kept every tenth of the
    phase, and a call that finds one in ``out_dir`` resumes from it. ``stop_at_probe`` runs the
    same schedule but stops at ``probe_step(steps)`` (for the rebuild test).
    """
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, default_data_collator
    from transformers.trainer_utils import get_last_checkpoint

    from srlm.world.model import build_model, build_tokenizer

    started = time.perf_counter()
    out_dir = Path(out_dir)
    steps = steps or phase.steps
    tokenizer: Any
    model: Any
    if init is None:
        tokenizer = build_tokenizer()
        model = build_model(tokenizer, seed=seed)
        earlier: list[dict[str, Any]] = []
    else:
        tokenizer = AutoTokenizer.from_pretrained(init)
        model = AutoModelForCausalLM.from_pretrained(init)
        earlier = json.loads((Path(init) / "pretrain.json").read_text())["phases"]
    # the first phase keeps the stream name the shipped M0 was trained on (the rebuild test needs it)
    stream = f"pretrain-train-{seed}" if phase.name == "text" else f"pretrain-{phase.name}-{seed}"
    blocks = corpus_blocks(tokenizer, steps * batch_size, stream, phase.notes_share)
    dataset = Dataset.from_dict({"input_ids": blocks, "labels": blocks})
    stats: dict[str, float] = {}
    probe = _early_probe(tokenizer, probe_step(steps), stop_at_probe, stats)
    trainer = Trainer(
        model=model,
        args=_training_args(out_dir, seed, steps, batch_size, phase.learning_rate),
        train_dataset=dataset,
        data_collator=default_data_collator,
        callbacks=[probe],
    )
    checkpoint = get_last_checkpoint(str(out_dir / "_trainer")) if (out_dir / "_trainer").is_dir() else None
    stats["train_loss"] = trainer.train(resume_from_checkpoint=checkpoint).training_loss
    stats["heldout_loss"] = heldout_loss(model, tokenizer)
    shutil.rmtree(out_dir / "_trainer", ignore_errors=True)
    model.config.use_cache = True  # training turned the KV cache off; generation wants it
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    stats["seconds"] = time.perf_counter() - started
    lookup = lookup_accuracy(model, tokenizer)
    this = {
        "phase": phase.name,
        "seed": seed,
        "steps": steps,
        "batch_size": batch_size,
        "block_tokens": BLOCK_TOKENS,
        "learning_rate": phase.learning_rate,
        "notes_share": phase.notes_share,
        "probe_step": probe_step(steps),
        **stats,
        "lookup_accuracy": lookup,
    }
    record = {"heldout_loss": stats["heldout_loss"], "lookup_accuracy": lookup, "phases": [*earlier, this]}
    (out_dir / "pretrain.json").write_text(json.dumps(record, indent=2) + "\n")
    return {**stats, "lookup_accuracy": lookup["all"]}
