"""The shape of the code: no import circle among henryvc/henryvc_training modules, no file over 500 lines.

Read from the source with ast (nothing is imported): every import counts, at the top or inside a function,
except those under `if TYPE_CHECKING:` (never run). docs/architecture.md is the map these checks keep true.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE_ROOTS = (ROOT / "cli", ROOT / "training")  # each holds its packages under their import names
MAX_LINES = 500


def module_files() -> dict[str, Path]:
    """Dotted module name -> its file, for every module of both packages."""
    found = {}
    for root in SOURCE_ROOTS:
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _type_checking_only(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement in TREE, at any depth, skipping the bodies of `if TYPE_CHECKING:`."""
    found, todo = [], [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        children = list(ast.iter_child_nodes(node))
        if _type_checking_only(node):
            children = list(node.orelse)
        todo.extend(children)
    return found


def imported_modules(name: str, path: Path, modules: set[str]) -> set[str]:
    """The modules of MODULES that module NAME (at PATH) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from pkg import x`: x is a module when one is named so, else a name defined in pkg
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        for target in targets:
            while target and target not in modules:  # `import henryvc.x.y` without a module y: its nearest module
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imported_modules(name, path, set(files)) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_checker_sees_imports_inside_functions_and_skips_type_checking(tmp_path: Path) -> None:
    # The checker itself: a circle through a function-level import is found; a TYPE_CHECKING import is not one.
    (tmp_path / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import c\n"
                                   "def f():\n    from pkg import b\n")
    (tmp_path / "b.py").write_text("import pkg.a\n")
    (tmp_path / "c.py").write_text("from . import a\n")
    modules = {"pkg", "pkg.a", "pkg.b", "pkg.c"}
    graph = {f"pkg.{n}": imported_modules(f"pkg.{n}", tmp_path / f"{n}.py", modules) for n in "abc"}
    assert graph == {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}, "pkg.c": {"pkg.a"}}
    assert cycles(graph) == [["pkg.a", "pkg.b"]]


def test_the_graph_covers_both_packages() -> None:
    graph = import_graph()
    assert {"henryvc.api", "henryvc.runfolder", "henryvc.commands.runs", "henryvc_training.train"} <= set(graph)
    assert "henryvc.runfolder" in graph["henryvc.archive"]  # a top-level import
    assert "henryvc.archive" in graph["henryvc.api"]  # an import inside a function


def test_no_import_circle() -> None:
    found = cycles(import_graph())
    assert found == [], "import circles (break them by moving the shared part into its owner module): " + \
        "; ".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize("name", sorted(module_files()))
def test_no_module_over_500_lines(name: str) -> None:
    path = module_files()[name]
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines (at most {MAX_LINES}): split it by noun"
