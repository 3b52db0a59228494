"""Fuzzing the readers of untrusted text: none may fail with anything but its documented error.

- `parse_score` (judge output)        -> a score in [0, 5] or None, never an exception
- `srlm.world.grammar.parse`           -> an Instruction (valid, round-trips) or None
- `read_rows` / `read_partial` (bytes) -> rows or `DataError`; read_partial keeps whole rows only
- `load_config` (YAML-ish text)        -> a Config or `ConfigError`

10,000 examples each, slow-marked. Half the inputs are arbitrary text or bytes; the other half
are built from sampled pieces of the real formats (valid instructions, JSON rows, config lines)
with odd pieces mixed in, so the parsers' deep paths are reached. Sampling prebuilt pieces
rather than generating them keeps the whole file near a minute.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from srlm.config import Config, ConfigError, load_config
from srlm.data.io import DataError, read_partial, read_rows
from srlm.method.judging import parse_score
from srlm.world import grammar

pytestmark = pytest.mark.slow
FUZZ = settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- parse_score -----------------------------------------------------------------------------

SCORE_TOKENS = [
    *["Score", "score", "SCORE", "scores", "Total score", "**Score:**", "__Score__", "underscore", "scored"],
    *[":", "=", " of ", " is ", " out of ", "/", "/5", " / 5", "/10", "N/A", "five", "**", "_", "\n", ".", ",", " "],
    *[str(n) for n in range(-2, 12)],
    *["3.5", "4.0", "3.", ".5", "4.5.6", "3,5", "0.0", "5.0001", "007", "1e3", "٣", "²", "9" * 30, " " * 200],
]
score_like = st.lists(st.sampled_from(SCORE_TOKENS), max_size=12).map("".join)


@FUZZ
@given(st.one_of(st.text(), score_like))
def test_parse_score_never_raises(text: str) -> None:
    result = parse_score(text)
    assert result is None or 0.0 <= result <= 5.0


# --- the world's instruction parser ----------------------------------------------------------

INSTRUCTIONS = [tuple(grammar.render(grammar.sample_instruction(random.Random(seed))).split()) for seed in range(500)]
NUMBERISH = [*grammar.NUMBER_WORDS, *[str(n) for n in range(15)], "0005", "10" * 3000, "-3", "3.0", "²", "٣", "½"]
NUMBERISH += ["Ⅻ", "1_0", "๓", "𝟓"]  # digit-like characters that str.isdigit() accepts and int() may not
ODD_TOKENS = sorted(grammar.INSTRUCTION_WORDS | set(grammar.TOPIC_OF) | set(grammar.CATEGORIES))
ODD_TOKENS += [*NUMBERISH, ".", ",", ":", "!", "Write", "ABOUT", "\n", "", "é", "ß"]


# Strategies are built once: building one per example costs more than the parse under test.
_instruction = st.sampled_from(INSTRUCTIONS)
_token_edits = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 2), st.sampled_from(ODD_TOKENS)), max_size=3)
_number = st.one_of(st.none(), st.sampled_from(NUMBERISH))


@st.composite
def mutated_instructions(draw: st.DrawFn) -> str:
    """A valid rendered instruction, its numbers maybe swapped for odd ones, a few tokens edited."""
    words = list(draw(_instruction))
    number = draw(_number)
    if number is not None:
        words = [number if word in grammar.NUMBER_WORDS else word for word in words]
    for at, action, token in draw(_token_edits):
        at %= len(words) + 1
        if action == 0 or at == len(words):
            words.insert(at, token)
        elif action == 1:
            words[at] = token
        else:
            del words[at]
    return " ".join(words)


@FUZZ
@given(st.one_of(st.text(), mutated_instructions()))
def test_world_parser_returns_a_valid_instruction_or_none(text: str) -> None:
    instruction = grammar.parse(text)
    if instruction is not None:
        assert grammar.is_valid(instruction)
        assert grammar.parse(grammar.render(instruction)) == instruction


# --- JSONL readers ---------------------------------------------------------------------------

_KEYS = ["prompt", "response", "id", "x", ""]
_VALUES = [None, True, 0, -1, 10**20, 1.5, 1e308, float("nan"), "", " ", "\t\n", "text", "é ☃ \u2028", "{}"]
_VALUES += [[], ["a"], [1, [2]], {}, {"prompt": "nested"}]
_rng = random.Random(0)
JSON_LINES = [
    json.dumps({key: _rng.choice(_VALUES) for key in _rng.sample(_KEYS, _rng.randint(0, 4))}).encode()
    for _ in range(400)
]
ODD_LINES = [
    b"[" * 5000,  # nesting deeper than the recursion limit
    b'{"prompt": ' + b"1" * 5000 + b"}",  # an integer longer than Python's int-string limit
    b'{"prompt": "\\ud800", "response": "x"}',  # an unpaired surrogate escape
    b"\xef\xbb\xbf{}",  # a UTF-8 byte-order mark
    b"NaN",
    b'{"prompt": "a", "response": "b"',
    b"\xff\xfe",
    b"\r",
    b"",
    b"  ",
    b'"just a string"',
]
line = st.one_of(st.sampled_from(JSON_LINES), st.sampled_from(ODD_LINES), st.binary(max_size=30))
jsonl_bytes = st.one_of(st.binary(max_size=80), st.lists(line, max_size=5).map(b"\n".join))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A scratch dir in memory where there is one: 10,000 rewrites on a disk took minutes."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(dir=shm) as tmp:
            yield Path(tmp)
    else:
        yield tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(data=jsonl_bytes, with_fields=st.booleans())
def test_jsonl_readers_raise_only_data_error(scratch: Path, data: bytes, with_fields: bool) -> None:
    path = scratch / "rows.jsonl"
    path.write_bytes(data)
    fields = {"prompt": str, "response": str} if with_fields else None
    try:
        result = read_rows(path, fields)
    except DataError as error:
        assert str(path) in str(error)
    else:
        assert all(isinstance(row, dict) for row in result)
        if with_fields:
            assert all(isinstance(row["prompt"], str) and row["prompt"].strip() for row in result)
    # The resume reader never raises: it keeps a prefix of whole object rows and cuts the rest.
    rows = read_partial(path)
    kept = path.read_bytes()
    assert all(isinstance(row, dict) for row in rows)
    assert data.startswith(kept) and (not kept or kept.endswith(b"\n"))


# --- config loading --------------------------------------------------------------------------


def _section_keys(annotation: object) -> list[str]:
    """Field names of a section model (`WorldSection | None` counts as WorldSection)."""
    for kind in (annotation, *typing.get_args(annotation)):
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return list(kind.model_fields)
    return []


SECTIONS = {name: _section_keys(field.annotation) for name, field in Config.model_fields.items()}
YAML_VALUES = [
    *["null", "~", "true", "no", "0", "-1", "3", "0x1F", "1e400", ".inf", ".nan", "0.5", "'2'", '"x"', "", "[]"],
    *["{}", "[1, 2]", "{a: 1}", "[", "{", "'unclosed", "|", ">", "- a", "&anchor 1", "*anchor", "!!binary x"],
    *["!!python/object:os.system ls", "2001-13-45", "2001-02-30 25:61:00", "world:m0", "../x", "/abs", "é", "\t"],
]
# One "section:\n  key: value\n" block per (section, key, value); repeated sections are valid YAML.
_rng = random.Random(1)
CONFIG_BLOCKS = [
    f"{section}:\n  {_rng.choice([*keys, 'unknown'])}: {_rng.choice(YAML_VALUES)}\n"
    for section, keys in SECTIONS.items()
    for _ in range(60)
]
YAML_JUNK = [*"\t{}[]&*!|>%@`'\":-#?,\n ", "é", "\x00", "\x1f", "\ufeff", "  ", "\n  "]
OVERRIDES = ["dpo.beta=0.2", "dpo.beta=[", "dpo=3", "x", "=1", "a.b.c=1", "loop.run_dir=../up", "sft.epochs=!!x 1"]


_model_path = st.sampled_from(["m0", "world:m0", "[]", ""])
_blocks = st.lists(st.sampled_from(CONFIG_BLOCKS), max_size=5)
_junk_edits = st.lists(st.tuples(st.integers(0, 400), st.sampled_from(YAML_JUNK)), max_size=2)


@st.composite
def config_texts(draw: st.DrawFn) -> str:
    """YAML text of known sections and keys with odd values, with junk characters inserted."""
    text = f"model:\n  path: {draw(_model_path)}\n" + "".join(draw(_blocks))
    for at, junk in draw(_junk_edits):
        at = min(at, len(text))
        text = text[:at] + junk + text[at:]
    return text


@FUZZ
@given(text=st.one_of(st.text(max_size=60), config_texts()), overrides=st.lists(st.sampled_from(OVERRIDES), max_size=2))
def test_load_config_raises_only_config_error(scratch: Path, text: str, overrides: list[str]) -> None:
    path = scratch / "cfg.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")  # lone surrogates: invalid UTF-8
    try:
        cfg = load_config(path, overrides)
    except ConfigError:
        return
    assert isinstance(cfg, Config)
