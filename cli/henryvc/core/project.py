"""The henryvc project: its root, its folders, its lock and `henryvc init`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from henryvc.core.params import PARAMS_FILE, params_path
from henryvc.core.runfolder import ARCHIVE_DIRS, RUNS_DIR, run_dir, runs_dir
from henryvc.errors import BadInput, Busy, NotAProject
from henryvc.paths import TEMPLATES

STATE_DIR = ".henryvc"
TEMPLATE_FILES = ("dvc.yaml", PARAMS_FILE)
FOLDERS = (RUNS_DIR, *(f"{RUNS_DIR}/{d}" for d in ARCHIVE_DIRS), "configs", "scripts")
GITIGNORE_LINES = (f"/{STATE_DIR}/", ".training.lock",  # the trainer's OS lock file: never history
                   "/stage_code/")  # links to the installed stage code (henryvc.core.stagecode): machine paths
DVCIGNORE_LINES = (f"/{STATE_DIR}/", f"/{RUNS_DIR}/archive/", "__pycache__/")
LOCK_TIMEOUT_S = float(os.environ.get("HENRYVC_LOCK_TIMEOUT", "600"))
# Stage commands of projects made before the import name henryvc_training: `henryvc init` rewrites them.
OLD_STAGE_MODULE, STAGE_MODULE = "python -m training.", "python -m henryvc_training."


@dataclass(frozen=True)
class Project:
    """A henryvc project rooted at ROOT (a git work tree with DVC)."""

    root: Path

    @property
    def runs(self) -> Path:
        return runs_dir(self.root)

    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    @property
    def params(self) -> Path:
        return params_path(self.root)

    def run_dir(self, name: object) -> Path:
        """The folder of run NAME in training_runs/ (a RunName, so never a path that escapes)."""
        return run_dir(self.root, name)

    def run_rel(self, name: object) -> str:
        """The folder of run NAME relative to the project root, as git and DVC name it."""
        return self.run_dir(name).relative_to(self.root).as_posix()

    def inside(self, path: Path) -> Path:
        """PATH resolved, or BadInput when it escapes the project (symlinks followed)."""
        resolved = (self.root / path).resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise BadInput(f"{path} is outside the project {self.root}")
        return resolved

    @contextmanager
    def lock(self, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
        """Serialise henryvc's writing commands on this project (an OS lock: a kill releases it)."""
        from filelock import FileLock, Timeout

        self.state.mkdir(exist_ok=True)
        lock = FileLock(str(self.state / "lock"))
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise Busy(f"another henryvc command holds {self.state / 'lock'} (waited {timeout:.0f} s); "
                       "try again when it has finished") from None
        try:
            yield
        finally:
            lock.release()


def find(start: Path | None = None) -> Project:
    """The project containing START (default: the working directory)."""
    here = Path(start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".dvc").is_dir() and (candidate / ".git").exists():
            return Project(candidate)
    raise NotAProject(f"{here} is not inside a henryvc project (no .git and .dvc): run `henryvc init` first")


def _append_lines(path: Path, lines: tuple[str, ...]) -> None:
    existing = path.read_text().splitlines() if path.exists() else []
    missing = [line for line in lines if line not in existing]
    if missing:
        with path.open("a") as handle:
            if existing and not path.read_text().endswith("\n"):
                handle.write("\n")
            handle.write("\n".join(missing) + "\n")


def _copy_templates(root: Path) -> list[str]:
    import shutil

    written = []
    sources = [TEMPLATES / f for f in TEMPLATE_FILES] + sorted((TEMPLATES / "configs").glob("henry_voice_v*.json"))
    for source in sources:
        target = root / source.relative_to(TEMPLATES)
        if source.is_file() and not target.exists() and source.resolve() != target.resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            written.append(str(target.relative_to(root)))
    return written


# The seed's entry points every project gets in scripts/ (henryvc's own development scripts stay out).
SEED_SCRIPTS = ("archive_training_runs.sh", "cleanup_failed_runs.sh", "reset_all_training.sh")
TRAIN_SCRIPT = "train_henry.py"  # written once per template as train_henry_v{MAJOR}_{VARIANT}.py


def _write_seed_scripts(root: Path) -> list[str]:
    """scripts/train_henry_v{MAJOR}_{VARIANT}.py for each template in ROOT's configs/ (each starts a run like
    `henryvc run`, picking the template by its own name) and the archive, cleanup and reset scripts; files
    the user already has are left alone."""
    from henryvc.core.atomic import write_text_atomic

    written = []
    targets = {f"train_henry_{p.name[len('henry_voice_'):-len('.json')]}.py": TRAIN_SCRIPT
               for p in sorted((root / "configs").glob("henry_voice_v*_*.json"))}
    targets.update({name: name for name in SEED_SCRIPTS})
    for target_name, source_name in targets.items():
        target = root / "scripts" / target_name
        if target.exists() or target.is_symlink():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, (TEMPLATES / "scripts" / source_name).read_text())
        target.chmod(0o755)
        written.append(f"scripts/{target_name}")
    return written


def _upgrade_stage_commands(root: Path) -> list[str]:
    """Point an old project's dvc.yaml at the stage package's import name (python -m henryvc_training.X)."""
    from henryvc.core.atomic import write_text_atomic

    path = root / "dvc.yaml"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if OLD_STAGE_MODULE not in text:
        return []
    write_text_atomic(path, text.replace(OLD_STAGE_MODULE, STAGE_MODULE))
    return ["dvc.yaml"]


def init(root: Path, remote: str | None) -> dict[str, object]:
    """Make ROOT a henryvc project; safe to run again. Returns what was set up."""
    from henryvc.adapters import dvcremote, dvcrepo, gitrepo

    root = Path(root).resolve()
    if not root.is_dir():
        raise BadInput(f"{root} is not a directory")
    repo = gitrepo.init(root)
    dvcrepo.init(root)
    for folder in FOLDERS:
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / STATE_DIR).mkdir(exist_ok=True)
    with Project(root).lock():
        _append_lines(root / ".gitignore", GITIGNORE_LINES)
        _append_lines(root / ".dvcignore", DVCIGNORE_LINES)
        written = _copy_templates(root) + _upgrade_stage_commands(root)
        written += _write_seed_scripts(root)
        from henryvc.core import stagecode

        written += [p for p in stagecode.ensure(root) if p == "dvc.yaml" and p not in written]
        remote_url, cache_types = dvcremote.configure(root, remote, default=root / STATE_DIR / "storage")
        # Only what init itself set up: a re-run must not sweep the user's edits into "init project".
        committed = gitrepo.commit_paths(
            repo, [".gitignore", ".dvcignore", ".dvc/config", ".dvc/.gitignore", *written], "henryvc: init project")
    return {"root": str(root), "remote": remote_url, "templates": written, "commit": committed,
            "cache_types": cache_types}
