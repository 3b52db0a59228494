"""The package's import graph: no cycles, and the lower layers never reach up into the stages.

Every `import` counts, at module level or inside a function (a late import is still a
dependency); only `if TYPE_CHECKING:` blocks are left out, because they never run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import srlm

ROOT = Path(srlm.__file__).parent
UPPER = ("srlm.stages", "srlm.training", "srlm.loop", "srlm.cli", "srlm.report", "srlm.ablate", "srlm.bench")
LOWER = (
    "srlm.console",
    "srlm.config",
    "srlm.rundir",
    "srlm.backends",
    "srlm.method",
    "srlm.models.loading",
    "srlm.models.gguf",
    "srlm.models.card",
    "srlm.data.io",
    "srlm.data.oasst",
    "srlm.data.eft_filter",
    "srlm.data.alpaca_eval",
    "srlm.data.decontaminate",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = ROOT.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path) -> set[str]:
    """The srlm modules a module imports (a name imported from a package counts as its submodule if it is one)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("srlm"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("srlm") and not node.level:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if is_module(sub) else node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.rglob("*.py") if "assets" not in p.parts}
    return {name: {m for m in imports(path) if m in modules and m != name} for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges[node]):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_lower_layers_never_import_the_stages_the_loop_or_the_cli() -> None:
    edges = graph()
    upward = {
        (name, target)
        for name, targets in edges.items()
        if name.startswith(LOWER)
        for target in targets
        if target.startswith(UPPER)
    }
    assert upward == set()


def test_the_console_imports_nothing_of_srlm() -> None:
    assert graph()["srlm.console"] == set()


def test_the_cli_imports_in_a_fresh_interpreter() -> None:
    subprocess.run([sys.executable, "-c", "import srlm.cli"], check=True, timeout=120)
