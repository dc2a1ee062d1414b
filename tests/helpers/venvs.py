"""Real environments that differ from the main venv in one chosen way, for the drift tests."""

from __future__ import annotations

import glob
import subprocess
import sys
import sysconfig
from pathlib import Path

# Where other CPython interpreters live here and in CI: Debian's, /usr/local's, pyenv's.
INTERPRETER_GLOBS = ("/usr/bin/python3.*", "/usr/local/bin/python3.*", "/root/.pyenv/versions/*/bin/python3")


def site_packages(python: Path) -> Path:
    """The purelib folder of interpreter PYTHON."""
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    return Path(subprocess.run([str(python), "-c", where], capture_output=True, text=True, check=True).stdout.strip())


def layered_venv(base: Path, *requirements: str, python: Path | str = sys.executable) -> Path:
    """A venv at BASE/layer made by interpreter PYTHON over the main one (its site-packages through a .pth line,
    after the layer's own), with REQUIREMENTS pip-installed into the layer; its python."""
    venv = base / "layer"
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = site_packages(python)
    main_site = sysconfig.get_path("purelib")
    (site / "zz_henryvc_main.pth").write_text(f"import site; site.addsitedir({main_site!r})\n")
    if requirements:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                        *requirements], check=True)
    return python


def record_environment(python: Path | str, run_dir: Path) -> None:
    """What the train stage records, done by interpreter PYTHON for RUN_DIR: the lock and environment.json when
    training starts, the distributions it imported when it ends (this stand-in imports numpy, as training does)."""
    script = ("import sys; from pathlib import Path; import numpy; from henryvc.core import environment, record; "
              "d = Path(sys.argv[1]); record.update(d, **environment.write(d)); environment.record_imported(d)")
    subprocess.run([str(python), "-c", script, str(run_dir)], check=True)


def version_of(python: Path | str) -> str:
    """platform.python_version() of interpreter PYTHON."""
    where = "import platform; print(platform.python_version())"
    return subprocess.run([str(python), "-c", where], capture_output=True, text=True, check=True).stdout.strip()


def interpreters() -> dict[str, Path]:
    """Version -> one real CPython of the same major.minor as this one (so the main venv's compiled packages load
    in it), for every such version on this machine (this one's included)."""
    found: dict[str, Path] = {}
    minor = f"{sys.version_info.major}.{sys.version_info.minor}."
    for pattern in INTERPRETER_GLOBS:
        for path in sorted(glob.glob(pattern)):
            if path.endswith("-config") or not Path(path).is_file():
                continue
            try:
                version = version_of(path)
            except (OSError, subprocess.CalledProcessError):
                continue
            if version.startswith(minor):
                found.setdefault(version, Path(path))
    return found
