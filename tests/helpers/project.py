"""Real git + DVC projects in tmp_path with an isolated HOME and git config (helpers and fixtures; a pytest plugin)."""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from henryvc import api
from henryvc.core.project import Project

PYTHON_BIN = str(Path(sys.executable).parent)

# The one stand-in training stage of tests and benchmarks (training itself is tested in test_training_*).
FAKE_TRAIN = (Path(__file__).parent / "fake_stage.py").read_text()


_DVC_YAML = '''\
stages:
  train:
    cmd: python SCRIPT
    deps:
      - SCRIPT
      - voice_data
      - training_runs/${run}/config.json
    params:
      - run
      - fake
    outs:
      - training_runs/${run}/checkpoints
      - training_runs/${run}/tensorboard
      - training_runs/${run}/logs:
          cache: false
    metrics:
      - training_runs/${run}/metrics.json:
          cache: false
'''
_LOGS_OUT = "      - training_runs/${run}/logs:\n          cache: false\n"


def fake_dvc_yaml(script: str, logs: bool = True) -> str:
    """A one-stage dvc.yaml running SCRIPT for the run params.yaml names (LOGS: a git-tracked logs/ output)."""
    text = _DVC_YAML.replace("SCRIPT", script)
    return text if logs else text.replace(_LOGS_OUT, "")


FAKE_DVC_YAML = fake_dvc_yaml("fake_train.py")


def minimal_config(variant: str = "debug", major: int = 2) -> dict:
    """A config template that passes henryvc's lint (the real templates live in configs/)."""
    return {
        "model": "tacotron2", "run_name": "{RUN_NAME}", "run_description": "test template",
        "version": f"{major}.0", "variant": variant, "output_path": "training_runs/{RUN_NAME}",
        "seed": 54321, "scheduler_after_epoch": False, "decoder_ssim_alpha": 0.0, "postnet_ssim_alpha": 0.0,
        "stopnet_pos_weight": 10.0, "ga_alpha": 5.0, "target_loss": None, "save_step": 500,
        "num_loader_workers": 0 if variant == "debug" else 4,  # a GPU config with 0 workers is a lint warning
    }


def write_wav(path: Path, seconds: float = 0.3, rate: int = 22050, freq: float = 220.0) -> None:
    """A small mono 16-bit sine wav."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate)))
                      for i in range(int(seconds * rate)))
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(frames)


def sh(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a real command (git, dvc) in CWD."""
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, check=check)


def dvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real DVC command line."""
    return sh(cwd, sys.executable, "-m", "dvc", *args, check=check)


def git_repo(folder: Path, dvc_too: bool = False, first_commit: bool = True) -> Path:
    """A bare-bones repository at FOLDER (made): git on branch main with one commit of a.txt (FIRST_COMMIT),
    and `dvc init` where DVC_TOO; for the adapters' tests, which need no henryvc project."""
    folder.mkdir(parents=True)
    sh(folder, "git", "init", "-q", "-b", "main")
    if dvc_too:
        dvc(folder, "init", "-q")
    if first_commit:
        (folder / "a.txt").write_text("a\n")
        sh(folder, "git", "add", "a.txt")
        sh(folder, "git", "commit", "-qm", "first")
    return folder


def gen(project: Project, files: dict[str, str | bytes], commit: str | None = None) -> None:
    """Write FILES (path → content) into the project and optionally commit them."""
    for rel, content in files.items():
        path = project.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    if commit:
        sh(project.root, "git", "add", *files)
        sh(project.root, "git", "commit", "-qm", commit)


def scratch(request, tmp_path_factory, name: str) -> Path:
    """A module fixture's folder, removed when the fixture is torn down (HENRYVC_KEEP_TMP=1 keeps it).

    A module's real training runs take gigabytes (each Tacotron2 checkpoint is 347 MB, and DVC's cache and
    the recreated run copy them), and pytest keeps `mktemp` folders until the session ends: the whole suite
    used to hold 40 GB at its end, and CI's disk ran out at 91 %.
    """
    path = tmp_path_factory.mktemp(name)
    if not os.environ.get("HENRYVC_KEEP_TMP"):
        request.addfinalizer(lambda: shutil.rmtree(path, ignore_errors=True))
    return path


def isolate(monkeypatch, home: Path) -> Path:
    """Own HOME (HOME), git identity and DVC site cache; the venv's python first on PATH (for module fixtures too)."""
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("[user]\n\tname = Henry Tester\n\temail = tester@henryvc.invalid\n"
                         "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(home / "dvc-site"))
    monkeypatch.setenv("PATH", PYTHON_BIN + os.pathsep + os.environ["PATH"])
    return home


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """Own HOME, git identity and DVC site cache for every test; the venv's python first on PATH."""
    return isolate(monkeypatch, tmp_path_factory.mktemp("home"))


def make_project(root: Path, remote: Path) -> Project:
    """A real henryvc project with a fake training stage, a v2 debug template and DVC-tracked voice data."""
    root.mkdir(parents=True, exist_ok=True)
    api.init(root, str(remote))
    project = Project(root.resolve())
    gen(project, {
        "dvc.yaml": FAKE_DVC_YAML,
        "params.yaml": "# the run dvc repro trains\nrun: null\nfake:\n  seed: 1\n",
        "fake_train.py": FAKE_TRAIN,
        "configs/henry_voice_v2_debug.json": json.dumps(minimal_config("debug"), indent=2),
        "configs/henry_voice_v2_stable.json": json.dumps(minimal_config("stable"), indent=2),
        "voice_data/metadata.csv": "clip1|Hello.|Hello.\nclip2|Bye.|Bye.\n",
    })
    for i, clip in enumerate(("clip1", "clip2")):
        write_wav(project.root / "voice_data" / "wavs" / f"{clip}.wav", freq=220.0 + 50 * i)
    dvc(project.root, "add", "-q", "voice_data")
    sh(project.root, "git", "add", "-A")
    sh(project.root, "git", "commit", "-qm", "project with fake pipeline and voice data")
    return project


@pytest.fixture
def project(tmp_path) -> Project:
    """A fresh project with its DVC remote in a sibling folder."""
    return make_project(tmp_path / "project", tmp_path / "dvc-remote")


def trained_run(project: Project, variant: str = "debug", seed: int = 1) -> str:
    """new-run + a real `dvc repro` of the fake stage; returns the run name."""
    record = api.new_run(project, 2, variant, description=f"seed {seed}")
    params = (project.root / "params.yaml").read_text()
    (project.root / "params.yaml").write_text(params.replace("seed: 1", f"seed: {seed}"))
    dvc(project.root, "repro", "-q")
    return record.name
