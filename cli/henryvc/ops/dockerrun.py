"""`henryvc docker run`: a command in the henryvc image on this project, the stage code linked to the image's
own packages (henryvc.core.stagecode.in_container), so that `dvc repro` there runs and hashes the image's code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from henryvc.adapters import container
from henryvc.core import stagecode


def run(root: Path, image: str, command: list[str] | None = None, client: Any = None, **options: Any) -> int:
    """Run COMMAND (default: the image's, `dvc repro`) in IMAGE on project ROOT; its exit code.

    OPTIONS: henryvc.adapters.container.run's gpus, env, user, shm_size, on_output."""
    client = client or container.connect()
    podman = container.podman_version(client) is not None
    tmpfs, wrapped = stagecode.in_container(root, container.PROJECT_MOUNT, command, podman)
    return container.run(root, image, wrapped, client=client, tmpfs=tmpfs, **options)
