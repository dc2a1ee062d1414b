"""Issue 12 item 5: a tagged debug run, pushed, re-created from a fresh `git clone` + the DVC remote with
`henryvc recreate`, reproduces the original's per-step losses and final model tensors bit for bit (CPU): the
command says so ("identical": true) and the test's own readers agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import training as tf
from tests.helpers.cli import run_cli
from tests.helpers.project import scratch

pytestmark = pytest.mark.slow


def step_losses(run_dir: Path) -> list[dict]:
    """The per-step loss records the train stage writes (logs/step_losses.jsonl, git-tracked at the tag)."""
    return [json.loads(line) for line in (run_dir / "logs" / "step_losses.jsonl").read_text().splitlines()]


def final_model(run_dir: Path) -> dict:
    """The model tensors of the run's last checkpoint."""
    import torch

    last = max((run_dir / "checkpoints").glob("checkpoint_*.pth"), key=lambda p: int(p.stem.split("_")[1]))
    return torch.load(last, map_location="cpu", weights_only=False)["model"]


@pytest.fixture(scope="module")
def pushed(request, tmp_path_factory) -> tuple[Path, Path]:
    """A debug run trained, tagged and pushed (`tag-run --push`) to a bare git remote and a DVC remote."""
    base = scratch(request, tmp_path_factory, "fresh-clone")
    data = tf.sample_data(base / "voice", clips=10)
    project = tf.make_project(base / "proj", data, params={"evaluation": tf.TINY_PARAMS})
    tf.sh("git", "init", "-q", "--bare", "--initial-branch=main", str(base / "origin.git"), cwd=base)
    tf.sh("git", "remote", "add", "origin", str(base / "origin.git"), cwd=project)
    tf.dvc("remote", "add", "-d", "storage", str(base / "dvc-remote"), cwd=project)
    tf.sh("git", "commit", "-qam", "DVC remote", cwd=project)
    tf.sh("git", "push", "-q", "origin", "main", cwd=project)
    trained = tf.dvc("repro", cwd=project, check=False)
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    tagged = run_cli(project, "tag-run", tf.RUN, "--push", process=True, env=tf.env())
    assert tagged.returncode == 0, tagged.stderr
    return base, project


def test_fresh_clone_recreates_the_same_losses_and_tensors(pushed):
    import torch

    base, project = pushed
    clone = base / "clone"
    tf.sh("git", "clone", "-q", str(base / "origin.git"), str(clone), cwd=base)
    assert not (clone / ".dvc" / "cache").exists() and not (clone / "stage_code").exists()  # nothing but git
    result = run_cli(clone, "recreate", tf.RUN, "--json", process=True, env=tf.env())
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["matches"] and report["drift"] == []
    assert report["identical"] is True and report["differences"] == [] and report["tolerance"] is None, report
    recreated = Path(report["worktree"]) / "training_runs" / tf.RUN
    original = project / "training_runs" / tf.RUN
    first, again = step_losses(original), step_losses(recreated)
    assert [r["step"] for r in first] == [r["step"] for r in again] and len(first) == 6
    losses = [(a[k], b[k]) for a, b in zip(first, again, strict=True) for k in a if k.endswith(("loss", "error"))]
    assert losses and all(x == y for x, y in losses), [pair for pair in losses if pair[0] != pair[1]][:5]
    a, b = final_model(original), final_model(recreated)
    assert a.keys() == b.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    print(f"fresh-clone re-creation: {len(losses)} step losses and {len(a)} model tensors bit-identical")
