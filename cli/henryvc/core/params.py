"""params.yaml and its active run (the run `dvc repro` trains): the one reader and writer.

Every reader checks `run` with the run-name grammar: a value that is not a run name is BadInput (exit 2),
never a path the stages or the lifecycle commands would act on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from henryvc.core import runname
from henryvc.errors import BadInput

PARAMS_FILE = "params.yaml"
NO_RUN_HINT = "create one with `henryvc new-run --major 2 --variant debug`"


def params_path(root: Path) -> Path:
    """params.yaml of the project at ROOT."""
    return Path(root) / PARAMS_FILE


def read(root: Path) -> dict[str, Any] | None:
    """params.yaml's mapping; None when the file is absent. BadInput when it is not YAML or not a mapping."""
    path = params_path(root)
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path} cannot be read as YAML ({type(exc).__name__}): fix or restore it") from None
    return parse(text, str(path))


def parse(text: str, where: str) -> dict[str, Any]:
    """The mapping of a params.yaml's TEXT (the work tree's, or a tag's: the one parser of the file); WHERE
    names it in the BadInput raised when it is not YAML or not a mapping."""
    import yaml  # here: `henryvc --help` and `list` never parse YAML

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BadInput(f"{where} cannot be read as YAML ({type(exc).__name__}: "
                       f"{str(exc).splitlines()[0]}): fix or restore it") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInput(f"{where} is not a mapping of parameters: fix or restore it")
    return data


def checked_run(value: Any, path: Path) -> str | None:
    """VALUE of params.yaml's `run` as a run name; None when it names none; BadInput when it is not a run name."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadInput(f"{path}: run must be a run name, got {value!r}")
    return str(runname.parse(value))


def active_run_or_none(root: Path) -> str | None:
    """The run params.yaml points at, or None when there is no params.yaml, it cannot be read, or names no run.

    For commands that merely take the active run into account (archive). A `run` that is not a run name is
    still BadInput.
    """
    try:
        data = read(root)
    except BadInput:
        return None
    return checked_run(data.get("run"), params_path(root)) if data else None


def active_run(root: Path) -> str:
    """The run params.yaml points at (what `dvc repro` trains); BadInput when there is none."""
    path = params_path(root)
    data = read(root)
    if data is None:
        raise BadInput(f"{path} does not exist: name the run, or {NO_RUN_HINT}")
    name = checked_run(data.get("run"), path)
    if name is None:
        raise BadInput(f"{path} names no run: name the run, or {NO_RUN_HINT}")
    return name


def load_stage_params(root: Path) -> dict[str, Any]:
    """params.yaml for a pipeline stage, its `run` checked (BadInput when absent, unnamed or not a run name)."""
    path = params_path(root)
    data = read(root)
    if data is None:
        raise BadInput(f"{path} does not exist: run the stages from the project root (where dvc.yaml is)")
    if checked_run(data.get("run"), path) is None:
        raise BadInput(f"{path} names no run: {NO_RUN_HINT}")
    return data


def set_active_run(root: Path, name: str) -> None:
    """Point params.yaml's `run` at NAME, keeping its comments and order; atomic."""
    name = str(runname.parse(name))
    update(root, lambda data: data.__setitem__("run", name))


def update(root: Path, edit: Callable[[Any], None]) -> None:
    """The one writer of params.yaml: EDIT changes its mapping in place (comments and order kept), and the file
    is replaced atomically. A missing file starts empty."""
    from ruamel.yaml import YAML

    from henryvc.core.atomic import write_atomic

    path = params_path(root)
    yaml = YAML()
    data = yaml.load(path.read_text(encoding="utf-8")) if path.exists() else None
    data = data if data is not None else {}
    edit(data)
    write_atomic(path, lambda handle: yaml.dump(data, handle))
