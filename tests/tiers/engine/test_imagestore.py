"""Images travel with the data: saved as images/<id>.tar tracked by DVC, loaded back from the remote (engine tier)."""

from __future__ import annotations

import io
import shutil
import uuid

import pytest

from henryvc.adapters import dvcrepo
from henryvc.core import imagestore
from henryvc.errors import HenryvcError
from tests.helpers.container import BASE_IMAGE, unavailable
from tests.helpers.project import sh

pytestmark = pytest.mark.engine


def test_archive_path_is_content_addressed():
    hex_id = "ab" * 32
    assert imagestore.archive_path(f"sha256:{hex_id}") == f"images/{hex_id}.tar" == imagestore.archive_path(hex_id)
    with pytest.raises(HenryvcError):
        imagestore.archive_path("henryvc:latest")


@pytest.fixture
def tiny_image(engine):
    """A small image of its own (a fresh label on the local base): its id, removed afterwards."""
    import docker

    try:
        engine.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        unavailable(f"base image {BASE_IMAGE} is not in the engine")
    stamp = uuid.uuid4().hex
    dockerfile = f"FROM {BASE_IMAGE}\nLABEL henryvc.test.stamp={stamp}\n".encode()
    image, _ = engine.images.build(fileobj=io.BytesIO(dockerfile), tag=f"henryvc-test-tiny:{stamp[:12]}", rm=True)
    yield image.id
    try:
        engine.images.remove(image.id, force=True)
    except docker.errors.APIError:
        pass


def test_saved_once_pushed_and_loaded_back_from_the_remote(project, engine, tiny_image):
    stored = imagestore.save(project, tiny_image, engine)
    assert stored.created and stored.path == imagestore.archive_path(tiny_image)
    assert (project.root / f"{stored.path}.dvc").is_file() and stored.size_bytes > 1_000_000
    tracked = sh(project.root, "git", "ls-files", "images").stdout.split()
    assert f"{stored.path}.dvc" in tracked and stored.path not in tracked  # git holds the pointer, DVC the bytes
    again = imagestore.save(project, tiny_image, engine)
    assert not again.created  # one archive per image id, however many runs use it
    assert imagestore.ensure_loaded(project, tiny_image, engine) is False  # present: nothing to do
    dvcrepo.push(project.root)
    # Another machine: no image in the engine, no archive in the work tree, nothing in the DVC cache.
    engine.images.remove(tiny_image, force=True)
    (project.root / stored.path).unlink()
    shutil.rmtree(dvcrepo.cache_dir(project.root))
    assert imagestore.ensure_loaded(project, tiny_image, engine) is True
    assert engine.images.get(tiny_image).id == tiny_image


def test_missing_everywhere_says_what_to_do(project, engine):
    with pytest.raises(HenryvcError, match="docker build --save"):
        imagestore.ensure_loaded(project, "sha256:" + "0" * 64, engine)
