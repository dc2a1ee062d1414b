"""Packaging: the import names henryvc / henryvc_training, templates as package data, old projects upgraded.

A real wheel is built from this source and installed (without its dependencies, which come from the running
environment through a .pth line) into a fresh virtualenv: `henryvc init` there must find its templates, so
a non-editable install (and the image, which installs the same way) works.
"""

from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path

import pytest

from henryvc import api

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A virtualenv holding henryvc installed from a wheel (not editable); returns its bin folder."""
    base = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "-w", str(base / "dist"), str(REPO)], check=True, capture_output=True, timeout=600)
    wheel = next((base / "dist").glob("henryvc-*.whl"))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = next(venv.glob("lib/python*/site-packages"))
    (purelib / "deps.pth").write_text("\n".join(p for p in site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", str(wheel)], check=True, capture_output=True, timeout=600)
    return venv / "bin"


def test_the_wheel_ships_both_packages_and_the_templates(installed, tmp_path):
    python = installed / "python"
    where = subprocess.run([str(python), "-c", "import henryvc, henryvc_training; print(henryvc.__file__); "
                            "print(henryvc_training.__file__)"], cwd=tmp_path, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr
    assert all(str(REPO) not in line for line in where.stdout.splitlines()), where.stdout  # not the source tree
    project = tmp_path / "project"
    project.mkdir()
    done = subprocess.run([str(installed / "henryvc"), "init"], cwd=project, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (project / "dvc.yaml").read_text() == (REPO / "dvc.yaml").read_text()
    assert (project / "params.yaml").read_text() == (REPO / "params.yaml").read_text()
    shipped = sorted(p.name for p in (REPO / "configs").glob("henry_voice_v*.json"))
    assert sorted(p.name for p in (project / "configs").glob("*.json")) == shipped
    assert (project / "scripts" / "train_henry_v2_stable.py").is_file()  # the seed's scripts, from the wheel
    assert not (project / "scripts" / "demo.sh").exists()


def test_a_user_training_folder_does_not_shadow_the_stages(installed, tmp_path):
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "__init__.py").write_text("raise SystemExit('the user folder was imported')\n")
    (tmp_path / "training" / "train.py").write_text("raise SystemExit('the user folder was imported')\n")
    done = subprocess.run([str(installed / "python"), "-c", "import henryvc_training.prepare"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_init_upgrades_an_old_projects_stage_commands(tmp_path):
    old = (REPO / "dvc.yaml").read_text().replace("python -m henryvc_training.", "python -m training.")
    assert "python -m training.prepare" in old
    root = tmp_path / "old"
    root.mkdir()
    (root / "dvc.yaml").write_text(old)
    api.init(root, None)
    upgraded = (root / "dvc.yaml").read_text()
    assert upgraded == (REPO / "dvc.yaml").read_text()
    log = subprocess.run(["git", "log", "-1", "--name-only", "--format=%s"], cwd=root, capture_output=True, text=True)
    assert "dvc.yaml" in log.stdout  # the upgrade is committed with init's own files
    api.init(root, None)  # again: nothing more to upgrade
    assert (root / "dvc.yaml").read_text() == upgraded
