"""`henryvc recreate` on the host with real Coqui training: the tag holds code and environment (and what
training imported), the same environment re-runs bit for bit through the command, a re-run that trains
differently is reported as not identical, another numpy is refused and, allowed, re-runs with the drift
recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from henryvc.core import environment
from henryvc.core.summary import parse_message
from henryvc.paths import SOURCE_ROOT
from tests.core.test_environment import OTHER_NUMPY, _layered_venv
from tests.helpers import training as tf
from tests.helpers.cli import run_cli
from tests.helpers.project import scratch

pytestmark = pytest.mark.slow


def henryvc(*args: str, cwd: Path, python: str = sys.executable, env: dict[str, str] | None = None):
    """This module's runs: the real command line with the training environment (tf.env) and ENV."""
    return run_cli(cwd, *args, process=True, python=python, env={**tf.env(), **(env or {})}, timeout=3600)


@pytest.fixture(scope="module")
def tagged(request, tmp_path_factory) -> Path:
    """A tiny debug run trained by the real `dvc repro` and tagged."""
    base = scratch(request, tmp_path_factory, "recreate")
    data = tf.sample_data(base / "voice", clips=10)
    project = tf.make_project(base / "proj", data, params={"evaluation": tf.TINY_PARAMS})
    result = tf.dvc("repro", cwd=project, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    tagged = henryvc("tag-run", tf.RUN, cwd=project)
    assert tagged.returncode == 0, tagged.stderr
    return project


def test_tag_holds_the_lock_environment_and_code_identity(tagged):
    run_dir = tagged / "training_runs" / tf.RUN
    pins = environment.parse_lock((run_dir / environment.LOCK_FILE).read_text())
    assert pins["numpy"] == metadata.version("numpy") and pins["coqui-tts"] == metadata.version("coqui-tts")
    info = json.loads((run_dir / environment.INFO_FILE).read_text())
    assert info["arch"] and info["python"] and "henryvc_training/train.py" in info["code"]["files"]
    # What the training process imported: the training stack, not the test tools installed beside it.
    imported = set(info[environment.IMPORTED])
    assert {"torch", "numpy", "coqui-tts", "coqui-tts-trainer"} <= imported <= set(pins), imported - set(pins)
    tools = {"pytest", "mypy", "ruff", "hypothesis", "selenium", "pip"} & set(pins)
    assert tools and not tools & imported, tools & imported
    print(f"\n{len(imported)} of {len(pins)} locked distributions imported by training; not imported: "
          f"{len(pins) - len(imported)}")
    message = subprocess.run(["git", "cat-file", "-p", tf.RUN], cwd=tagged, capture_output=True, text=True).stdout
    summary = parse_message(message.split("\n\n", 1)[1])
    assert summary["code"]["digest"] == info["code"]["digest"]
    # The stage asked git nothing; tag-run added the editable henryvc's commit (its stage files unchanged
    # since training), to the record, environment.json and the tag alike.
    source = info["code"]["henryvc"]
    source_head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=SOURCE_ROOT, capture_output=True, text=True)
    assert source["kind"] == "editable" and source["commit"] == source_head.stdout.strip()
    assert summary["code"]["henryvc"] == source
    assert summary["environment"]["tagged_with"]["git"] and "git" not in summary["environment"]["trained_with"]
    tracked = subprocess.run(["git", "ls-files", f"training_runs/{tf.RUN}"], cwd=tagged, capture_output=True,
                             text=True).stdout.split()
    folder = f"training_runs/{tf.RUN}"
    assert {f"{folder}/{environment.LOCK_FILE}", f"{folder}/{environment.INFO_FILE}"} <= set(tracked)
    lock = (tagged / "dvc.lock").read_text()
    assert "stage_code/henryvc_training/train.py" in lock  # dvc.lock at the tag carries the code's md5s too


def test_same_environment_reruns_and_matches(tagged):
    assert henryvc("recreate", tf.RUN, "--check", cwd=tagged).returncode == 0
    result = henryvc("recreate", tf.RUN, "--json", cwd=tagged)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    data = json.loads(result.stdout)
    assert data["matches"] and data["drift"] == []
    # On CPU, through the command: every step loss and every model tensor equal, and no tolerance anywhere.
    assert data["identical"] is True and data["differences"] == [] and data["tolerance"] is None, data
    assert all(m["rtol"] == 0.0 for m in data["metrics"])
    record = json.loads((Path(data["worktree"]) / "training_runs" / tf.RUN / "run.json").read_text())
    assert record["recreation"]["drift"] == [] and record["recreation"]["exit_code"] == 0
    assert record["recreation"]["identical"] is True


def test_a_rerun_that_trains_differently_is_not_identical(tagged):
    """torch's plain CPU kernels instead of the vectorised ones this CPU has (ATEN_CPU_CAPABILITY=default, what
    an older CPU runs) add in another order: the last bits move, and recreate says so (exit 1), though no
    environment drift blocks it. (One thread instead of the tag's count was the perturbation before; on a
    2-core AVX-512 machine the tiny model's kernels gave the same bits with 1 and 2 threads.)"""
    result = henryvc("recreate", tf.RUN, "--json", cwd=tagged, env={"ATEN_CPU_CAPABILITY": "default"})
    data = json.loads(result.stdout)
    assert data["exit_code"] == 0 and data["drift"] == [], result.stderr[-3000:]
    assert data["identical"] is False and data["differences"] and not data["matches"], data
    assert result.returncode == 1
    print(f"\nplain CPU kernels instead of the tag's: {len(data['differences'])} difference(s), first: "
          f"{data['differences'][0]}")


def test_other_numpy_refused_then_allowed_with_the_drift_recorded(tagged, tmp_path):
    python = str(_layered_venv(tmp_path, OTHER_NUMPY))
    refused = henryvc("recreate", tf.RUN, cwd=tagged, python=python)
    assert refused.returncode == 1
    line = f"package numpy: {metadata.version('numpy')} at the tag, {OTHER_NUMPY} here"
    assert refused.stderr.strip().splitlines()[1:] == [f"  {line}"]
    allowed = henryvc("recreate", tf.RUN, "--allow-drift", "--json", cwd=tagged, python=python)
    data = json.loads(allowed.stdout)
    assert data["exit_code"] == 0, allowed.stderr[-3000:]
    assert data["drift"] == [line] and data["identical"] in (True, False)
    print(f"\nnumpy {OTHER_NUMPY} instead of the tag's: identical {data['identical']}, "
          f"{len(data['differences'])} difference(s)")
    run_dir = Path(data["worktree"]) / "training_runs" / tf.RUN
    record = json.loads((run_dir / "run.json").read_text())
    assert record["recreation"]["drift_lines"] == [line]
    assert record["recreation"]["drift"][0]["current"] == OTHER_NUMPY
    # The re-run's own lock is the environment it really ran in.
    assert environment.parse_lock((run_dir / environment.LOCK_FILE).read_text())["numpy"] == OTHER_NUMPY
