"""Does the judge give the verdict its own evidence implies? Teacher-forced, per check kind.

    python scripts/verdict_probe.py runs/default m1 m2 m3             # the run's judge-eval answers
    python scripts/verdict_probe.py runs/default m1 m3 --set eft      # its EFT rows (trained on)

For every answer, the oracle's judgment (in the run's `world.clean_line` format) is fed after
the judge prompt, as the judge would write it, and at each rule line's verdict (`end with fish :
last fish , ▸yes`) the model's probabilities of `yes` and `no` are read. Printed per rule kind:
P(the right verdict), renormalised over yes and no, on lines whose right verdict is yes, then on
lines whose right verdict is no. The evidence before the verdict is the oracle's, so this
measures the last step alone, free of sampling noise and of wrong evidence.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Annotated

import typer

from srlm.method.judging import render_template
from srlm.world.judge_checks import NOT_RULES, kind_of
from srlm.world.judgment import judge_template_path, write_judgment

RULE_KINDS = ("end with", "start with", "exactly", "at most", "at least", "list", "say", "order", "include", "avoid")


def targets(run: Path, which: str) -> list[tuple[str, str]]:
    """(prompt, answer) pairs: the judge-eval answers, or every fourth EFT row the model trained on."""
    if which == "eft":
        rows = [json.loads(line) for line in (run / "world" / "eft_model.jsonl").open()][::4]
        return [(row["prompt"], row["response"]) for row in rows]
    rows = [json.loads(line) for line in (run / "world" / "judge_eval.jsonl").open()]
    return [(row["prompt"], answer) for row in rows for answer in row["responses"]]


def main(
    run: Annotated[Path, typer.Argument(help="a world run dir")],
    models: Annotated[list[str], typer.Argument(help="model dirs inside the run: m1 m2 m3 sft_baseline")],
    which: Annotated[str, typer.Option("--set", help="judge_eval or eft")] = "judge_eval",
) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from srlm.config import load_config

    world = load_config(run / "config.yaml").world
    if world is None:
        raise typer.BadParameter(f"{run / 'config.yaml'}: not a world run (no `world` section)")
    template = judge_template_path().read_text()
    pairs = targets(run, which)
    for name in models:
        tokenizer = AutoTokenizer.from_pretrained(run / name)
        model = AutoModelForCausalLM.from_pretrained(run / name).eval()
        yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
        right: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"yes": [], "no": []})
        for prompt, answer in pairs:
            judgment = write_judgment(prompt, answer, world.clean_line)
            lines = [line for line in judgment.split("\n") if line.endswith((", yes", ", no"))]
            rules = [line for line in lines if kind_of(line.split(" : ")[0]) in RULE_KINDS]
            if not rules:
                continue
            chat = [{"role": "user", "content": render_template(template, prompt=prompt, response=answer)}]
            head = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
            spaced = judgment.replace("\n", " \n ")  # the way the judge's own samples are written
            tokens = tokenizer(f"{head} {spaced}", add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                probs = torch.softmax(model(torch.tensor([tokens])).logits[0].float(), -1)
            verdicts = [
                i for i in range(1, len(tokens)) if tokens[i] in (yes, no) and tokenizer.decode(tokens[i - 1]) == ","
            ]
            if len(verdicts) != len(lines):  # a word of the answer spelt yes or no: skip the answer
                continue
            for line, i in zip(lines, verdicts, strict=True):
                kind = kind_of(line.split(" : ")[0])
                if kind in NOT_RULES or kind == "topic":
                    continue
                p_yes, p_no = probs[i - 1, yes].item(), probs[i - 1, no].item()
                truth = "yes" if tokens[i] == yes else "no"
                right[kind][truth].append((p_yes if truth == "yes" else p_no) / max(p_yes + p_no, 1e-12))
        cells = []
        for kind in RULE_KINDS:
            if kind in right:
                y, n = right[kind]["yes"], right[kind]["no"]
                cells.append(f"{kind} {sum(y) / max(len(y), 1):.2f} / {sum(n) / max(len(n), 1):.2f}")
        print(f"{run} {name} ({which}, {len(pairs)} answers; P(right verdict) when yes / when no): " + ", ".join(cells))


if __name__ == "__main__":
    typer.run(main)
