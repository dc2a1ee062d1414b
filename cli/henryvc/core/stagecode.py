"""`stage_code/`: the installed stage code made visible to DVC, so that `dvc status` sees a code edit.

The folder holds two links, `stage_code/henryvc` and `stage_code/henryvc_training`, to the packages of the
henryvc that runs the pipeline, and each stage in dvc.yaml lists the module files it imports (henryvc.core.codeid)
as dependencies under it. The folder is git-ignored (the links name machine paths) but not DVC-ignored;
dvc.lock records the md5 of every file, so a tag holds the code's hashes too. `henryvc init`, `new-run`,
`run` and `recreate` (re)make the links; in the container they are made on a tmpfs mounted over the folder
(`python -m henryvc.core.stagecode /project`), pointing at the image's own packages.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from henryvc.core import codeid
from henryvc.errors import BadInput
from henryvc.exits import entry_point

FOLDER = "stage_code"
GITIGNORE_LINE = f"/{FOLDER}/"
STAGE_COMMAND = "python -m henryvc_training.{stage}"


def link(root: Path, dirs: dict[str, Path] | None = None) -> list[str]:
    """Point ROOT/stage_code/<package> at the installed packages (DIRS); returns the links it changed."""
    dirs = dirs or codeid.package_dirs()
    folder = Path(root) / FOLDER
    folder.mkdir(exist_ok=True)
    changed = []
    for name, target in dirs.items():
        path = folder / name
        if path.is_symlink() and os.readlink(path) == str(target):
            continue
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.exists():
            raise BadInput(f"{path} is a folder, not a link henryvc made: remove it")
        tmp = folder / f".{name}.tmp"
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(target, target_is_directory=True)
        os.replace(tmp, path)  # atomic: a concurrent `dvc status` never sees the link missing
        changed.append(f"{FOLDER}/{name}")
    return changed


def stage_deps(stage: str, dirs: dict[str, Path] | None = None) -> list[str]:
    """The dvc.yaml dependencies naming STAGE's code."""
    return [f"{FOLDER}/{rel}" for rel in codeid.stage_files(stage, dirs)]


def sync_pipeline(root: Path, dirs: dict[str, Path] | None = None) -> bool:
    """Make each henryvc stage of ROOT/dvc.yaml depend on exactly the code it imports; True when rewritten.

    Keeps the file's comments and order (ruamel round trip); stages that are not henryvc's are left alone.
    """
    path = Path(root) / "dvc.yaml"
    if not path.is_file():
        return False
    if _in_sync(path, dirs):
        return False  # the common case, read with PyYAML: ruamel's round trip costs 0.2 s
    from ruamel.yaml import YAML

    from henryvc.core.atomic import write_atomic

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    data = yaml.load(path.read_text(encoding="utf-8"))
    changed = False
    for stage in codeid.STAGES:
        spec = ((data or {}).get("stages") or {}).get(stage)
        if not spec or str(spec.get("cmd", "")).strip() != STAGE_COMMAND.format(stage=stage):
            continue
        deps = spec.get("deps")
        if deps is None:
            from ruamel.yaml.comments import CommentedSeq

            deps = spec["deps"] = CommentedSeq()
        wanted = stage_deps(stage, dirs)
        current = [d for d in deps if isinstance(d, str) and d.startswith(f"{FOLDER}/")]
        if current == wanted:
            continue
        for dep in current:
            deps.remove(dep)
        deps.extend(wanted)
        changed = True
    if changed:
        write_atomic(path, lambda handle: yaml.dump(data, handle))
    return changed


def _in_sync(path: Path, dirs: dict[str, Path] | None) -> bool:
    import yaml

    stages = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("stages") or {}
    for stage in codeid.STAGES:
        spec = stages.get(stage)
        if not spec or str(spec.get("cmd", "")).strip() != STAGE_COMMAND.format(stage=stage):
            continue
        listed = [d for d in spec.get("deps") or [] if isinstance(d, str) and d.startswith(f"{FOLDER}/")]
        if listed != stage_deps(stage, dirs):
            return False
    return True


def ensure(root: Path) -> list[str]:
    """Links made (and git-ignored: they name machine paths) and dvc.yaml brought up to date for the
    installed henryvc; the paths it changed."""
    changed = link(root)
    ignore = Path(root) / ".gitignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
    if GITIGNORE_LINE not in lines:
        with ignore.open("a", encoding="utf-8") as handle:
            handle.write(("\n" if lines and not ignore.read_text(encoding="utf-8").endswith("\n") else "")
                         + GITIGNORE_LINE + "\n")
        changed.append(".gitignore")
    if sync_pipeline(root):
        changed.append("dvc.yaml")
    return changed


def in_container(root: Path, mount_point: str, command: list[str] | None,
                 podman: bool = False) -> tuple[dict[str, str], list[str]]:
    """(the tmpfs over MOUNT_POINT/stage_code as HostConfig.Tmpfs, COMMAND wrapped to make the links there first).

    The links then point at the image's own packages, and the host's links (the bind-mounted project's)
    are neither used nor touched. COMMAND None is the image's default, `dvc repro`. HostConfig.Tmpfs, not a
    tmpfs Mount: Podman's Docker API drops a Mount's mode, and the container runs as the project's owner,
    who must be able to write the links (mode 1777).
    """
    folder = Path(root) / FOLDER
    folder.mkdir(exist_ok=True)  # the mount point, owned by the project's owner, not the engine
    owner = Path(root).stat()
    if os.geteuid() == 0 and folder.stat().st_uid != owner.st_uid:  # root ran henryvc in someone's project
        os.chown(folder, owner.st_uid, owner.st_gid)
    # Podman 4 gives a tmpfs over a bind-mounted folder that folder's mode, ignoring mode= (measured with
    # 4.3.1): the mount point is made sticky and world-writable, as /tmp is, so a non-root owner can link.
    os.chmod(folder, 0o1777)
    script = f'python -m henryvc.core.stagecode {mount_point} && exec "$@"'
    # Podman also copies the folder's content (the host's links) into a tmpfs unless told not to.
    options = "rw,notmpcopyup,mode=1777" if podman else "rw,mode=1777"
    return ({f"{mount_point}/{FOLDER}": options},
            ["sh", "-c", script, "henryvc-stage-code", *(command or ["dvc", "repro"])])


USAGE = "usage: python -m henryvc.core.stagecode [--sync] [ROOT]"


@entry_point("henryvc")
def main(argv: list[str] | None = None) -> int:
    """`python -m henryvc.core.stagecode ROOT`: make ROOT's links (the container runs this before its command);
    `python -m henryvc.core.stagecode --sync ROOT`: also bring ROOT/dvc.yaml's code dependencies up to date."""
    args = sys.argv[1:] if argv is None else argv
    sync = args[:1] == ["--sync"]
    rest = args[1:] if sync else args
    if len(rest) > 1 or any(a.startswith("-") for a in rest):
        raise BadInput(f"{USAGE} (got {' '.join(args)})")
    root = Path(rest[0] if rest else ".")
    if not root.is_dir():
        raise BadInput(f"{root} is not a folder: give the project's root ({USAGE})")
    link(root)
    if sync and sync_pipeline(root):
        print(f"{root / 'dvc.yaml'}: code dependencies brought up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())

