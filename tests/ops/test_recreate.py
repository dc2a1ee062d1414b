"""`henryvc recreate` through the real command on a real project (fake stage): what blocks and what does not.

The environments are real: a venv layered over the main one (its site-packages through a .pth line) with an
extra package pip-installed into it, or with an edited copy of henryvc's packages in front of the main ones, or
made by another interpreter of this machine; and an aarch64 interpreter run under QEMU (engine tier).
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
from pathlib import Path

import pytest

from henryvc.core import environment
from henryvc.core.project import Project
from tests.helpers.cli import run_cli
from tests.helpers.container import ARM64_BASE, REPO
from tests.helpers.project import sh, trained_run
from tests.helpers.venvs import INTERPRETER_GLOBS, interpreters, layered_venv, record_environment, site_packages

EXTRA, EXTRA_VERSION = "tomli-w", "1.0.0"  # a small package the main venv lacks and no stage imports
SOURCE = Path(__file__).resolve().parents[2]


def layer(base: Path, packages: tuple[str, ...] = (), edit: str | None = None) -> Path:
    """A venv over the main one with PACKAGES pip-installed into it, and with EDIT (a path under henryvc_training/
    or henryvc/) changed by one comment line in a copy of henryvc's packages put in front of the main ones."""
    python = layered_venv(base, *packages)
    if edit:
        site = site_packages(python)
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(SOURCE / "cli" / "henryvc", site / "henryvc", ignore=ignore)
        shutil.copytree(SOURCE / "training" / "henryvc_training", site / "henryvc_training", ignore=ignore)
        with (site / edit).open("a") as handle:
            handle.write("# another henryvc: one comment more\n")
    return python


def made_in(python: Path, project: Project, name: str) -> None:
    """Record run NAME's environment with PYTHON as the train stage does (lock at the start, what it imported at
    the end: this stand-in imports numpy), then commit and tag it."""
    record_environment(python, project.run_dir(name))
    sh(project.root, "git", "add", f"training_runs/{name}")
    tagged = henryvc(sys.executable, project, "tag-run", name)
    assert tagged.returncode == 0, tagged.stderr


def henryvc(python: str | Path, project: Project, *args: str):
    """The real command line run by PYTHON (another venv's, for the drift cases)."""
    return run_cli(project.root, *args, process=True, python=python)


def test_a_package_the_training_never_imported_does_not_block(project, tmp_path):
    """A run made with an extra package installed re-creates, through the command, where it is not installed."""
    name = trained_run(project)
    with_extra = layer(tmp_path, (f"{EXTRA}=={EXTRA_VERSION}",))
    made_in(with_extra, project, name)
    info = json.loads(sh(project.root, "git", "show", f"{name}:training_runs/{name}/{environment.INFO_FILE}").stdout)
    assert "numpy" in info[environment.IMPORTED] and EXTRA not in info[environment.IMPORTED]
    assert environment.parse_lock((project.run_dir(name) / environment.LOCK_FILE).read_text())[EXTRA] == EXTRA_VERSION

    done = henryvc(sys.executable, project, "recreate", name, "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    line = f"package {EXTRA}: {EXTRA_VERSION} at the tag, absent here (not imported by the stages)"
    assert report["drift"] == [] and report["not_imported"] == [line]
    assert report["matches"] and report["exit_code"] == 0 and report["metrics_rewritten"]
    # The fake stage writes no per-step losses: nothing to compare bit for bit, and the result says so.
    assert report["identical"] is None and "step_losses.jsonl" in report["not_compared"]
    record = json.loads((Path(report["worktree"]) / "training_runs" / name / "run.json").read_text())
    assert [d["name"] for d in record["recreation"]["drift"] if not d["blocks"]] == [EXTRA]
    checked = henryvc(sys.executable, project, "recreate", name, "--check")
    assert checked.returncode == 0 and f"differs: {line}" in checked.stdout, checked.stderr


def test_a_code_change_refuses_through_the_command_and_writes_nothing(project, tmp_path):
    name = trained_run(project)
    made_in(Path(sys.executable), project, name)
    edited = layer(tmp_path, edit="henryvc_training/train.py")
    before = sh(project.root, "git", "status", "--porcelain", "--ignored").stdout
    refused = henryvc(edited, project, "recreate", name)
    assert refused.returncode == 1, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert "was made in another environment (1 difference(s))" in lines[0], lines
    assert len(lines) == 2 and lines[1].startswith("  code henryvc_training/train.py: sha256 "), lines
    assert not (project.state / "recreate").exists()  # refused before anything was written
    assert sh(project.root, "git", "status", "--porcelain", "--ignored").stdout == before


def refused_writing_nothing(project: Project, name: str, python: str | Path) -> list[str]:
    """`henryvc recreate NAME` run by PYTHON: refused with exit 1 before anything was written (no worktree, no
    recreate folder, git as it was); its stderr lines."""
    before = [sh(project.root, "git", *args).stdout for args in (("status", "--porcelain", "--ignored"),
                                                                 ("worktree", "list"), ("show-ref",))]
    refused = henryvc(python, project, "recreate", name)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr, refused.stderr
    assert not (project.state / "recreate").exists()  # refused before anything was written
    assert [sh(project.root, "git", *args).stdout for args in (("status", "--porcelain", "--ignored"),
                                                               ("worktree", "list"), ("show-ref",))] == before
    lines = refused.stderr.strip().splitlines()
    assert f"{name} was made in another environment (1 difference(s))" in lines[0], lines
    return [line for line in lines[1:] if not line.startswith("  (")]  # without the non-blocking count


def test_another_python_refuses_through_the_command_and_writes_nothing(project, tmp_path):
    """The run's environment is recorded by a real other interpreter of this machine (same major.minor, another
    patch release, e.g. Debian's 3.11.2 beside the venv's 3.11.7: the main venv's compiled packages load in it,
    so the stand-in stage imports numpy as training does, and the lock is the same), in a venv layered over
    the main one; `henryvc recreate` here refuses on the Python version alone."""
    here = platform.python_version()
    others = {v: p for v, p in interpreters().items() if v != here}
    if not others:
        pytest.skip(f"no CPython {sys.version_info.major}.{sys.version_info.minor}.x other than {here} here "
                    f"(looked in {', '.join(INTERPRETER_GLOBS)})")
    version, other = sorted(others.items())[0]
    name = trained_run(project)
    made_in(layered_venv(tmp_path, python=other), project, name)
    recorded = json.loads((project.run_dir(name) / environment.INFO_FILE).read_text())
    assert recorded["python"] == version and recorded["arch"] == platform.machine()
    assert refused_writing_nothing(project, name, sys.executable) == [f"  python: {version} at the tag, {here} here"]


@pytest.mark.engine
def test_another_arch_refuses_through_the_command_and_writes_nothing(project, tmp_path, arm64_engine):
    """The run's environment is recorded by a real aarch64 interpreter: Debian's python3 in the arm64 base image,
    run under QEMU, with this tree's henryvc mounted in. `henryvc recreate` is then run on this machine by an
    interpreter of the very same Python version (Debian's here: 3.11.2, in a venv layered over the main one), so
    the arch is the one difference that blocks (the container's few Debian packages differ too; the stand-in
    imported none of them, so they are listed, not refused)."""
    name = trained_run(project)
    script = ("import sys; from pathlib import Path; from henryvc.core import environment, record; "
              "d = Path(sys.argv[1]); record.update(d, **environment.write(d)); environment.record_imported(d)")
    arm64_engine.containers.run(
        ARM64_BASE, ["python3", "-c", script, f"/project/training_runs/{name}"], remove=True,
        environment={"PYTHONPATH": "/opt/hv/cli:/opt/hv/training"},
        volumes={str(project.root): {"bind": "/project", "mode": "rw"},
                 str(REPO / "cli"): {"bind": "/opt/hv/cli", "mode": "ro"},
                 str(REPO / "training"): {"bind": "/opt/hv/training", "mode": "ro"}})
    recorded = json.loads((project.run_dir(name) / environment.INFO_FILE).read_text())
    assert recorded["arch"] == "aarch64" != platform.machine()
    same = interpreters().get(recorded["python"])
    if same is None:
        pytest.skip(f"no CPython {recorded['python']} (the arm64 base's) on this machine to run henryvc with")
    python = Path(sys.executable) if same.samefile(sys.executable) else layered_venv(tmp_path, python=same)
    sh(project.root, "git", "add", f"training_runs/{name}")
    tagged = henryvc(sys.executable, project, "tag-run", name)
    assert tagged.returncode == 0, tagged.stderr
    assert refused_writing_nothing(project, name, python) == [f"  arch: aarch64 at the tag, {platform.machine()} here"]


def test_a_tolerance_only_where_cuda_trained(tmp_path):
    """On CPU a re-creation is held to equality; CUDA_TOLERANCE applies only when the tag's or the re-run's
    training ran on CUDA, and it names why."""
    from henryvc.core import recreation
    from henryvc.ops import recreate

    tag_dir, run_dir = tmp_path / "tag", tmp_path / "run"
    tag_dir.mkdir()
    run_dir.mkdir()
    (run_dir / environment.INFO_FILE).write_text(json.dumps({"device": "cpu"}))
    assert recreate.tolerance_for(tag_dir, run_dir, "cpu") is None
    assert recreate.tolerance_for(tag_dir, run_dir, "cuda") == recreation.CUDA_TOLERANCE
    (run_dir / environment.INFO_FILE).write_text(json.dumps({"device": "cuda:0"}))
    assert recreate.tolerance_for(tag_dir, run_dir, None)["why"].startswith("trained on CUDA")
