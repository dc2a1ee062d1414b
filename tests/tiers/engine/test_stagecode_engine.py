"""In the container, stage_code/ points at the image's own packages and the host's links stay (engine tier)."""

from __future__ import annotations

import os

import pytest

from henryvc.core import codeid
from henryvc.ops import dockerrun

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("user", [None, "4242:4242"], ids=["owner", "non-root"])
def test_links_in_the_container_point_at_the_image_packages(project, engine, henryvc_lite_image, user):
    host_links = {p.name: os.readlink(p) for p in (project.root / "stage_code").iterdir()}
    assert host_links["henryvc_training"] == str(codeid.package_dirs()["henryvc_training"])
    out: list[str] = []
    code = dockerrun.run(project.root, henryvc_lite_image,
                         ["sh", "-c", "readlink stage_code/henryvc stage_code/henryvc_training && "
                                      "test -f stage_code/henryvc_training/train.py && "
                                      "python -m henryvc.core.recreation --check /tmp"],  # a folder with no lock
                         user=user, on_output=out.append, client=engine)
    text = "".join(out)
    assert code == 0, text
    assert text.split() == ["/opt/hv/henryvc", "/opt/hv/henryvc_training", "null"]
    # The host's links are untouched (the container wrote its own on a tmpfs over the folder).
    assert {p.name: os.readlink(p) for p in (project.root / "stage_code").iterdir()} == host_links
