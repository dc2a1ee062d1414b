"""scripts/image_wheels.py, the Dockerfile's pins and builder stages, on this machine's Python (no engine).

The builder stage itself runs in the arm64_builder tier (tests/tiers/arm64/test_container_arm64.py) and in every
engine-tier image build.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "image_wheels.py"


@pytest.fixture(scope="module")
def wheels():
    spec = importlib.util.spec_from_file_location("image_wheels", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_requirements_are_pyprojects_pins(wheels):
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = wheels.requirements(wheels.load_pyproject(REPO / "pyproject.toml"), ["train"])
    assert reqs == project["dependencies"] + project["optional-dependencies"]["train"]
    assert "torch==2.11.0" in reqs and all("==" in r for r in reqs)  # pinned, every one


def test_unknown_extra_is_named(wheels):
    with pytest.raises(SystemExit, match="unknown extra.*nosuch"):
        wheels.requirements(wheels.load_pyproject(REPO / "pyproject.toml"), ["nosuch"])


def test_pins_stage_writes_requirements_only(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--requirements", str(REPO / "pyproject.toml"), "train",
                           str(tmp_path / "pins")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "pins").iterdir()) == ["requirements.lock", "requirements.txt"]
    assert (tmp_path / "pins" / "requirements.lock").read_bytes() == (REPO / "requirements.lock").read_bytes()
    assert "coqui-tts==0.28.0" in (tmp_path / "pins" / "requirements.txt").read_text().splitlines()


def test_report_items_from_source_are_sdists(wheels):
    wheel = {"download_info": {"url": "https://files/x/torch-2.11.0-cp311-cp311-manylinux_2_28_aarch64.whl"}}
    sdist = {"download_info": {"url": "https://files/x/monotonic_alignment_search-0.2.0.tar.gz"}}
    assert not wheels.is_sdist(wheel) and wheels.is_sdist(sdist)


def test_bad_usage_exits_2(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "only-one-arg"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Usage" in done.stderr
