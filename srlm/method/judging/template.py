"""Judge prompt templates: load a template file and fill in its placeholders.

A judge is a prompt file plus a pure parser (see ``parse.py``). The shipped ``rubric.txt`` is our
own wording of the paper's additive 0-5 rubric (one point per criterion met, a justification of at
most 100 words, a last line ``Score: <points>``); the paper's text is not reproduced. Any other file
may be used instead as long as it contains the ``{prompt}`` and ``{response}`` placeholders.

Departure from ``str.format``: placeholders are replaced in one regex pass with a callback, so a
response that itself contains ``{prompt}`` or ``{foo}`` is inserted verbatim and never re-expanded,
and braces that are not a requested placeholder (JSON examples in a template) are left untouched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

REQUIRED_PLACEHOLDERS: tuple[str, ...] = ("prompt", "response")
DEFAULT_TEMPLATE_NAME = "rubric.txt"
WORLD_TEMPLATE = "world:judge"  # the built-in world's judge prompt, in the world's own vocabulary


class TemplateError(ValueError):
    """A judge template that cannot be used (a placeholder is missing), naming the file."""


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def load_template(
    path: str | Path | None = None,
    *,
    default: str = DEFAULT_TEMPLATE_NAME,
    placeholders: Sequence[str] = REQUIRED_PLACEHOLDERS,
    kind: str = "judge",
) -> str:
    """Return the judge template at ``path``, or the shipped rubric when ``path`` is None.

    ``world:judge`` names the built-in world's judge prompt (world runs use it: the English rubric
    is mostly unknown words to the world tokenizer and longer than the world model's examples).

    Raises ``FileNotFoundError`` (naming the path) for a missing file and ``TemplateError``, a ``ValueError`` (naming
    the file and the placeholder) when ``{prompt}`` or ``{response}`` is absent.

    >>> text = load_template()
    >>> "{prompt}" in text and "{response}" in text
    True
    """
    if path is None:
        source = f"srlm/method/judging/{default}"
        text = resources.files("srlm.method.judging").joinpath(default).read_text(encoding="utf-8")
    elif str(path) == WORLD_TEMPLATE:
        source = "srlm/world/assets/judge.txt"
        text = resources.files("srlm.world").joinpath("assets", "judge.txt").read_text(encoding="utf-8")
    else:
        file = Path(path)
        source = str(file)
        if not file.is_file():
            raise FileNotFoundError(f"{kind} template not found: {file}")
        text = file.read_text(encoding="utf-8")
    for name in placeholders:
        if "{" + name + "}" not in text:
            raise TemplateError(f"{kind} template {source} lacks the placeholder {{{name}}}")
    return text


def render_template(template: str, **fields: str) -> str:
    """Replace each ``{name}`` whose name is given in ``fields``, in a single pass.

    Inserted values are never scanned again, and unknown ``{...}`` are kept as written.

    >>> render_template("Q: {prompt}\\nA: {response}", prompt="2+2?", response="4 {prompt}")
    'Q: 2+2?\\nA: 4 {prompt}'
    >>> render_template('Reply as {"score": {n}} for {prompt}', prompt="x")
    'Reply as {"score": {n}} for x'
    """

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        return fields[name] if name in fields else match.group(0)

    return _PLACEHOLDER.sub(substitute, template)
