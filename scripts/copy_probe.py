"""Can a world M0 restate a request's rules? Greedy reviews of unseen instructions, checked.

    python scripts/copy_probe.py srlm/world/assets/m0 --pages 200

Builds review pages in M0's own pretraining layout (`request : … / answer : … / review :`) for
instructions outside the pretraining pool, with answers of varied quality, lets the model
write the review greedily and compares it with the oracle's judgment (`srlm.world.write_judgment`).
Prints the share of reviews that restate exactly the instruction's rules, the share of the
oracle's rule lines written at all, and the share whose final score equals the oracle's.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Annotated

import typer

from srlm.world.answers import sample_answer
from srlm.world.grammar import Instruction, render, sample_instruction
from srlm.world.judge_checks import NOT_RULES, keyed
from srlm.world.judgment import write_judgment
from srlm.world.seeds import in_pretrain_pool


def pages(n: int) -> list[tuple[Instruction, str]]:
    rng = random.Random("probe")
    rows: list[tuple[Instruction, str]] = []
    while len(rows) < n:
        instruction = sample_instruction(rng)
        if not in_pretrain_pool(render(instruction)):
            rows.append((instruction, " ".join(sample_answer(instruction, rng)[0])))
    return rows


def rule_keys(text: str) -> set[str]:
    return {k for k in keyed(text) if k not in NOT_RULES and not k.startswith("topic")}


def main(
    model_dir: Annotated[Path, typer.Argument(help="an M0 (or any world model) directory")],
    n_pages: Annotated[int, typer.Option("--pages", help="review pages to write")] = 200,
    batch_size: Annotated[int, typer.Option(help="pages per generate call")] = 50,
) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    rows = pages(n_pages)
    exact = same_score = present = total = 0
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        texts = [f"<bos> request : {render(ins)}\nanswer : {answer}\nreview :\n" for ins, answer in batch]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(
                **enc,
                max_new_tokens=64,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
        for (ins, answer), ids in zip(batch, out[:, enc["input_ids"].shape[1] :], strict=True):
            written = tokenizer.decode(ids, skip_special_tokens=True)
            truth = write_judgment(ins, answer)
            want, got = rule_keys(truth), rule_keys(written)
            exact += got == want
            present += len(want & got)
            total += len(want)
            score = keyed(written).get("score", "").split()[-1:]
            same_score += score == keyed(truth)["score"].split()[-1:]
    result = {
        "model": str(model_dir),
        "pages": len(rows),
        "rules_restated_exactly": exact / len(rows),
        "rule_lines_written": present / max(1, total),
        "score_equals_oracle": same_score / len(rows),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    typer.run(main)
