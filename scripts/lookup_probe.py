"""Can a world model look a word up in an answer? Teacher-forced, before any loop is run.

    python scripts/lookup_probe.py runs/default/m1                 # the judge prompt (M1, M2, ...)
    python scripts/lookup_probe.py srlm/world/assets/m0 --review   # M0's pretraining review pages

For fresh instructions of the world (outside every seed set) and answers of mixed quality, the
oracle's judgment is fed up to a check line's ` : ` and the model's next-token distribution is
read, so sampling noise plays no part:

- `include W : found|missing`: how well logit(found) − logit(missing) separates answers that
  contain W from those that do not (AUC; 0.5 = no look-up at all), and P(found) in each group;
- `end with W : last X`, `start with W : first X`: the probability the model gives the answer's
  true last / first word X (copying by position).

A judge that cannot look a word up cannot find the better of its own answers, whatever its
EFT data; this measures that directly in seconds.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Annotated, Any

import typer

from srlm.world import judge_template_path, render, sample_instruction, write_judgment
from srlm.world.answers import sample_answer, solve
from srlm.world.seeds import in_pretrain_pool

KINDS = ("include", "end with", "start with")


def _items(n: int, seed: int) -> dict[str, list[tuple[str, str, str, str]]]:
    """Per check kind: (instruction, answer, judgment before the line, oracle line) for n lines of that kind."""
    rng = random.Random(seed)
    found: dict[str, list[tuple[str, str, str, str]]] = {kind: [] for kind in KINDS}
    while min(len(rows) for rows in found.values()) < n:
        instruction = sample_instruction(rng)
        prompt = render(instruction)
        if in_pretrain_pool(prompt):
            continue
        words = sample_answer(instruction, rng)[0] if rng.random() < 0.7 else solve(instruction, rng)
        answer = " ".join(words)
        judgment = write_judgment(instruction, answer)
        for line in judgment.split("\n"):
            kind = next((k for k in KINDS if line.startswith(k + " ")), None)
            if kind and len(found[kind]) < n:  # the oracle's judgment up to this line, then the line
                found[kind].append((prompt, answer, judgment[: judgment.index(line)], line))
    return found


def _text(tokenizer: Any, template: str, prompt: str, answer: str, head: str, review: bool) -> str:
    if review:  # M0's pretraining layout
        return f"request : {prompt}\nanswer : {answer}\nreview :\n{head}"
    messages = [{"role": "user", "content": template.format(prompt=prompt, response=answer)}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) + " " + head


def main(
    model_dir: Annotated[Path, typer.Argument(help="a world model dir (M0, M1, ...)")],
    review: Annotated[bool, typer.Option(help="M0's pretraining review layout instead of the judge prompt")] = False,
    n: Annotated[int, typer.Option(help="check lines per kind")] = 200,
    seed: Annotated[int, typer.Option(help="instruction stream")] = 123,
) -> None:
    import torch
    from scipy.stats import mannwhitneyu
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    template = judge_template_path().read_text(encoding="utf-8")

    def next_logprobs(text: str) -> Any:
        ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            return model(ids).logits[0, -1].log_softmax(-1)

    vocab = tokenizer.get_vocab()

    def token(word: str) -> int:
        return int(vocab[word])

    for kind, rows in _items(n, seed).items():
        present: list[float] = []
        absent: list[float] = []
        copied: list[float] = []
        for prompt, answer, before, line in rows:
            key, rest = line.split(" : ", 1)
            head = before + key + " :"
            if kind == "include":
                logprobs = next_logprobs(_text(tokenizer, template, prompt, answer, head, review))
                margin = float(logprobs[token("found")] - logprobs[token("missing")])
                (present if rest.startswith("found") else absent).append(margin)
            else:  # "last X" / "first X": the probability of the true X after the evidence word
                evidence, word = rest.split()[:2]
                text = _text(tokenizer, template, prompt, answer, f"{head} {evidence}", review)
                copied.append(math.exp(float(next_logprobs(text)[token(word)])))
        if kind == "include":
            auc = mannwhitneyu(present, absent).statistic / (len(present) * len(absent))
            p_found = [sum(1 / (1 + math.exp(-m)) for m in group) / len(group) for group in (present, absent)]
            print(f"include: {len(present)} with W, {len(absent)} without; AUC {auc:.3f}; "
                  f"P(found) {p_found[0]:.2f} with W, {p_found[1]:.2f} without")  # fmt: skip
        else:
            print(f"{kind}: mean P(the answer's true word) {sum(copied) / len(copied):.2f} over {len(copied)} lines")


if __name__ == "__main__":
    typer.run(main)
