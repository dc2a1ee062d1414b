"""scripts/gpu_smoke.sh without a GPU: one clear line, exit 1, before it installs or writes anything.

The GPU path itself needs an NVIDIA GPU (make gpu-smoke); docs/container.md says when it last ran.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gpu_smoke.sh"


def smoke(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Run a copy of the script in an otherwise empty repository folder, so anything it writes shows."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, repo / "scripts" / "gpu_smoke.sh")
    environ = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    environ.update(env)
    return subprocess.run([shutil.which("bash"), str(repo / "scripts" / "gpu_smoke.sh"), str(tmp_path / "scratch")],
                          cwd=repo, env=environ, capture_output=True, text=True, timeout=60)


def written(tmp_path: Path) -> list[str]:
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                  if p.name != "gpu_smoke.sh" and p.name != "scripts" and p.name != "repo")


@pytest.mark.parametrize("hidden", ["", "-1"])
def test_hidden_gpus_fail_fast_with_one_line(tmp_path, hidden):
    done = smoke(tmp_path, CUDA_VISIBLE_DEVICES=hidden)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"gpu_smoke: no NVIDIA GPU visible: CUDA_VISIBLE_DEVICES='{hidden}' hides them all"]
    assert done.stdout == "" and written(tmp_path) == []


def test_no_driver_fails_fast_with_one_line(tmp_path):
    # A PATH with bash's essentials but no nvidia-smi: the machine this suite runs on, GPU or not.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("dirname", "grep", "head", "mktemp"):
        os.symlink(shutil.which(tool), bindir / tool)
    done = smoke(tmp_path, PATH=str(bindir))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "gpu_smoke: no NVIDIA GPU visible: nvidia-smi is not installed (no NVIDIA driver)"]
    assert written(tmp_path) == ["bin", *sorted(f"bin/{t}" for t in ("dirname", "grep", "head", "mktemp"))]


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has an NVIDIA driver")
def test_this_machine_without_a_gpu_fails_fast(tmp_path):
    done = smoke(tmp_path)
    assert done.returncode == 1 and "no NVIDIA GPU visible" in done.stderr
    assert len(done.stderr.splitlines()) == 1 and written(tmp_path) == []
