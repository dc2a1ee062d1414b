"""Build real henryvc projects for the training tests: git + DVC + sample voice data + a debug run.

The run folder is shaped like `henryvc new-run` makes it (config.json, run.json, README.md), so the
stages are tested exactly as `dvc repro` runs them, without depending on the registry's code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from henryvc.core import record, runname, stagecode

REPO = Path(__file__).resolve().parents[2]
RUN = "henry_v2_debug_20250101_120000"

# Small enough that one test run trains in well under a minute on 2 cores, big enough for 2 epochs of
# 3 steps each (8 train clips at batch 3, drop_last), periodic checkpoints and an evaluation.
TINY = {
    "epochs": 2, "batch_size": 3, "eval_batch_size": 2, "save_step": 2, "print_step": 1, "plot_step": 1,
    "max_decoder_steps": 40, "test_sentences": ["Hello, I am Henry."], "max_audio_len": 220500,
}
TINY_PARAMS = {"every_epochs": 2, "max_decoder_steps": 40}


def env() -> dict[str, str]:
    """Environment for child processes: the test's Python first on PATH (dvc.yaml says `python`)."""
    environ = dict(os.environ)
    environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + environ.get("PATH", "")
    environ.setdefault("GIT_AUTHOR_NAME", "henryvc tests")
    environ.setdefault("GIT_AUTHOR_EMAIL", "tests@henryvc.invalid")
    environ.setdefault("GIT_COMMITTER_NAME", "henryvc tests")
    environ.setdefault("GIT_COMMITTER_EMAIL", "tests@henryvc.invalid")
    environ["DVC_NO_ANALYTICS"] = "1"
    return environ


def sh(*args: str, cwd: Path, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess:
    """Run a command in CWD with the test environment, text output captured."""
    return subprocess.run(list(args), cwd=cwd, env=env(), capture_output=True, text=True, check=check, **kwargs)


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """The real DVC command line, run by the test's interpreter."""
    return sh(sys.executable, "-m", "dvc", *args, cwd=cwd, check=check)


def sample_data(cache_dir: Path, clips: int = 10) -> Path:
    """A sample voice dataset (espeak-ng), made once per CACHE_DIR."""
    from henryvc_training.sample_data import make_dataset

    out = cache_dir / f"voice_data_{clips}"
    if not (out / "metadata.csv").exists():
        make_dataset(out, clips)
    return out


def make_config(variant: str = "debug", **overrides: Any) -> dict[str, Any]:
    """The repo's config template for VARIANT filled in for RUN, as new-run would, plus OVERRIDES."""
    text = (REPO / "configs" / f"henry_voice_v2_{variant}.json").read_text(encoding="utf-8")
    config = json.loads(text.replace("{RUN_NAME}", RUN))
    config.update(overrides)
    return config


def make_project(root: Path, data: Path, config: dict[str, Any] | None = None,
                 params: dict[str, Any] | None = None) -> Path:
    """A git + DVC project at ROOT with the pipeline, DATA as voice_data/ and the run RUN created."""
    import yaml

    root.mkdir(parents=True, exist_ok=True)
    sh("git", "init", "-q", "-b", "main", cwd=root)
    dvc("init", "-q", cwd=root)
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    stagecode.ensure(root)  # the stages depend on the stage code through these links (git-ignored)
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    base["run"] = RUN
    for section, values in (params or {}).items():
        base.setdefault(section, {}).update(values)
    (root / "params.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
    shutil.copytree(data, root / "voice_data")
    run_dir = root / "training_runs" / RUN
    run_dir.mkdir(parents=True)
    config = config if config is not None else make_config(**TINY)
    (run_dir / "config.json").write_text(json.dumps(config, indent=2))
    name = runname.parse(RUN)
    record.save(run_dir, record.RunRecord(name=RUN, major=name.major, variant=name.variant,
                                          created=datetime(2025, 1, 1, 12).isoformat(), config_hash="test",
                                          source_commit=None, description=config.get("run_description", ""),
                                          seed=config.get("seed")))
    (run_dir / "README.md").write_text(f"# {RUN}\n\n{config.get('run_description', '')}\n")
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-q", "-m", "project with run", cwd=root)
    return root


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def train_ids(run_dir: Path) -> set[str]:
    return {line.split("|")[0] for line in (run_dir / "data" / "train.csv").read_text().splitlines() if line}


def check_shards(run_dir: Path, epochs: int, world: int) -> list[dict]:
    """Each epoch: every rank's clips are disjoint from the others' and together are the training split."""
    reports = rows(run_dir / "logs" / "shards.jsonl")
    assert [r["epoch"] for r in reports] == list(range(epochs))
    for report in reports:
        ranks = [set(r) for r in report["ranks"]]
        assert len(ranks) == world and all(ranks)
        assert all(not (a & b) for i, a in enumerate(ranks) for b in ranks[i + 1:]), report  # disjoint
        assert set().union(*ranks) == train_ids(run_dir), report  # covers the epoch
        assert report["ok"] and report["disjoint"] and report["covers_epoch"] and report["padding"] == 0
    return reports
