"""Tokenizer and tiny Llama of the built-in world; the shipped M0's location.

The tokenizer is word-level over the world's closed vocabulary (``world_vocabulary``), built
with the ``tokenizers`` library and wrapped as a ``PreTrainedTokenizerFast``, so it saves and
loads with ``AutoTokenizer`` like any user's tokenizer. Text is split on spaces, with ``\\n`` and
punctuation as tokens of their own; decoding joins tokens with single spaces (so a newline comes
back as `` \\n ``; tokenisation ignores that whitespace). Its Jinja chat template renders
``<bos> <user> ... <assistant> ... <eos>``: every assistant turn ends with the eos token and
``add_generation_prompt`` ends with ``<assistant>``, so a rendered prompt is always a token
prefix of prompt + completion (what TRL's completion-only SFT loss needs).

The model is a ``LlamaForCausalLM`` of ~1.2 M parameters: the architecture of the paper's
Llama 2, shrunk ~60,000-fold. torch/transformers are imported lazily so the world's pure
modules stay light.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from srlm.world.grammar import (
    ANSWER_WORDS,
    CATEGORIES,
    INSTRUCTION_WORDS,
    NUMBER_WORDS,
    PUNCTUATION,
    TOPICS,
)

if TYPE_CHECKING:
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

SPECIAL_TOKENS = ("<pad>", "<unk>", "<bos>", "<eos>", "<system>", "<user>", "<assistant>")
# Words of judgments (judgment.py) and of the pretraining documents (pretrain.py).
JUDGMENT_WORDS = (
    "topic", "yes", "no", "found", "missing", "got", "first", "last", "exactly", "at", "most",
    "least", "words", "start", "with", "end", "list", "say", "times", "before", "include", "avoid",
    "met", "of", "clean", "too", "short", "long", "twice", "extra", "none", "odd", "many", "score",
    "answer", "empty", "request", "review",
)  # fmt: skip
NEWLINE = "\n"

CHAT_TEMPLATE = (
    "{{- '<bos>' -}}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{- ' <assistant> ' + message['content'] + ' <eos>' -}}"
    "{%- else -%}"
    "{{- ' <' + message['role'] + '> ' + message['content'] -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- ' <assistant>' -}}{%- endif -%}"
)


def shipped_m0_path() -> Path:
    """The M0 shipped with srlm (built by ``srlm world pretrain``), an ordinary HF model dir."""
    return Path(str(resources.files("srlm.world").joinpath("assets").joinpath("m0")))


# Words for writing a judge prompt that states the rubric in the world's own language. The
# shipped judge prompt no longer uses them (the EFT judgments teach the rubric, at a third less
# SFT time), but they stay in the vocabulary so a user's template can, and M0 keeps its shape.
RUBRIC_WORDS = [
    "review", "the", "answer", "to", "request", "give", "one", "point", "for", "each", "on", "topic",
    "half", "rules", "met", "all", "clean", "no", "extra", "words", "check", "rule", "then", "score",
]  # fmt: skip


def _template_words() -> set[str]:
    text = resources.files("srlm.world").joinpath("assets").joinpath("judge.txt").read_text(encoding="utf-8")
    text = re.sub(r"\{(prompt|response)\}", " ", text)
    return set(re.sub(r"([.,:])", r" \1 ", text).split()) | set(RUBRIC_WORDS)


def world_vocabulary() -> list[str]:
    """Every token world text can contain, special tokens first (ids 0-6), then sorted words."""
    words = set(ANSWER_WORDS) | INSTRUCTION_WORDS | set(JUDGMENT_WORDS) | _template_words()
    words |= set(TOPICS) | set(CATEGORIES) | set(NUMBER_WORDS) | set(PUNCTUATION)
    words |= {str(d) for d in range(13)}
    return [*SPECIAL_TOKENS, NEWLINE, *sorted(words)]


def build_tokenizer() -> PreTrainedTokenizerFast:
    """The world's word-level tokenizer with its chat template."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {word: i for i, word in enumerate(world_vocabulary())}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"[ \t\r]+"), behavior="removed"),
            pre_tokenizers.Split(Regex(r"\n|[.,:;!?]"), behavior="isolated"),
        ]
    )
    # WordPiece's decoder puts one space before every token that lacks the "##" prefix.
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=["<system>", "<user>", "<assistant>"],
        model_max_length=512,
        padding_side="left",  # generation pads on the left; TRL's collators pad as they need
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> LlamaForCausalLM:
    """A freshly initialised tiny Llama for ``tokenizer``'s vocabulary."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        num_hidden_layers=4,  # the probe's 4 x 128 model, widened to 160: ~1.3 M parameters
        hidden_size=160,
        intermediate_size=448,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)
