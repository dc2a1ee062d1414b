"""`henryvc env build`: a virtual environment built back from a run's environment.lock.

`python -m venv DIR`, then `pip install --no-deps -r environment.lock` (the lock is complete: every
distribution the run imported, so no resolver runs and nothing newer sneaks in), then henryvc itself at
the commit the run recorded, from a henryvc git repository. The result is then checked the way
`henryvc recreate` checks: what still differs is reported, never hidden.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from henryvc.core import environment
from henryvc.core.runfolder import run_path
from henryvc.errors import BadInput, HenryvcError

Output = Callable[[str], None]


@dataclass
class EnvBuild:
    """A venv built from a lock."""

    venv: str
    python: str
    packages: int
    henryvc: str | None
    remaining_drift: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def venv_python(venv: Path) -> Path:
    """The interpreter of venv VENV."""
    return Path(venv) / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _run(cmd: list[str], output: Output | None, what: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if output is not None:
        for line in (proc.stdout + proc.stderr).splitlines():
            output(line)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
        raise HenryvcError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def build_venv(lock_text: str, venv: Path, python: str | None = None, pip_args: tuple[str, ...] = (),
               henryvc_spec: str | None = None, output: Output | None = None) -> EnvBuild:
    """Create VENV with PYTHON (default: this interpreter) and install LOCK_TEXT's pins, then HENRYVC_SPEC."""
    venv = Path(venv).resolve()
    if venv.exists() and any(venv.iterdir()):
        raise BadInput(f"{venv} exists and is not empty; choose a new --venv folder")
    pins = environment.parse_lock(lock_text)
    if not pins:
        raise BadInput("the lock pins no package")
    _run([python or sys.executable, "-m", "venv", str(venv)], output, "python -m venv")
    py = venv_python(venv)
    lock_file = venv / environment.LOCK_FILE
    lock_file.write_text(lock_text, encoding="utf-8")
    _run([str(py), "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", *pip_args,
          "-r", str(lock_file)], output, f"pip install -r {lock_file}")
    if henryvc_spec:
        _run([str(py), "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", *pip_args, henryvc_spec],
             output, f"pip install {henryvc_spec}")
    version = _run([str(py), "-c", "import platform; print(platform.python_version())"], None, "python").strip()
    return EnvBuild(str(venv), version, len(pins), henryvc_spec)


def henryvc_spec(code: dict[str, Any], source: str | None) -> str | None:
    """The pip requirement for the henryvc a run recorded: SOURCE (a henryvc git repository, default the one
    this henryvc runs from) at the recorded commit; None when no commit was recorded."""
    from henryvc.paths import SOURCE_ROOT

    commit = ((code or {}).get("henryvc") or {}).get("commit")
    if not commit:
        return None
    repo = source or (str(SOURCE_ROOT) if (SOURCE_ROOT / ".git").exists() else None)
    if repo is None:
        raise BadInput("this henryvc is not a git checkout: pass --henryvc-source (a henryvc git repository or URL)")
    url = repo if "://" in repo else f"file://{Path(repo).resolve()}"
    return f"git+{url}@{commit}#egg=henryvc"  # the form every pip takes (23.x rejects `name @ git+file:`)


def build_for_run(project, name: str, venv: Path, python: str | None = None, pip_args: tuple[str, ...] = (),
                  source: str | None = None, output: Output | None = None) -> EnvBuild:
    """`henryvc env build NAME --venv DIR`: the venv of tag NAME's lock and henryvc, then its remaining drift."""
    from henryvc.adapters import gitrepo
    from henryvc.ops import recreate
    from henryvc.ops import restore as restores

    info, _ = recreate.recorded(project, name)
    want = info.get("python")
    if python is None and want and want != platform.python_version():
        raise BadInput(f"{name} ran on python {want}, this is {platform.python_version()}: pass --python PATH")
    repo = gitrepo.open_git(project.root)
    lock_text = gitrepo.show(repo, restores.tag_commit(repo, name), run_path(name, environment.LOCK_FILE)) or ""
    dirty = ((info.get("code") or {}).get("henryvc") or {}).get("dirty")
    result = build_venv(lock_text, venv, python, pip_args, henryvc_spec(info.get("code") or {}, source), output)
    if result.henryvc is None or dirty:
        result.remaining_drift.append("henryvc: the run recorded no clean source commit; its code may differ")
    proc = subprocess.run([str(venv_python(Path(result.venv))), "-m", "henryvc.main", "recreate", name, "--check"],
                          capture_output=True, text=True, cwd=project.root)
    result.remaining_drift += [line.strip() for line in proc.stderr.splitlines()[1:] if line.strip()]
    if proc.returncode not in (0, 1):
        result.remaining_drift.append(f"the check in the new venv failed: {proc.stderr.strip()[-300:]}")
    return result
