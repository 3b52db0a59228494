"""load_template / render_template: the shipped rubric and one-pass placeholder filling."""

from __future__ import annotations

from pathlib import Path

import pytest

from srlm.method.judging import load_template, render_template
from srlm.method.judging.template import TemplateError


def test_shipped_rubric_has_each_placeholder_once_and_asks_for_score_line() -> None:
    text = load_template(None)
    assert text.count("{prompt}") == 1
    assert text.count("{response}") == 1
    assert "Score: <points>" in text.strip().splitlines()[-1]
    assert "100 words" in text


def test_load_from_path(tmp_path: Path) -> None:
    path = tmp_path / "judge.txt"
    path.write_text("Q {prompt} A {response}", encoding="utf-8")
    assert load_template(path) == "Q {prompt} A {response}"
    assert load_template(str(path)) == "Q {prompt} A {response}"


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        load_template(missing)


@pytest.mark.parametrize(("text", "missing"), [("Q {prompt}", "response"), ("A {response}", "prompt")])
def test_missing_placeholder_names_file_and_placeholder(tmp_path: Path, text: str, missing: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError, match=r"bad\.txt.*\{" + missing + r"\}"):
        load_template(path)


def test_render_is_single_pass() -> None:
    template = "Q: {prompt}\nA: {response}"
    out = render_template(template, prompt="What is {response}?", response="It is {prompt} and {foo}.")
    assert out == "Q: What is {response}?\nA: It is {prompt} and {foo}."


def test_render_leaves_other_braces_alone() -> None:
    template = 'Answer as JSON: {"score": 3, "why": "..."} about {prompt}. {unused} {}'
    assert render_template(template, prompt="cats") == (
        'Answer as JSON: {"score": 3, "why": "..."} about cats. {unused} {}'
    )


def test_render_handles_backslashes_and_group_references() -> None:
    # re.sub would interpret "\1" in a replacement string; the callback must not.
    assert render_template("{prompt}", prompt=r"a\1b\n") == r"a\1b\n"


def test_render_shipped_rubric() -> None:
    text = render_template(load_template(), prompt="P?", response="R.")
    assert "P?" in text and "R." in text and "{prompt}" not in text


def test_world_judge_template_by_name() -> None:
    text = load_template("world:judge")
    assert text.startswith("review the answer to the request")
    assert "{prompt}" in text and "{response}" in text
