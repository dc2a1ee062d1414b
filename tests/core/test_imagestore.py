"""henryvc.core.imagestore's pure parts: an image archive's path is content-addressed by the image id (one form
for "sha256:<hex>" and bare hex, anything else refused) and a stored image reports as plain data. Saving into
DVC and loading back from the remote need the container engine: tests/tiers/engine/test_imagestore.py."""

from __future__ import annotations

import json

import pytest

from henryvc.core import imagestore
from henryvc.errors import HenryvcError

HEX = "0123456789abcdef" * 4


def test_both_forms_of_an_id_give_one_archive_in_the_images_folder():
    assert imagestore.archive_path(f"sha256:{HEX}") == imagestore.archive_path(HEX) == f"images/{HEX}.tar"
    assert imagestore.archive_path(HEX).split("/")[0] == imagestore.FOLDER


@pytest.mark.parametrize("image_id", [
    "henryvc:latest",  # a tag is no content address
    HEX[:-1],  # one digit short
    HEX + "0",  # one digit long
    HEX.upper(),  # the engine writes lowercase hex; another spelling would store the image twice
    "sha256:" + HEX[:-1] + "g",
    "sha256:../../" + HEX[6:],  # never a path out of images/
    "",
])
def test_anything_but_a_sha256_image_id_is_refused(image_id):
    with pytest.raises(HenryvcError, match="not an image id"):
        imagestore.archive_path(image_id)


def test_a_stored_image_is_plain_data():
    stored = imagestore.StoredImage(f"sha256:{HEX}", imagestore.archive_path(HEX), 1234, 0.5, True)
    data = stored.to_dict()
    assert data == {"image_id": f"sha256:{HEX}", "path": f"images/{HEX}.tar", "size_bytes": 1234, "seconds": 0.5,
                    "created": True}
    assert json.loads(json.dumps(data)) == data  # what `henryvc docker build --save --json` prints
