"""The environment lock of a run: `environment.lock` (pip requirements format) and `environment.json`.

Both are written into the run folder (git-tracked) by the train stage when training starts. The lock
holds `name==version` for every installed distribution, in sys.path order with the first of a name
winning (the one Python imports), so `pip install -r environment.lock` builds the environment back.
henryvc itself is not a line of it: which henryvc ran is the code identity (environment.json "code").
When training ends, environment.json gets `imported`: the distributions the training process really
imported (its sys.modules mapped to distributions). Only drift in those blocks a re-creation; the rest of
the lock is listed as "not imported by the stages".
"""

from __future__ import annotations

import json
import platform
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from henryvc.errors import BadInput
from henryvc.exits import entry_point

LOCK_FILE = "environment.lock"
INFO_FILE = "environment.json"
INFO_FORMAT = "henryvc-environment/1"
SELF = "henryvc"
IMPORTED = "imported"  # environment.json: the distributions the training process imported
NOT_IMPORTED = "not imported by the stages"


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def freeze() -> dict[str, str]:
    """Every distribution this interpreter imports (normalised name -> version), henryvc excepted."""
    from importlib import metadata

    packages: dict[str, str] = {}
    for dist in metadata.distributions():  # sys.path order: the first of a name is the one imported
        name, version = _name_version(dist)
        if not name or version is None:
            continue
        key = normalize(name)
        if key != SELF:
            packages.setdefault(key, version)
    return dict(sorted(packages.items()))


def _name_version(dist) -> tuple[str | None, str | None]:
    """DIST's name and version: from its folder's name where it can (_from_folder), else its METADATA."""
    name, version = _from_folder(dist)
    return (name, version) if name is not None else (dist.metadata["Name"], dist.version)


def _from_folder(dist) -> tuple[str | None, str | None]:
    """Name and version from a `{name}-{version}.dist-info` folder name (the wheel spec's escaping: no "-" in
    either part), without parsing METADATA: 190 METADATA files cost about a second."""
    folder = getattr(dist, "_path", None)
    if folder is None or not folder.name.endswith(".dist-info"):
        return None, None
    name, sep, version = folder.name[:-len(".dist-info")].partition("-")
    return (name, version) if sep and "-" not in version else (None, None)


def imported(modules: list[str] | None = None, startup: list[str] | None = None) -> list[str]:
    """Normalised names of the distributions whose modules this process imported (MODULES, default
    sys.modules), henryvc excepted: the standard library and the modules the interpreter loads before any
    code runs (STARTUP, default measured in a bare `python -c pass`: site's .pth hooks) do not count."""
    from importlib import metadata

    modules = list(sys.modules) if modules is None else modules
    skip = set(sys.stdlib_module_names) | {m.partition(".")[0] for m in (startup if startup is not None
                                                                        else _startup_modules())}
    owners = metadata.packages_distributions()  # top-level import name -> distributions providing it
    tops = {m.partition(".")[0] for m in modules} - skip
    found = {normalize(dist) for top in tops for dist in owners.get(top, ())}
    found.discard(SELF)
    return sorted(found - _vendored())


def _vendored() -> set[str]:
    """Distributions found only in another package's `_vendor` folder: setuptools' own copies (jaraco-text,
    backports-tarfile, ...), which pkg_resources puts on sys.path when something imports it. They came with
    setuptools' wheel, are not installed distributions and are not in the lock; a name that is also
    installed (packaging, say) stays."""
    from importlib import metadata

    vendored: set[str] = set()
    installed: set[str] = set()
    for dist in metadata.distributions():
        name = _name_version(dist)[0]  # the folder's name: no METADATA parsed for most
        if name:
            inside = "_vendor" in Path(str(dist.locate_file(""))).parts
            (vendored if inside else installed).add(normalize(name))
    return vendored - installed


def _startup_modules() -> list[str]:
    """The modules this interpreter has loaded before it runs any code (site and its .pth hooks)."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", "import sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, timeout=60)
    return out.stdout.split() if out.returncode == 0 else []


def record_imported(run_dir: Path, modules: list[str] | None = None) -> list[str]:
    """Add what this process imported (imported()) to RUN_DIR's environment.json `imported`; the new list.

    A resumed training adds to the list of the sessions before it."""
    from henryvc.core.atomic import write_json_atomic

    path = Path(run_dir) / INFO_FILE
    info = json.loads(path.read_text(encoding="utf-8"))
    info[IMPORTED] = sorted(set(info.get(IMPORTED) or []) | set(imported(modules)))
    write_json_atomic(path, info)
    return info[IMPORTED]


def lock_text(packages: dict[str, str]) -> str:
    """PACKAGES as a requirements file pip installs from."""
    head = (f"# Written by henryvc for python {platform.python_version()} on {platform.machine()}; "
            f"install with: pip install -r {LOCK_FILE}\n")
    return head + "".join(f"{name}=={version}\n" for name, version in packages.items())


def parse_lock(text: str) -> dict[str, str]:
    """The name -> version pins of a lock (comments, blank lines and options skipped)."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        name, sep, version = line.partition("==")
        if sep and name and not name.startswith("-"):
            pins[normalize(name.strip())] = version.strip()
    return pins


def describe(accelerator: dict[str, Any] | None = None) -> dict[str, Any]:
    """Python, platform, arch, glibc, the image when inside henryvc's, and ACCELERATOR (CUDA/cuDNN, from the
    train stage's torch); the NVIDIA driver when nvidia-smi is there."""
    from henryvc.core.environment import container_info, nvidia_driver

    libc, libc_version = platform.libc_ver()
    info: dict[str, Any] = {
        "format": INFO_FORMAT, "python": platform.python_version(),
        "implementation": platform.python_implementation(), "platform": platform.platform(),
        "arch": platform.machine(), "glibc": libc_version if libc == "glibc" else None,
        "image": container_info() or None, "nvidia_driver": nvidia_driver()}
    info.update(accelerator or {})
    return info


def current(accelerator: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """(environment.json contents with the code identity, the lock's pins) of this interpreter."""
    from henryvc.core import codeid

    info = describe(accelerator)
    info["code"] = codeid.identity()
    return info, freeze()


def write(run_dir: Path, accelerator: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write environment.lock and environment.json into RUN_DIR; returns what the run record keeps."""
    import hashlib

    from henryvc.core.atomic import write_json_atomic, write_text_atomic

    info, packages = current(accelerator)
    text = lock_text(packages)
    write_text_atomic(Path(run_dir) / LOCK_FILE, text)
    write_json_atomic(Path(run_dir) / INFO_FILE, info)
    code = info["code"]
    return {"code": {k: code[k] for k in ("henryvc", "digest", "stages")},
            "environment_lock": {"packages": len(packages), "sha256": hashlib.sha256(text.encode()).hexdigest()}}


def summary(info: dict[str, Any], packages: dict[str, str]) -> dict[str, Any]:
    """What `henryvc show` prints of a run's environment."""
    from henryvc.core import codeid

    image = info.get("image") or {}
    keys = ("torch", "numpy", "coqui-tts", "coqui-tts-trainer", "librosa", "scipy", "dvc")
    return {"python": f"{info.get('implementation', '')} {info.get('python', '?')}".strip(),
            "arch": info.get("arch"), "platform": info.get("platform"), "glibc": info.get("glibc"),
            "cuda": info.get("cuda"), "cudnn": info.get("cudnn"), "nvidia_driver": info.get("nvidia_driver"),
            "image": image.get("image_id"), "packages": len(packages),
            "key_packages": {k: packages[k] for k in keys if k in packages},
            "code": codeid.short(info["code"]) if info.get("code") else None}


@dataclass(frozen=True)
class Drift:
    """One way the environment about to run differs from a run's recorded one."""

    kind: str  # package, code, python, arch, image
    name: str
    recorded: str | None
    current: str | None
    blocks: bool = True  # False: a package the run's training never imported (listed, never refused)

    def line(self) -> str:
        """`<kind> <name>: <recorded> at the tag, <current> here` (+ `(not imported by the stages)`)."""
        def say(value: str | None) -> str:
            return value if value is not None else "absent"

        label = f"{self.kind} {self.name}" if self.name else self.kind
        return f"{label}: {say(self.recorded)} at the tag, {say(self.current)} here" + (
            "" if self.blocks else f" ({NOT_IMPORTED})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def package_changes(a: dict[str, str], b: dict[str, str]) -> list[tuple[str, str | None, str | None]]:
    """(name, version in A, version in B) for every package whose version differs (None: not installed)."""
    return [(name, a.get(name), b.get(name)) for name in sorted(a.keys() | b.keys()) if a.get(name) != b.get(name)]


def drift(recorded: dict[str, Any], recorded_pins: dict[str, str],
          here: dict[str, Any], here_pins: dict[str, str]) -> list[Drift]:
    """Every difference in code files, packages, python, arch and image between a run's record and HERE.

    A package difference blocks only when the run recorded that its training imported the package, or
    recorded no `imported` list at all (runs trained before it was kept: every package blocks)."""
    found: list[Drift] = []
    used = recorded.get(IMPORTED)
    used_set = None if used is None else {normalize(n) for n in used}
    old_files = (recorded.get("code") or {}).get("files") or {}
    new_files = (here.get("code") or {}).get("files") or {}
    found += [Drift("code", name, _short(old_files.get(name)), _short(new_files.get(name)))
              for name in sorted(old_files.keys() | new_files.keys()) if old_files.get(name) != new_files.get(name)]
    found += [Drift("package", name, old, new, used_set is None or name in used_set)
              for name, old, new in package_changes(recorded_pins, here_pins)]
    for key in ("implementation", "python", "arch"):
        if recorded.get(key) != here.get(key):
            found.append(Drift(key, "", recorded.get(key), here.get(key)))
    old_image = (recorded.get("image") or {}).get("image_id")
    new_image = (here.get("image") or {}).get("image_id")
    if old_image != new_image:
        found.append(Drift("image", "", old_image or "no image", new_image or "no image"))
    return found


def blocking(drifts: list[Drift]) -> list[Drift]:
    """The differences that refuse a re-creation."""
    return [d for d in drifts if d.blocks]


def _short(digest: str | None) -> str | None:
    return f"sha256 {digest[:12]}" if digest else None


def read(run_dir: Path) -> tuple[dict[str, Any], dict[str, str]] | None:
    """(environment.json, lock pins) of the run in RUN_DIR, or None when it has no lock (older runs)."""
    lock, info = Path(run_dir) / LOCK_FILE, Path(run_dir) / INFO_FILE
    if not lock.is_file() or not info.is_file():
        return None
    return load_info(info.read_text(encoding="utf-8"), str(info)), parse_lock(lock.read_text(encoding="utf-8"))


def load_info(text: str, where: str) -> dict[str, Any]:
    """An environment.json's contents; BadInput naming WHERE when it is not a JSON object."""
    try:
        info = json.loads(text)
    except ValueError as exc:
        raise BadInput(f"{where}: not valid JSON ({exc}); fix the file (`git diff` shows what changed since "
                       "its last commit)") from None
    if not isinstance(info, dict):
        raise BadInput(f"{where}: not a JSON object")
    return info


def read_at(git_repo, rev: str, name: str) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The same, read from commit REV of run NAME (no checkout)."""
    from henryvc.adapters import gitrepo

    lock = gitrepo.show(git_repo, rev, f"training_runs/{name}/{LOCK_FILE}")
    info = gitrepo.show(git_repo, rev, f"training_runs/{name}/{INFO_FILE}")
    if lock is None or info is None:
        return None
    return load_info(info, f"{rev}:training_runs/{name}/{INFO_FILE}"), parse_lock(lock)


def of_run(project, name: str, tagged: bool) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The recorded environment of run NAME: from its tag when TAGGED, else from its run folder."""
    if not tagged:
        return read(project.run_dir(name))
    from henryvc.adapters import gitrepo

    return read_at(gitrepo.open_repo(project.root), name, name)


def changes(a: tuple[dict[str, Any], dict[str, str]] | None,
            b: tuple[dict[str, Any], dict[str, str]] | None) -> list[dict[str, Any]]:
    """`henryvc diff`'s environment section: each difference as kind, name, a, b."""
    if a is None or b is None:
        return [] if a is b else [{"kind": "lock", "name": "", "a": "recorded" if a else "none",
                                   "b": "recorded" if b else "none"}]
    return [{"kind": d.kind, "name": d.name, "a": d.recorded, "b": d.current} for d in drift(a[0], a[1], b[0], b[1])]


USAGE = "usage: python -m henryvc.core.envlock [--check RUN_DIR]"


@entry_point("henryvc")
def main(argv: list[str] | None = None) -> int:
    """`python -m henryvc.core.envlock`: this interpreter's lock on stdout; with `--check RUN_DIR`, the drift
    between RUN_DIR's recorded environment and this one as one JSON line (null: RUN_DIR has no lock)."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--check"] and len(args) == 2:
        if not Path(args[1]).is_dir():
            raise BadInput(f"{args[1]} is not a run folder ({USAGE})")
        found = read(Path(args[1]))
        drifts = None if found is None else [d.to_dict() for d in drift(*found, *current())]
        sys.stdout.write(json.dumps(drifts) + "\n")
        return 0
    if args:
        raise BadInput(f"{USAGE} (got {' '.join(args)})")
    sys.stdout.write(lock_text(freeze()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
