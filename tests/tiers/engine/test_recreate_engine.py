"""`henryvc docker recreate` checks the image before it writes anything (engine tier)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from henryvc.core import imagestore
from henryvc.core.project import Project
from tests.helpers.cli import run_cli
from tests.helpers.project import gen, sh, trained_run
from tests.helpers.reliability import git_state, snapshot_tree
from tests.helpers.venvs import record_environment

pytestmark = pytest.mark.engine


def henryvc_cli(project: Project, *args: str) -> subprocess.CompletedProcess:
    """The real henryvc command line in a child process, in PROJECT."""
    return run_cli(project.root, *args, process=True)


def test_docker_recreate_refuses_before_it_writes_anything(project, engine, henryvc_lite_image):
    """A run recorded on the host, re-created in an image whose environment differs (its id at least): refused,
    one line per difference, and the project, its git state and its folders are as they were."""
    name = trained_run(project)
    record_environment(sys.executable, project.run_dir(name))
    sh(project.root, "git", "add", f"training_runs/{name}")
    tagged = run_cli(project.root, "tag-run", name, process=True)
    assert tagged.returncode == 0, tagged.stderr
    tree, git = snapshot_tree(project.root), git_state(project.root)
    refused = run_cli(project.root, "docker", "recreate", name, "--image", henryvc_lite_image, process=True)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert "was made in another environment" in lines[0], lines
    assert f"  image: no image at the tag, {henryvc_lite_image} here" in lines, lines
    assert snapshot_tree(project.root) == tree and git_state(project.root) == git  # nothing written
    assert not (project.state / "restore").exists() and not (project.state / "recreate").exists()


def test_build_save_then_recreate_loads_the_image_from_the_archive(project, engine, henryvc_lite_image):
    """`henryvc docker build --save` stores the image as images/<id>.tar tracked by DVC; on an engine without
    that image, `henryvc docker recreate` loads it from the archive by itself and goes on in it.

    Cheap on purpose: the project's own Dockerfile (context_root prefers it) stamps a fresh label on the lite
    image (the base plus henryvc's packages, about 0.3 GB), not the 6 GB training image, whose `image save`
    alone takes about 11 minutes here (BENCHMARKS.md). The lite image has no DVC, so the stages themselves
    exit 127 inside it: the recreation in the real image is test_container's tiny pipeline. What this test
    proves is the save, the load, and that the load is the image the run recorded, checked inside it."""
    import docker

    stamp = uuid.uuid4().hex
    tag = f"henryvc-test-saved:{stamp[:12]}"
    gen(project, {"Dockerfile": f"FROM {henryvc_lite_image}\nLABEL henryvc.test.stamp={stamp}\n"},
        commit="a Dockerfile of the project's own")
    image_id = tag
    try:
        built = henryvc_cli(project, "docker", "build", "--tag", tag, "--save")
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr
        image_id = engine.images.get(tag).id
        archive = imagestore.archive_path(image_id)
        assert f"saved {archive} (" in built.stdout and "tracked by DVC" in built.stdout, built.stdout[-2000:]
        tracked = sh(project.root, "git", "ls-files", "images").stdout.split()
        assert f"{archive}.dvc" in tracked and archive not in tracked  # git holds the pointer, DVC the bytes
        assert sh(project.root, "git", "status", "--porcelain").stdout == ""  # --save committed it

        # A run trained in that image: its environment recorded inside it (the image id comes from the engine).
        name = trained_run(project)
        script = ("import sys; from pathlib import Path; from henryvc.core import environment, record; "
                  "d = Path(sys.argv[1]); record.update(d, **environment.write(d)); environment.record_imported(d)")
        inside = henryvc_cli(project, "docker", "run", "--image", tag, "--", "python", "-c", script,
                             f"training_runs/{name}")
        assert inside.returncode == 0, inside.stdout + inside.stderr
        recorded = json.loads((project.run_dir(name) / "environment.json").read_text())
        assert recorded["image"]["image_id"] == image_id
        sh(project.root, "git", "add", f"training_runs/{name}")
        tagged = henryvc_cli(project, "tag-run", name)
        assert tagged.returncode == 0, tagged.stdout + tagged.stderr

        # Another machine's engine: the image is gone, and the archive is only in the DVC cache.
        engine.images.remove(image_id, force=True)
        with pytest.raises(docker.errors.ImageNotFound):
            engine.images.get(image_id)
        (project.root / archive).unlink()

        recreated = henryvc_cli(project, "docker", "recreate", name, "--json")
        assert engine.images.get(image_id).id == image_id  # loaded back: the very image that was saved
        assert "was made in another environment" not in recreated.stderr, recreated.stderr  # checked inside it
        report = json.loads(recreated.stdout)
        assert report["image"] == image_id and report["drift"] == []
        assert (Path(report["worktree"]) / "training_runs" / name).is_dir()  # it went on: restored, then ran
        assert report["exit_code"] == 127 and recreated.returncode == 1  # `dvc repro` is not in the lite image
    finally:
        for ref in (image_id, tag):  # the test's own image only
            try:
                engine.images.remove(ref, force=True)
            except docker.errors.APIError:
                pass
