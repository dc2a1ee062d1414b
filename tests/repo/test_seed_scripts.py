"""The seed's entry points scripts/train_henry_v{MAJOR}_{VARIANT}.py start a run exactly like `henryvc run`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_shipped_template_has_its_script():
    templates = {p.name[len("henry_voice_"):-len(".json")] for p in (REPO / "configs").glob("henry_voice_v*.json")}
    scripts = {p.name[len("train_henry_"):-len(".py")] for p in (REPO / "scripts").glob("train_henry_v*.py")}
    assert templates and scripts == templates


def test_the_script_runs_new_run_repro_and_tag_like_henryvc_run(project):
    script = REPO / "scripts" / "train_henry_v2_debug.py"
    done = subprocess.run([sys.executable, str(script), "--description", "seed script", "--json"],
                          cwd=project.root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["name"].startswith("henry_v2_debug_") and result["status"] == "success"
    tags = subprocess.run(["git", "tag", "-l", result["name"]], cwd=project.root, capture_output=True, text=True)
    assert tags.stdout.strip() == result["name"]
    record = json.loads((project.run_dir(result["name"]) / "run.json").read_text())
    assert record["description"] == "seed script" and record["variant"] == "debug"


def test_a_script_under_another_name_is_refused():
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "train_henry.py")], capture_output=True, text=True)
    assert done.returncode == 2 and "train_henry_v<MAJOR>_<VARIANT>.py" in done.stderr


def test_init_writes_the_seed_entry_points_and_no_development_script(project):
    """`henryvc init` (the project fixture is made by it) gives every project the seed's scripts/."""
    scripts = sorted(p.name for p in (project.root / "scripts").iterdir())
    templates = sorted(p.name for p in (REPO / "configs").glob("henry_voice_v*.json"))
    expected = sorted([f"train_henry_{t[len('henry_voice_'):-len('.json')]}.py" for t in templates]
                      + ["archive_training_runs.sh", "cleanup_failed_runs.sh", "reset_all_training.sh"])
    assert scripts == expected  # no demo.sh, container_engine.sh, train_henry.py ...
    assert all(((project.root / "scripts" / s).stat().st_mode & 0o111) for s in scripts)
    tracked = subprocess.run(["git", "ls-files", "scripts"], cwd=project.root, capture_output=True, text=True)
    assert sorted(Path(p).name for p in tracked.stdout.split()) == expected  # committed with init's files


def test_the_projects_own_script_starts_a_run_like_henryvc_run(project):
    done = subprocess.run([sys.executable, "scripts/train_henry_v2_debug.py", "--description", "own script", "--json"],
                          cwd=project.root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "success"
    assert json.loads((project.run_dir(result["name"]) / "run.json").read_text())["description"] == "own script"


def test_the_projects_archive_script_calls_henryvc_archive(project):
    done = subprocess.run(["bash", "scripts/archive_training_runs.sh", "--dry-run"], cwd=project.root,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
