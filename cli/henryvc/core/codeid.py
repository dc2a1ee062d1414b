"""Code identity: which henryvc code a pipeline stage runs, found from the source without importing it.

A stage (`python -m henryvc_training.<stage>`) runs the module files it imports from henryvc and
henryvc_training, directly or through other henryvc modules, at the top or inside functions. That
import closure is computed with `ast` over the package files (no torch, no coqui imported), hashed with
sha256 file by file, and listed as DVC dependencies of the stage (through the `stage_code/` links, see
henryvc.core.stagecode), so that `dvc status` reports a stage whose code changed.
"""

from __future__ import annotations

import ast
import hashlib
import re
from functools import cache, lru_cache
from importlib import util
from pathlib import Path
from typing import Any

PACKAGES = ("henryvc", "henryvc_training")
STAGES = ("prepare", "train", "evaluate")
CODE_FORMAT = "henryvc-code/1"


@cache
def package_dirs() -> dict[str, Path]:
    """Import name -> folder of the installed package (found, not imported)."""
    dirs = {}
    for name in PACKAGES:
        spec = util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(f"package {name} is not installed")
        dirs[name] = Path(list(spec.submodule_search_locations)[0]).resolve()
    return dirs


def module_file(module: str, dirs: dict[str, Path] | None = None) -> Path | None:
    """The file of henryvc module MODULE (dotted), or None when it is not one of ours or does not exist."""
    dirs = dirs or package_dirs()
    top, _, rest = module.partition(".")
    if top not in dirs:
        return None
    base = dirs[top].joinpath(*rest.split(".")) if rest else dirs[top]
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imported(module: str, path: Path) -> frozenset[str]:
    """Dotted names MODULE's source imports (anywhere in the file), relative imports resolved."""
    stat = path.stat()
    return _imported_cached(module, str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=1024)
def _imported_cached(module: str, filename: str, mtime_ns: int, size: int) -> frozenset[str]:
    """_imported for one version of a file (three stages share most modules: each is parsed once)."""
    path = Path(filename)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _import_statements(path.read_text(encoding="utf-8")):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
    return frozenset(names)


# An import statement at the start of a line, at any indentation (inside functions too), with its
# parenthesised or backslash-continued names. Parsing only these, not the whole file, is 20x faster (each
# `henryvc new-run` checks the closure); tests/core/test_codeid.py checks it against Python's own imports.
IMPORT_LINE = re.compile(r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+import[ \t]+(?:\([^)]*\)|(?:\\\n|[^\n])*)"
                         r"|import[ \t]+(?:\\\n|[^\n])*)", re.M)


def _import_statements(source: str) -> list[ast.stmt]:
    """The import statements of SOURCE (one that does not parse alone, e.g. a line inside a string, is skipped)."""
    found: list[ast.stmt] = []
    for match in IMPORT_LINE.finditer(source):
        try:
            found += [n for n in ast.parse(match.group(0).strip()).body if isinstance(n, (ast.Import, ast.ImportFrom))]
        except SyntaxError:
            continue
    return found


def closure(module: str, dirs: dict[str, Path] | None = None) -> dict[str, Path]:
    """Every henryvc module MODULE runs (itself, its packages' __init__, what they import), name -> file."""
    dirs = dirs or package_dirs()
    found: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
            prefix = ".".join(parts[:i])
            if prefix in found:
                continue
            path = module_file(prefix, dirs)
            if path is None:
                continue
            found[prefix] = path
            todo.extend(_imported(prefix, path))
    return dict(sorted(found.items()))


def relative(path: Path, dirs: dict[str, Path] | None = None) -> str:
    """PATH as <import name>/<path in the package>, the way it appears under stage_code/."""
    dirs = dirs or package_dirs()
    for name, folder in dirs.items():
        if folder == path or folder in path.parents:
            return f"{name}/{path.relative_to(folder).as_posix()}"
    raise ValueError(f"{path} is not in a henryvc package")


def stage_files(stage: str, dirs: dict[str, Path] | None = None) -> list[str]:
    """The module files stage STAGE imports, as paths relative to stage_code/ (sorted)."""
    dirs = dirs or package_dirs()
    return sorted(relative(p, dirs) for p in closure(f"henryvc_training.{stage}", dirs).values())


def sha256(path: Path) -> str:
    """sha256 hex of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def identity(dirs: dict[str, Path] | None = None, henryvc: dict[str, Any] | None = None) -> dict[str, Any]:
    """The code identity of the installed stages: per-stage digest and every file's sha256, with HENRYVC (which
    henryvc is installed: henryvc.core.environment.source) as given."""
    dirs = dirs or package_dirs()
    stages = {stage: stage_files(stage, dirs) for stage in STAGES}
    files = {rel: sha256(_path(rel, dirs)) for rel in sorted({f for fs in stages.values() for f in fs})}
    return {"format": CODE_FORMAT, "henryvc": henryvc or {},
            "stages": {stage: _digest({f: files[f] for f in fs}) for stage, fs in stages.items()},
            "digest": _digest(files), "files": files}


def _path(rel: str, dirs: dict[str, Path]) -> Path:
    top, _, rest = rel.partition("/")
    return dirs[top] / rest


def _digest(files: dict[str, str]) -> str:
    return hashlib.sha256("".join(f"{k} {v}\n" for k, v in sorted(files.items())).encode()).hexdigest()


def short(identity_: dict[str, Any]) -> str:
    """One line: version, source commit and the code digest."""
    src = identity_.get("henryvc") or {}
    where = src.get("describe") or (src.get("commit") or "")[:12] or src.get("kind", "?")
    return f"henryvc {src.get('version', '?')} ({where}), code {str(identity_.get('digest', '?'))[:12]}"
