"""The built-in offline world: verifiable instructions, an oracle, seed sets, a tiny base model.

Everything it makes is an ordinary HF model dir or JSONL file, so the loop treats it like a
user's own model and data. Importing this package loads no torch (``model``/``pretrain`` import
it lazily). See ``grammar`` (instructions), ``oracle`` (0-5 rubric), ``judgment`` (judge text),
``answers`` (answer sampler), ``seeds`` (``srlm world build``), ``notes`` (check notes for
M0's second pretraining phase), ``pretrain`` (``srlm world pretrain``).
"""

from srlm.world.grammar import Instruction, parse, render, sample_instruction
from srlm.world.judgment import judge_template_path, write_judgment
from srlm.world.model import shipped_m0_path
from srlm.world.oracle import Grade, grade
from srlm.world.seeds import WorldPaths, WorldSizes, build_world, is_valid_prompt, sample_prompts

__all__ = [
    "Grade",
    "Instruction",
    "WorldPaths",
    "WorldSizes",
    "build_world",
    "grade",
    "is_valid_prompt",
    "judge_template_path",
    "parse",
    "render",
    "sample_instruction",
    "sample_prompts",
    "shipped_m0_path",
    "write_judgment",
]
