"""`henryvc docker recreate` checks the image before it writes anything (engine tier)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.project import sh, trained_run
from tests.helpers.reliability import git_state, snapshot_tree
from tests.helpers.venvs import record_environment

pytestmark = pytest.mark.engine


def test_docker_recreate_refuses_before_it_writes_anything(project, engine, henryvc_lite_image):
    """A run recorded on the host, re-created in an image whose environment differs (its id at least): refused,
    one line per difference, and the project, its git state and its folders are as they were."""
    name = trained_run(project)
    record_environment(sys.executable, project.run_dir(name))
    sh(project.root, "git", "add", f"training_runs/{name}")
    tagged = subprocess.run([sys.executable, "-m", "henryvc.main", "tag-run", name], cwd=project.root,
                            capture_output=True, text=True)
    assert tagged.returncode == 0, tagged.stderr
    tree, git = snapshot_tree(project.root), git_state(project.root)
    refused = subprocess.run([sys.executable, "-m", "henryvc.main", "docker", "recreate", name,
                              "--image", henryvc_lite_image], cwd=project.root, capture_output=True, text=True)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert "was made in another environment" in lines[0], lines
    assert f"  image: no image at the tag, {henryvc_lite_image} here" in lines, lines
    assert snapshot_tree(project.root) == tree and git_state(project.root) == git  # nothing written
    assert not (project.state / "restore").exists() and not (project.state / "recreate").exists()
