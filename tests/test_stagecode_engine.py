"""In the container, stage_code/ points at the image's own packages and the host's links stay (engine tier)."""

from __future__ import annotations

import os
import shutil

import pytest

from henryvc import codeid, container
from tests.helpers.container import BASE_IMAGE, unavailable

pytestmark = pytest.mark.engine


@pytest.fixture
def henryvc_lite_image(engine, tmp_path):
    """The local base with henryvc's packages copied in (no dependencies: stagecode and envlock need none)."""
    import docker

    try:
        engine.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        unavailable(f"base image {BASE_IMAGE} is not in the engine")
    context = tmp_path / "context"
    for name, folder in codeid.package_dirs().items():
        shutil.copytree(folder, context / "pkgs" / name, ignore=shutil.ignore_patterns("__pycache__", "templates"))
    (context / "Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\nCOPY pkgs /opt/hv\nENV PYTHONPATH=/opt/hv\n"
        "RUN command -v python >/dev/null || ln -s \"$(command -v python3)\" /usr/local/bin/python\n")
    image, _ = engine.images.build(path=str(context), rm=True)
    yield image.id
    try:
        engine.images.remove(image.id, force=True)
    except docker.errors.APIError:
        pass


@pytest.mark.parametrize("user", [None, "4242:4242"], ids=["owner", "non-root"])
def test_links_in_the_container_point_at_the_image_packages(project, engine, henryvc_lite_image, user):
    host_links = {p.name: os.readlink(p) for p in (project.root / "stage_code").iterdir()}
    assert host_links["henryvc_training"] == str(codeid.package_dirs()["henryvc_training"])
    out: list[str] = []
    code = container.run(project.root, henryvc_lite_image,
                         ["sh", "-c", "readlink stage_code/henryvc stage_code/henryvc_training && "
                                      "test -f stage_code/henryvc_training/train.py && "
                                      "python -m henryvc.envlock --check /nonexistent"],
                         user=user, on_output=out.append, client=engine)
    text = "".join(out)
    assert code == 0, text
    assert text.split() == ["/opt/hv/henryvc", "/opt/hv/henryvc_training", "null"]
    # The host's links are untouched (the container wrote its own on a tmpfs over the folder).
    assert {p.name: os.readlink(p) for p in (project.root / "stage_code").iterdir()} == host_links
