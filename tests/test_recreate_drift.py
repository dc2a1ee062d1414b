"""`henryvc recreate` through the real command on a real project (fake stage): what blocks and what does not.

The environments are real: a venv layered over the main one (its site-packages through a .pth line) with an
extra package pip-installed into it, or with an edited copy of henryvc's packages in front of the main ones.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from henryvc.core import envlock
from henryvc.core.project import Project
from tests.helpers.project import sh, trained_run
from tests.helpers.venvs import layered_venv, record_environment, site_packages

EXTRA, EXTRA_VERSION = "tomli-w", "1.0.0"  # a small package the main venv lacks and no stage imports
SOURCE = Path(__file__).resolve().parent.parent


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


def henryvc(python: str | Path, project: Project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "henryvc.main", *args], cwd=project.root, capture_output=True,
                          text=True)


def test_a_package_the_training_never_imported_does_not_block(project, tmp_path):
    """A run made with an extra package installed re-creates, through the command, where it is not installed."""
    name = trained_run(project)
    with_extra = layer(tmp_path, (f"{EXTRA}=={EXTRA_VERSION}",))
    made_in(with_extra, project, name)
    info = json.loads(sh(project.root, "git", "show", f"{name}:training_runs/{name}/{envlock.INFO_FILE}").stdout)
    assert "numpy" in info[envlock.IMPORTED] and EXTRA not in info[envlock.IMPORTED]
    assert envlock.parse_lock((project.run_dir(name) / envlock.LOCK_FILE).read_text())[EXTRA] == EXTRA_VERSION

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


def test_a_tolerance_only_where_cuda_trained(tmp_path):
    """On CPU a re-creation is held to equality; CUDA_TOLERANCE applies only when the tag's or the re-run's
    training ran on CUDA, and it names why."""
    from henryvc.core import recreation
    from henryvc.ops import recreate

    tag_dir, run_dir = tmp_path / "tag", tmp_path / "run"
    tag_dir.mkdir()
    run_dir.mkdir()
    (run_dir / envlock.INFO_FILE).write_text(json.dumps({"device": "cpu"}))
    assert recreate.tolerance_for(tag_dir, run_dir, "cpu") is None
    assert recreate.tolerance_for(tag_dir, run_dir, "cuda") == recreation.CUDA_TOLERANCE
    (run_dir / envlock.INFO_FILE).write_text(json.dumps({"device": "cuda:0"}))
    assert recreate.tolerance_for(tag_dir, run_dir, None)["why"].startswith("trained on CUDA")
