"""The special-token fixes of `srlm model import`, on the tiny test tokenizer (no GGUF needed)."""

from __future__ import annotations

from pathlib import Path

from srlm.models.gguf import chat_end_token, eos_ids, fix_special_tokens


def test_the_chat_end_token_is_read_from_the_template(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert chat_end_token(tok) == "<|end|>"
    tok.chat_template = None
    assert chat_end_token(tok) is None


def test_a_wrong_eos_and_a_missing_pad_are_fixed(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tok.eos_token, tok.pad_token = "<|user|>", None
    notes = fix_special_tokens(tok, model)
    assert tok.eos_token == "<|end|>" and tok.pad_token == "<pad>"  # the vocabulary's own pad token
    assert notes[0] == "eos: <|user|> -> <|end|> (the token that ends an assistant turn)"
    assert tok.model_max_length == model.config.max_position_embeddings
    model.generation_config.eos_token_id = [tok.convert_tokens_to_ids("<|system|>")]
    assert eos_ids(tok, model) == [tok.eos_token_id, tok.convert_tokens_to_ids("<|system|>")]
