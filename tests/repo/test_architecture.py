"""The shape of the code: layers in import order, no import circle, no file over 500 lines.

Read from the source with ast (nothing is imported): every import counts, at the top, inside a function or
under `if TYPE_CHECKING:` (a type-only import is still a dependency a reader must follow, and it hid three
circles). docs/architecture.md is the map these checks keep true.

The layers of henryvc, each a folder (a module may import its own layer and the ones below it):
    main (henryvc.main, henryvc.__main__) > commands > api > ops > core > adapters > foundation
The foundation is henryvc.errors (the one exception base), henryvc.exits (the one mapping from an error to
an exit code), henryvc.hashing (the one md5 hasher) and henryvc.paths (where henryvc's own files are): they
import only each other, and every layer may use them. The training stages (henryvc_training) stand on core
and the foundation alone.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = (ROOT / "cli", ROOT / "training")  # each holds its packages under their import names
MAX_LINES = 500


def module_files() -> dict[str, Path]:
    """Dotted module name -> its file, for every module of both packages."""
    found = {}
    for root in SOURCE_ROOTS:
        for path in sorted(root.rglob("*.py")):
            if "templates" in path.relative_to(root).parts:  # files `henryvc init` copies into a project
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement in TREE, at any depth (`if TYPE_CHECKING:` bodies included)."""
    return [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]


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


def test_the_checker_sees_imports_inside_functions_and_under_type_checking(tmp_path: Path) -> None:
    # The checker itself: circles through a function-level import and through a TYPE_CHECKING import are found.
    (tmp_path / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import c\n"
                                   "def f():\n    from pkg import b\n")
    (tmp_path / "b.py").write_text("import pkg.a\n")
    (tmp_path / "c.py").write_text("from . import a\n")
    modules = {"pkg", "pkg.a", "pkg.b", "pkg.c"}
    graph = {f"pkg.{n}": imported_modules(f"pkg.{n}", tmp_path / f"{n}.py", modules) for n in "abc"}
    assert graph == {"pkg.a": {"pkg.b", "pkg.c"}, "pkg.b": {"pkg.a"}, "pkg.c": {"pkg.a"}}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_the_graph_covers_both_packages() -> None:
    graph = import_graph()
    assert {"henryvc.api", "henryvc.core.runfolder", "henryvc.commands.runs", "henryvc_training.train"} <= set(graph)
    assert "henryvc.core.runfolder" in graph["henryvc.ops.archive"]  # a top-level import
    assert "henryvc.ops.archive" in graph["henryvc.api"]  # an import inside a function


FOUNDATION = {"henryvc", "henryvc.errors", "henryvc.exits", "henryvc.hashing", "henryvc.paths"}
RANKS = {"foundation": 0, "adapters": 1, "core": 2, "ops": 3, "api": 4, "commands": 5, "main": 6}


def layer(module: str) -> str:
    """The layer of henryvc module MODULE (its folder), or "stages" for henryvc_training."""
    if module.startswith("henryvc_training"):
        return "stages"
    if module in FOUNDATION:
        return "foundation"
    if module in ("henryvc.main", "henryvc.__main__"):
        return "main"
    part = module.split(".")[1]
    return part if part in RANKS else f"unplaced ({module})"


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Each import that goes up a layer, or out of what the stages may use."""
    found = []
    for source, targets in sorted(graph.items()):
        here = layer(source)
        for target in sorted(targets):
            there = layer(target)
            if here == "stages":
                allowed = there in ("stages", "core", "foundation")
            elif there == "stages":
                allowed = here in ("ops", "api", "commands", "main")  # what runs or reads the stages
            else:
                allowed = here in RANKS and there in RANKS and RANKS[there] <= RANKS[here]
            if not allowed:
                found.append(f"{source} ({here}) imports {target} ({there})")
    return found


def test_the_layer_checker_finds_an_import_that_goes_up() -> None:
    graph = {"henryvc.core.record": {"henryvc.ops.archive", "henryvc.adapters.gitrepo", "henryvc.errors"},
             "henryvc.adapters.gitrepo": {"henryvc.errors", "henryvc.core.atomic"},
             "henryvc_training.train": {"henryvc.core.record", "henryvc.adapters.dvcrepo"},
             "henryvc.ops.archive": {"henryvc.core.record", "henryvc_training.train"}}
    assert layer_violations(graph) == [
        "henryvc.adapters.gitrepo (adapters) imports henryvc.core.atomic (core)",
        "henryvc.core.record (core) imports henryvc.ops.archive (ops)",
        "henryvc_training.train (stages) imports henryvc.adapters.dvcrepo (adapters)"]


def test_every_module_sits_in_a_layer() -> None:
    assert [m for m in module_files() if layer(m).startswith("unplaced")] == []


def test_imports_follow_the_layers() -> None:
    found = layer_violations(import_graph())
    assert found == [], "imports against the layer order:\n" + "\n".join(found)


def test_no_import_circle() -> None:
    found = cycles(import_graph())
    assert found == [], "import circles (break them by moving the shared part into its owner module): " + \
        "; ".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize("name", sorted(module_files()))
def test_no_module_over_500_lines(name: str) -> None:
    path = module_files()[name]
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines (at most {MAX_LINES}): split it by noun"


MAX_TRAIN_MODULES = 12  # issue 19: the train stage stands on at most 12 henryvc modules, no adapter among them


def stage_code_deps(stage: str) -> list[str]:
    """The henryvc files dvc.yaml lists as stage STAGE's code dependencies (stage_code/henryvc/...)."""
    import yaml

    deps = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"][stage]["deps"]
    return [d.removeprefix("stage_code/") for d in deps if str(d).startswith("stage_code/henryvc/")]


def test_the_train_stage_stands_on_at_most_12_core_modules_and_no_adapter() -> None:
    """Read from dvc.yaml (what DVC hashes): editing git's or DVC's adapter never marks the train stage changed.
    Package `__init__.py` files (henryvc/, henryvc/core/) run too and are listed, but are not counted."""
    files = stage_code_deps("train")
    modules = [f for f in files if not f.endswith("/__init__.py")]
    assert len(modules) <= MAX_TRAIN_MODULES, modules
    assert not [f for f in files if f.startswith(("henryvc/adapters/", "henryvc/ops/", "henryvc/commands/"))]
    assert {f.split("/")[1] for f in modules if f.count("/") == 2} <= {"core"}
    assert "henryvc/core/environment.py" in files and "henryvc/exits.py" in files  # the list is really read


@pytest.mark.parametrize("stage", ["prepare", "train", "evaluate"])
def test_no_stage_runs_git_or_dvc_code(stage: str) -> None:
    """No module a stage runs imports GitPython or DVC, or a henryvc adapter (the whole closure, read by
    codeid as dvc.yaml's lists are)."""
    from henryvc.core import codeid

    closure = codeid.closure(f"henryvc_training.{stage}")
    assert not [m for m in closure if m.startswith("henryvc.adapters")]
    third = {name.partition(".")[0] for m, path in closure.items() for name in codeid._imported(m, path)}
    assert not third & {"git", "dvc", "dvc_data", "dvc_objects", "scmrepo"}, sorted(third & {"git", "dvc"})


def code_strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string constant in PATH's code, f-string parts included; docstrings are prose."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


RUNS_FOLDER = re.compile(r"(?<![\w.])training_runs(?=/|$)")  # the folder as a path part (not a script's name)


def test_the_run_folders_place_is_spelled_by_runfolder_alone() -> None:
    """Everyone else asks henryvc.core.runfolder (RUNS_DIR, run_dir, run_path, RunPaths): no other module's code,
    messages included, holds `training_runs` as a path."""
    found = [f"{name}:{line}" for name, path in module_files().items() if name != "henryvc.core.runfolder"
             for line, value in code_strings(path) if RUNS_FOLDER.search(value)]
    assert found == []


def test_the_string_checker_skips_docstrings_and_sees_f_strings(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text('"""training_runs/ in prose."""\ndef f(x):\n    """training_runs too."""\n'
                      '    return f"training_runs/{x}"\n')
    assert [v for _, v in code_strings(sample)] == ["training_runs/"]
    assert RUNS_FOLDER.search("training_runs/") and RUNS_FOLDER.search("training_runs")
    assert not RUNS_FOLDER.search("archive_training_runs.sh")


def test_params_yaml_has_one_reader_and_one_writer() -> None:
    """core.params parses it (`read`, `parse` for a tag's text) and writes it (`update`); the only other round-trip
    YAML writer is stagecode's, of dvc.yaml."""
    writers = {name for name, path in module_files().items() if "ruamel" in path.read_text(encoding="utf-8")}
    assert writers == {"henryvc.core.params", "henryvc.core.stagecode"}
    source = module_files()["henryvc.core.params"].read_text(encoding="utf-8")
    assert source.count("yaml.safe_load(") == 1 and source.count("yaml.dump(") == 1


@pytest.mark.parametrize("stage", ["train", "evaluate"])
def test_the_documented_stage_figures_are_dvc_yamls(stage: str) -> None:
    """docs/architecture.md's after-figure for a stage's henryvc files is what dvc.yaml lists."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    row = [line for line in text.splitlines() if line.startswith(f"| {stage} stage's henryvc files")][-1]  # the newest
    after = row.rstrip(" |").rsplit("|", 1)[1]
    files = stage_code_deps(stage)
    modules = [f for f in files if not f.endswith("/__init__.py")]
    assert f"{len(files)} ({len(modules)} + {len(files) - len(modules)}), no adapter" in after, (row, files)


def documented_layers() -> dict[str, set[str]]:
    """Layer -> the module names docs/architecture.md's map lists under it (parenthesised text is prose)."""
    import re

    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = text.split("```", 2)[1]
    found: dict[str, set[str]] = {}
    current = None
    for line in block.splitlines():
        header = re.match(r"  (ops|core|adapters)/ ", line)
        if header:
            current = header.group(1)
            found[current] = set()
        elif current and line.startswith("    ") and not line.startswith("      "):
            found[current] |= set(re.sub(r"\(.*", "", line).split())
        elif not line.startswith("    "):
            current = None
    return found


@pytest.mark.parametrize("folder", ["ops", "core", "adapters"])
def test_the_documented_map_lists_each_layers_modules(folder: str) -> None:
    modules = {m.split(".")[2] for m in module_files() if layer(m) == folder and m.count(".") == 2}
    assert documented_layers()[folder] == modules



def _defined(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def test_every_dotted_name_in_the_architecture_doc_exists() -> None:
    """Each `henryvc...` name docs/architecture.md gives is a module, or a name a module defines."""
    import re

    files = module_files()
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    text = text.split("## Before and after (issue 11)")[0]  # that section is history: names of its day
    wrong = []
    for dotted in sorted(set(re.findall(r"\bhenryvc(?:_training)?(?:\.[A-Za-z_]+)+", text))):
        parts = dotted.split(".")
        module = next((".".join(parts[:i]) for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in files), None)
        rest = parts[len(module.split(".")):] if module else parts
        if module is None or (rest and rest[0] not in _defined(files[module])):
            wrong.append(dotted)
    assert wrong == []


# GitPython's and DVC's own packages: only the adapters import them (STYLE.md 19); the domain holds a
# henryvc.adapters.gitrepo.GitRepo and DVC's repository only as henryvc.adapters.dvcrepo.DvcRepo. dvc_render (the
# report's chart renderer) is not DVC's repository and stays allowed.
ADAPTER_ONLY = {"git": "GitPython", "dvc": "DVC", "dvc_data": "DVC", "dvc_objects": "DVC", "scmrepo": "DVC"}


def foreign_uses(name: str, path: Path) -> list[str]:
    """Imports of ADAPTER_ONLY packages and mentions of `git.Repo` (string annotations too) in module NAME."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in _imports(tree):
        targets = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if not node.level else []
        found += [f"{name} imports {t} ({ADAPTER_ONLY[t.split('.')[0]]})" for t in targets
                  if t.split(".")[0] in ADAPTER_ONLY]
    quoted = []  # annotations written as strings: 'git.Repo | None'
    for text in {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}:
        try:
            quoted += list(ast.walk(ast.parse(text, mode="eval"))) if "git.Repo" in text else []
        except SyntaxError:  # prose
            continue
    for node in [*ast.walk(tree), *quoted]:
        if isinstance(node, ast.Attribute) and node.attr == "Repo" and isinstance(node.value, ast.Name) \
                and node.value.id == "git":
            found.append(f"{name} names git.Repo")
        if isinstance(node, ast.Attribute) and node.attr in ("open_repo", "raw") and isinstance(node.value, ast.Name) \
                and node.value.id == "gitrepo":
            found.append(f"{name} asks gitrepo.{node.attr} for a GitPython Repo")
    return found


def test_the_foreign_package_checker_sees_imports_and_annotations(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import git\n"
                                   "def f(r: 'git.Repo | None'):\n    from dvc.repo import Repo\n"
                                   "def g(r: git.Repo): import dvc_render\n"
                                   "def h(root): return gitrepo.open_repo(root)\n")
    assert sorted(foreign_uses("m", tmp_path / "m.py")) == sorted([
        "m imports git (GitPython)", "m imports dvc.repo (DVC)", "m names git.Repo", "m names git.Repo",
        "m asks gitrepo.open_repo for a GitPython Repo"])


def test_only_adapters_touch_gitpython_and_dvc() -> None:
    found = [use for name, path in sorted(module_files().items()) if layer(name) != "adapters"
             for use in foreign_uses(name, path)]
    assert found == [], "GitPython or DVC outside henryvc.adapters (hold a GitRepo / DvcRepo):\n" + "\n".join(found)


def namesake_test(module: str) -> Path:
    """Where module MODULE's own tests live: tests/ mirrors the package folders (henryvc_training's stages in
    tests/training/); a leading or trailing underscore is dropped (`_common`, `__main__` -> test_common, test_main)."""
    package, *parts = module.split(".")
    folder = ["training"] if package == "henryvc_training" else parts[:-1]
    return ROOT.joinpath("tests", *folder, f"test_{parts[-1].strip('_')}.py")


def test_every_module_has_a_namesake_test_module() -> None:
    modules = [m for m, path in module_files().items() if path.name != "__init__.py"]
    missing = sorted(str(namesake_test(m).relative_to(ROOT / "tests")) for m in modules if not namesake_test(m).is_file())
    assert missing == [], "modules without their test module (tests/ mirrors the packages)"
