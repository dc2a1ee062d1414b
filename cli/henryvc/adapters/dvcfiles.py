"""A user's DVC files: the outputs dvc.lock and .dvc files record, and those files when they do not parse.

A broken file in the user's project is bad input (exit 2) named by its path and line, never an unexpected
error (exit 3). henryvc's own readers of dvc.lock and .dvc texts parse through `load_yaml` and report a wrong
shape with `malformed`; DVC's own parse and validation errors, raised wherever DVC reads those files, become
BadInput through `user_error` (henryvc.main asks it before it calls an exception a bug).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from henryvc.errors import BadInput

FIX = "fix the file (`git diff` shows what changed since its last commit)"


@dataclass(frozen=True)
class Out:
    """One DVC-tracked output: its path in the work tree and its recorded hash."""

    path: str
    md5: str  # without the ".dir" suffix
    is_dir: bool
    size: int | None = None
    nfiles: int | None = None
    cached: bool = True  # False for `cache: false` outputs, which git tracks instead

    def to_dict(self) -> dict[str, Any]:
        data = {"md5": self.md5 + (".dir" if self.is_dir else ""), "size": self.size}
        if self.is_dir:
            data["nfiles"] = self.nfiles
        return data


def _outs(text: str, where: str, fix: str, keys: list[Any], entries: Any, prefix: str = "") -> list[Out]:
    """The outputs listed by ENTRIES (the `outs` at KEYS of file WHERE's TEXT); BadInput, with the line, when
    they are not a list of mappings each naming a path (an entry without an md5 has no data yet: skipped)."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise malformed(text, where, keys, "`outs` must be a list", fix)
    found = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise malformed(text, where, [*keys, index], "each output must be a mapping with a `path`", fix)
        md5 = entry.get("md5")
        if md5 is not None and not isinstance(md5, str):
            raise malformed(text, where, [*keys, index, "md5"], "an md5 must be a string", fix)
        if md5:
            path = (Path(prefix) / entry["path"]).as_posix()
            found.append(Out(path, md5.removesuffix(".dir"), md5.endswith(".dir"), entry.get("size"),
                             entry.get("nfiles")))
    return found


def outs_from_lock(text: str, where: str = "dvc.lock", fix: str = FIX) -> list[Out]:
    """The outputs recorded in a dvc.lock TEXT (file WHERE): BadInput naming WHERE and the line when it is malformed."""
    stages = load_yaml(text, where, fix).get("stages") or {}
    if not isinstance(stages, dict):
        raise malformed(text, where, ["stages"], "`stages` must be a mapping", fix)
    outs = []
    for name, stage in stages.items():
        if not isinstance(stage, dict):
            raise malformed(text, where, ["stages", name], "a stage must be a mapping", fix)
        outs += _outs(text, where, fix, ["stages", name, "outs"], stage.get("outs"))
    return outs


def outs_from_dvcfile(text: str, folder: str, where: str = "", fix: str = FIX) -> list[Out]:
    """The outputs recorded in one .dvc file (WHERE) living in FOLDER; BadInput with the line when malformed."""
    where = where or "a .dvc file"
    return _outs(text, where, fix, ["outs"], load_yaml(text, where, fix).get("outs"), folder)


def load_yaml(text: str, where: str, fix: str = FIX) -> dict[str, Any]:
    """The mapping in the YAML TEXT of file WHERE; BadInput naming WHERE and the line when it is not one."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise BadInput(f"{where}{_line(mark.line + 1 if mark else None)}: not valid YAML ({problem}); {fix}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise malformed(text, where, [], f"a mapping was expected, not {type(data).__name__}", fix)
    return data


def malformed(text: str, where: str, keys: list[Any], problem: str, fix: str = FIX) -> BadInput:
    """BadInput for the node at KEYS (mapping keys, list indexes) of file WHERE's YAML TEXT: file, line, PROBLEM."""
    inside = f" (in {' -> '.join(map(str, keys))})" if keys else ""
    return BadInput(f"{where}{_line(line_at(text, keys))}: {problem}{inside}; {fix}")


def line_at(text: str, keys: list[Any]) -> int | None:
    """The 1-based line of the node at KEYS in YAML TEXT (the deepest one that exists); None if it does not parse."""
    import yaml

    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line = node.start_mark.line + 1
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            found = next((value for name, value in node.value if getattr(name, "value", None) == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
            found = node.value[key]
        else:
            found = None
        if found is None:
            break
        node = found
        line = node.start_mark.line + 1
    return line


def _line(line: int | None) -> str:
    return f", line {line}" if line else ""


def user_error(exc: BaseException, root: Path | None = None) -> BadInput | None:
    """BadInput naming the file and line when EXC is DVC refusing one of the user's files; else None.

    ROOT is the project (default: the nearest folder holding .dvc/ at or above the current one).
    """
    if "dvc" not in sys.modules:  # DVC never ran in this process: EXC is not its error
        return None
    from dvc.config import ConfigError
    from dvc.utils.serialize import ParseError
    from dvc.utils.strictyaml import YAMLSyntaxError, YAMLValidationError

    if isinstance(exc, ConfigError):
        return config_error(exc, root or _project_root())
    if isinstance(exc, YAMLSyntaxError):
        cause = exc.exc.__cause__ if exc.exc is not None else None
        mark = getattr(cause, "problem_mark", None) or getattr(cause, "context_mark", None)
        problem = getattr(cause, "problem", None) or "not valid YAML"
        return BadInput(f"{_where(exc.relpath, exc.rev)}{_line(mark.line + 1 if mark else None)}: "
                        f"not valid YAML ({problem}){exc.hint}; {FIX}")
    if isinstance(exc, YAMLValidationError):
        errors = list(getattr(exc.exc, "errors", []) or [exc.exc])
        first = errors[0]
        keys = list(getattr(first, "path", []) or [])
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        return malformed(exc.text, _where(exc.path, None), keys,
                         f"{getattr(first, 'error_message', None) or first}{more}")
    if isinstance(exc, ParseError):
        return BadInput(f"{exc}; {FIX}")
    return None


def _where(path: str, rev: str | None) -> str:
    path = path.removeprefix("./")
    return f"{path} at revision {rev[:10]}" if rev else path


def _project_root() -> Path:
    here = Path.cwd()
    return next((p for p in (here, *here.parents) if (p / ".dvc").is_dir()), here)


def config_error(exc: Exception, root: Path) -> BadInput:
    """BadInput for DVC's ConfigError in project ROOT: which config file (repo, local, global, system) it is,
    and the line, found by reading each again (DVC's message names neither file nor, for a wrong key, line)."""
    from configobj import ConfigObjError
    from dvc.config import Config, ConfigError
    from dvc.config_schema import SCHEMA
    from dvc.dirs import global_config_dir, system_config_dir
    from voluptuous import Invalid, Schema

    candidates = [root / ".dvc" / "config", root / ".dvc" / "config.local",
                  Path(global_config_dir()) / "config", Path(system_config_dir()) / "config"]
    fix = "fix the file (`dvc config --list --show-origin` shows what DVC reads)"
    for path in (p for p in candidates if p.is_file()):
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        try:
            conf = Config.load_file(str(path))
        except ConfigError as err:
            cause = err.__cause__
            line = getattr(cause, "line_number", None) if isinstance(cause, ConfigObjError) else None
            message = getattr(cause, "msg", None) or str(err).removeprefix("config file error: ")
            return BadInput(f"{shown}{_line(line)}: DVC cannot read it ({message.split(' at line ')[0]}); {fix}")
        try:
            Schema(SCHEMA)(conf)
        except Invalid as err:
            keys = [str(k) for k in err.path]
            return BadInput(f"{shown}{_line(_config_line(path, keys))}: DVC refuses it ({err.error_message} "
                            f"in {' -> '.join(keys) or 'the file'}); {fix}")
    message = str(exc).removeprefix("config file error: ")
    for path in (p for p in candidates if p.is_file()):  # e.g. "remote 'x' doesn't exist": the line naming x
        named = [k.strip("'") for k in message.split() if k.startswith("'") and k.endswith("'")]
        line = _config_line(path, ["remote", *named[:1]], value=True) if "remote" in message and named else None
        if line:
            shown = path.relative_to(root) if path.is_relative_to(root) else path
            return BadInput(f"{shown}, line {line}: DVC refuses it ({message}); {fix}")
    return BadInput(f"DVC's configuration of {root} is refused ({message}); {fix}")


def _config_line(path: Path, keys: list[str], value: bool = False) -> int | None:
    """The line of the last key of KEYS in config file PATH (`[section]` or `key = ...`), if it is found;
    with VALUE, the line `KEYS[0] = KEYS[1]`."""
    import re

    if not keys:
        return None
    name = re.escape(keys[-1].strip("'\""))
    pattern = re.compile(rf"^\s*(\[\s*['\"]?[^\]]*{name}[^\]]*['\"]?\s*\]|{name}\s*=)", re.IGNORECASE)
    if value:
        pattern = re.compile(rf"^\s*{re.escape(keys[0])}\s*=\s*['\"]?{name}['\"]?\s*$", re.IGNORECASE)
    lines = path.read_text(errors="replace").splitlines()
    return next((i for i, text in enumerate(lines, 1) if pattern.match(text)), None)
