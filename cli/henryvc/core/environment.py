"""The environment a run is made in: this machine and interpreter, probed without importing torch or coqui
(except `cuda`, which the train stage calls), and the run's lock of it.

The one probe of the machine: versions, GPUs (the one `nvidia-smi` query), the henryvc image's build info,
and which henryvc is installed. The train stage writes the lock into the run folder (git-tracked) when
training starts: `environment.lock` holds `name==version` for every installed distribution, in sys.path
order with the first of a name winning (the one Python imports), so `pip install -r environment.lock` builds
the environment back; `environment.json` holds the rest (python, platform, glibc, image, accelerator) and the
code identity (henryvc.core.codeid). henryvc itself is not a line of the lock: which henryvc ran is the code
identity. When training ends, environment.json gets `imported`: the distributions the training process
really imported. How a recorded environment differs from this one is henryvc.core.recreation's.

Git facts are not this module's: it is the train stage's, which stands on core alone (no git, no DVC). The
commit of an editable henryvc checkout is added by `henryvc tag-run` (henryvc.ops.runtag), which commits the run.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from henryvc import __version__
from henryvc.core import codeid
from henryvc.core.atomic import write_json_atomic, write_text_atomic
from henryvc.errors import BadInput
from henryvc.exits import entry_point

BUILD_INFO = Path("/etc/henryvc/build-info.json")  # written by the Dockerfile
LOCK_FILE = "environment.lock"
INFO_FILE = "environment.json"
INFO_FORMAT = "henryvc-environment/1"
SELF = "henryvc"
IMPORTED = "imported"  # environment.json: the distributions the training process imported
NOT_IMPORTED = "not imported by the stages"


def package_version(name: str) -> str | None:
    """Installed version of distribution NAME, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def has_nvidia_smi() -> bool:
    """Whether nvidia-smi is installed (a driver's tool: a GPU may still be missing or unseen)."""
    return shutil.which("nvidia-smi") is not None


def nvidia_smi(fields: list[str]) -> list[list[str]]:
    """One row per GPU of nvidia-smi's FIELDS (`--query-gpu`, no units); [] without nvidia-smi or a GPU.
    The one place henryvc asks nvidia-smi (doctor, status, the run's environment and lock)."""
    if not has_nvidia_smi():
        return []
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = [[part.strip() for part in line.split(",")] for line in out.splitlines() if line.strip()]
    return [row for row in rows if len(row) == len(fields)]


def gpus() -> list[str]:
    """Names of the NVIDIA GPUs nvidia-smi sees (empty without one)."""
    return [row[0] for row in nvidia_smi(["name"])]


def nvidia_driver() -> str | None:
    """The NVIDIA driver version nvidia-smi reports (None without a driver)."""
    rows = nvidia_smi(["driver_version"])
    return rows[0][0] if rows else None


def cuda() -> dict[str, Any]:
    """CUDA as the training process sees it: for the run record, only where torch.cuda is available.

    Imports torch (call it from the stages, never from read commands). Keys: cuda (the runtime torch was
    built with), cudnn, cuda_driver (the driver's CUDA API version, e.g. 13.0), nvidia_driver (the
    kernel driver, e.g. 580.95.05), gpu_count and one entry per visible device (name, memory, capability).
    """
    import torch

    if not torch.cuda.is_available():
        return {}
    cudnn: Any = torch.backends.cudnn  # its version() is untyped
    info: dict[str, Any] = {"cuda": torch.version.cuda, "cudnn": cudnn.version(),
                            "nvidia_driver": nvidia_driver(), "gpu_count": torch.cuda.device_count()}
    try:
        private: Any = torch._C  # the driver's CUDA version has no public API
        driver = int(private._cuda_getDriverVersion())  # e.g. 13000 for CUDA 13.0
        info["cuda_driver"] = f"{driver // 1000}.{driver % 1000 // 10}"
    except (AttributeError, RuntimeError, TypeError, ValueError):
        info["cuda_driver"] = None
    devices = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        devices.append({"name": props.name, "memory_mib": int(props.total_memory // 2**20),
                        "capability": f"{props.major}.{props.minor}"})
    info["devices"] = devices
    return info


def container_info() -> dict[str, Any]:
    """The image's build info when running inside the henryvc image, else {}."""
    info: dict[str, Any] = {}
    if BUILD_INFO.exists():
        try:
            info = json.loads(BUILD_INFO.read_text())
        except (OSError, ValueError):
            info = {"error": f"unreadable {BUILD_INFO}"}
    if os.environ.get("HENRYVC_IMAGE_ID"):
        info["image_id"] = os.environ["HENRYVC_IMAGE_ID"]
    return info


def capture() -> dict[str, Any]:
    """Versions, machine and accelerator of this process's environment."""
    return {
        "python": platform.python_version(),
        "torch": package_version("torch"),
        "torchaudio": package_version("torchaudio"),
        "coqui_tts": package_version("coqui-tts"),
        "coqui_trainer": package_version("coqui-tts-trainer"),
        "dvc": package_version("dvc"),
        "henryvc": package_version("henryvc"),
        "arch": platform.machine(),
        "os": f"{platform.system()} {platform.release()}",
        "host": socket.gethostname(),
        "gpus": gpus(),
        "container": container_info(),
        "executable": Path(sys.executable).name,
    }

def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def freeze() -> dict[str, str]:
    """Every distribution this interpreter imports (normalised name -> version), henryvc excepted."""
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
    out = subprocess.run([sys.executable, "-c", "import sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, timeout=60)
    return out.stdout.split() if out.returncode == 0 else []


def record_imported(run_dir: Path, modules: list[str] | None = None) -> list[str]:
    """Add what this process imported (imported()) to RUN_DIR's environment.json `imported`; the new list.

    A resumed training adds to the list of the sessions before it."""
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
    info = describe(accelerator)
    info["code"] = codeid.identity(henryvc=source())
    return info, freeze()


def write(run_dir: Path, accelerator: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write environment.lock and environment.json into RUN_DIR; returns what the run record keeps."""
    info, packages = current(accelerator)
    text = lock_text(packages)
    write_text_atomic(Path(run_dir) / LOCK_FILE, text)
    write_json_atomic(Path(run_dir) / INFO_FILE, info)
    code = info["code"]
    return {"code": {k: code[k] for k in ("henryvc", "digest", "stages")},
            "environment_lock": {"packages": len(packages), "sha256": hashlib.sha256(text.encode()).hexdigest()}}


def summary(info: dict[str, Any], packages: dict[str, str]) -> dict[str, Any]:
    """What `henryvc show` prints of a run's environment."""
    image = info.get("image") or {}
    keys = ("torch", "numpy", "coqui-tts", "coqui-tts-trainer", "librosa", "scipy", "dvc")
    return {"python": f"{info.get('implementation', '')} {info.get('python', '?')}".strip(),
            "arch": info.get("arch"), "platform": info.get("platform"), "glibc": info.get("glibc"),
            "cuda": info.get("cuda"), "cudnn": info.get("cudnn"), "nvidia_driver": info.get("nvidia_driver"),
            "image": image.get("image_id"), "packages": len(packages),
            "key_packages": {k: packages[k] for k in keys if k in packages},
            "code": codeid.short(info["code"]) if info.get("code") else None}


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


def source() -> dict[str, Any]:
    """Which henryvc is installed: its version and kind, "editable" (a source tree) or "dist"; inside the
    henryvc image, the commit it was built from. An editable checkout's commit is git's, added when the run is
    tagged (henryvc.ops.runtag)."""
    info: dict[str, Any] = {"version": __version__, "kind": "editable" if _editable() else "dist"}
    built = container_info().get("git_commit")
    if built and info["kind"] == "dist":
        info["commit"] = built
    return info


def _editable() -> bool:
    """True when henryvc runs from a source tree (an editable install, or a checkout on sys.path), not from a
    distribution's files in site-packages."""
    return not {"site-packages", "dist-packages"} & set(codeid.package_dirs()["henryvc"].parts)


def add_source(run_dir: Path, facts: dict[str, Any]) -> None:
    """Add FACTS (an editable henryvc's commit, describe, dirty) to the code identity RUN_DIR's
    environment.json recorded (the tag-run operation knows them; the train stage asks no git)."""
    path = Path(run_dir) / INFO_FILE
    info = load_info(path.read_text(encoding="utf-8"), str(path))
    info.setdefault("code", {}).setdefault("henryvc", {}).update(facts)
    write_json_atomic(path, info)


USAGE = "usage: python -m henryvc.core.environment"


@entry_point("henryvc")
def main(argv: list[str] | None = None) -> int:
    """`python -m henryvc.core.environment`: this interpreter's lock on stdout."""
    args = sys.argv[1:] if argv is None else argv
    if args:
        raise BadInput(f"{USAGE} (got {' '.join(args)})")
    sys.stdout.write(lock_text(freeze()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
