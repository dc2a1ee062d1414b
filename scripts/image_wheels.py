"""The Dockerfile's builder stage: wheels for every pinned dependency that has no wheel for this machine.

Runs inside the image build (python3 of the base image, no henryvc installed). From pyproject.toml (the
one place pins live) it writes into OUT:

  requirements.txt   the project's dependencies plus the chosen extras, as pinned in pyproject.toml
  requirements.lock  requirements.lock beside pyproject.toml (`make lock`): the resolver takes every version
                     from it, so the image holds the set the host venv and CI hold
  constraints.txt    the whole resolved set, name==version, so the runtime stage installs exactly it
  sdists.txt         the distributions the index offers only as source for this platform
  *.whl              a wheel built here for each of those

The runtime stage then installs with `--only-binary :all: --find-links OUT -c constraints.txt`: it never
compiles, and a dependency that lacks a wheel fails the build here, by name, not later.

A compiler is installed only when a source build needs one: pure-Python sdists (docopt, antlr4 on
amd64) build without it, so a base without an apt mirror still builds for its own arch. On arm64
monotonic-alignment-search (coqui-tts) has no wheel and its C extension needs gcc and Python headers.

Usage: python3 image_wheels.py PYPROJECT EXTRAS OUT                 (EXTRAS: comma separated, e.g. "train")
       python3 image_wheels.py --requirements PYPROJECT EXTRAS OUT  (requirements.txt only: the Dockerfile's
       `pins` stage, so that edits of pyproject.toml outside the pins do not rebuild the dependency layers)
Environment: PIP_* as pip reads them; TORCH_INDEX_URL is offered to the resolver as an extra index.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

COMPILER_PACKAGES = ["build-essential", "python3-dev"]
LOCK = "requirements.lock"


def log(message: str) -> None:
    print(f"[image_wheels] {message}", flush=True)


def load_pyproject(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10 (Jetson's Ubuntu 22.04): the same parser, from PyPI
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "tomli==2.2.1"], check=True)
        import tomli as tomllib
    with path.open("rb") as fh:
        return tomllib.load(fh)


def requirements(pyproject: dict, extras: list[str]) -> list[str]:
    project = pyproject["project"]
    optional = project.get("optional-dependencies", {})
    unknown = [e for e in extras if e not in optional]
    if unknown:
        raise SystemExit(f"image_wheels: unknown extra(s) {', '.join(unknown)}; pyproject.toml has "
                         f"{', '.join(sorted(optional))}")
    reqs = list(project.get("dependencies", []))
    for extra in extras:
        reqs += optional[extra]
    return reqs


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True)


def resolve(requirements_file: Path, report: Path) -> list[dict]:
    extra = ["--extra-index-url", os.environ["TORCH_INDEX_URL"]] if os.environ.get("TORCH_INDEX_URL") else []
    lock = requirements_file.with_name(LOCK)
    if lock.is_file():
        extra += ["-c", str(lock)]
    pip("install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report),
        "-r", str(requirements_file), *extra)
    return json.loads(report.read_text())["install"]


def is_sdist(item: dict) -> bool:
    return not item["download_info"].get("url", "").endswith(".whl")


def has_compiler() -> bool:
    return shutil.which("gcc") is not None or shutil.which("cc") is not None


def install_compiler() -> None:
    log(f"installing {' '.join(COMPILER_PACKAGES)} (a source build needs a C compiler)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *COMPILER_PACKAGES], check=True, env=env)


def build_wheels(pins: list[str], out: Path) -> list[str]:
    """Build each pin into OUT; return those that failed."""
    failed = []
    for pin in pins:
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), pin])
        log(f"{pin}: {'built' if result.returncode == 0 else 'FAILED'} in {time.monotonic() - started:.0f} s")
        if result.returncode:
            failed.append(pin)
    return failed


def main(argv: list[str]) -> int:
    only_requirements = argv[:1] == ["--requirements"]
    argv = argv[1:] if only_requirements else argv
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, extras, out = Path(argv[0]), [e.strip() for e in argv[1].split(",") if e.strip()], Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    if source.suffix == ".toml":
        reqs = requirements(load_pyproject(source), extras)
        (out / "requirements.txt").write_text("\n".join(reqs) + "\n")
    elif source.resolve() != (out / "requirements.txt").resolve():
        (out / "requirements.txt").write_text(source.read_text())
    lock = source.parent / LOCK
    if lock.is_file() and lock.resolve() != (out / LOCK).resolve():
        shutil.copyfile(lock, out / LOCK)
    if only_requirements:
        return 0

    started = time.monotonic()
    items = resolve(out / "requirements.txt", out / "resolve-report.json")
    (out / "resolve-report.json").unlink()
    pins = [f"{i['metadata']['name']}=={i['metadata']['version']}" for i in items]
    (out / "constraints.txt").write_text("\n".join(sorted(pins, key=str.lower)) + "\n")
    sdists = sorted((p for p, i in zip(pins, items) if is_sdist(i)), key=str.lower)
    (out / "sdists.txt").write_text("".join(p + "\n" for p in sdists))
    log(f"resolved {len(pins)} distributions in {time.monotonic() - started:.0f} s; "
        f"only as source for {os.uname().machine}: {', '.join(sdists) or 'none'}")

    failed = build_wheels(sdists, out)
    if failed and not has_compiler():
        install_compiler()
        failed = build_wheels(failed, out)
    if failed:
        log(f"could not build wheels for {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
