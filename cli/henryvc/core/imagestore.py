"""Images that travel with the data: `images/<sha256>.tar`, an image archive tracked by DVC.

`henryvc docker build --save` writes the built image with the Docker API's image save into
images/<image id hex>.tar and `dvc add`s it: content-addressed by image id, so an image is stored once
however many runs use it, and it goes wherever the runs' data goes (`dvc push`, backups). A run records
the id of the image it trained in (environment.json "image"); `henryvc docker recreate` on a machine
without that image loads it back from the DVC cache or remote (offline, no registry). Opt-in: the
training image is gigabytes.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from henryvc.errors import HenryvcError

FOLDER = "images"


@dataclass
class StoredImage:
    """An image archive in the project."""

    image_id: str
    path: str
    size_bytes: int
    seconds: float
    created: bool  # False: the archive was already stored (same image id)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def archive_path(image_id: str) -> str:
    """images/<hex>.tar for IMAGE_ID ("sha256:<hex>" or bare hex)."""
    hex_id = image_id.split(":", 1)[-1]
    if len(hex_id) != 64 or any(c not in "0123456789abcdef" for c in hex_id):
        raise HenryvcError(f"not an image id: {image_id!r}")
    return f"{FOLDER}/{hex_id}.tar"


def save(project, image: str, client) -> StoredImage:
    """Save IMAGE (tag or id) into the project as a DVC-tracked archive and commit its .dvc file."""
    from henryvc.adapters import dvcrepo, gitrepo

    found = client.images.get(image)
    rel = archive_path(found.id)
    path = project.root / rel
    if (project.root / f"{rel}.dvc").is_file():
        return StoredImage(found.id, rel, path.stat().st_size if path.exists() else 0, 0.0, False)
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tar.part")
    start = time.monotonic()
    with tmp.open("wb") as handle:
        for chunk in found.save(named=False):
            handle.write(chunk)
    tmp.replace(path)
    dvcrepo.add(project.root, [rel])
    seconds = time.monotonic() - start
    repo = gitrepo.open_git(project.root)
    gitrepo.commit_paths(repo, [f"{rel}.dvc", f"{FOLDER}/.gitignore"], f"henryvc: image {found.id[:19]}")
    return StoredImage(found.id, rel, path.stat().st_size, seconds, True)


def ensure_loaded(project, image_id: str, client) -> bool:
    """Make IMAGE_ID present in the engine, loading its archive from the DVC cache or remote when it is not;
    True when it was loaded."""
    import docker

    try:
        client.images.get(image_id)
        return False
    except docker.errors.ImageNotFound:
        pass
    from henryvc.adapters import dvcrepo

    rel = archive_path(image_id)
    if not (project.root / f"{rel}.dvc").is_file():
        raise HenryvcError(f"image {image_id[:19]} is neither in the engine nor stored in this project ({rel}.dvc): "
                           "build it again, or `henryvc docker build --save` it where it exists")
    path = project.root / rel
    if not path.is_file():
        dvcrepo.pull(project.root, targets=[f"{rel}.dvc"])  # from the cache when there, else the remote
    with path.open("rb") as handle:
        loaded = client.images.load(handle)
    if not any(image.id == image_id for image in loaded):
        raise HenryvcError(f"{rel} held {[i.id[:19] for i in loaded]}, not {image_id[:19]}")
    return True
