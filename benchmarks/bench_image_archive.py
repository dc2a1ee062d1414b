"""Image archive figures (issue 12): size, `docker build --save` time, push, and the load on a machine without it.

A benchmark, not a test. In a temporary project (henryvc init, DVC remote in a sibling folder) it saves
IMAGE through henryvc.core.imagestore (image save + dvc add + commit), pushes it, then plays the other machine:
image removed from the engine (a re-tagged copy only: the original is kept), archive and DVC cache
deleted, and times imagestore.ensure_loaded (dvc pull + image load). Needs a container engine
($DOCKER_HOST, see scripts/container_engine.sh).

Example:
    python benchmarks/bench_image_archive.py --image henryvc:latest
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="localhost/henryvc-base:bookworm")
    args = parser.parse_args()
    from henryvc import api
    from henryvc.adapters import container, dvcrepo
    from henryvc.core import imagestore
    from henryvc.core.project import Project

    base = Path(tempfile.mkdtemp(prefix="bench-image-", dir=os.environ.get("TMPDIR", "/var/tmp")))
    os.environ.setdefault("GIT_AUTHOR_NAME", "bench")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "bench@henryvc.invalid")
    os.environ.setdefault("GIT_COMMITTER_NAME", "bench")
    os.environ.setdefault("GIT_COMMITTER_EMAIL", "bench@henryvc.invalid")
    try:
        (base / "project").mkdir()
        api.init(base / "project", str(base / "remote"))
        project = Project((base / "project").resolve())
        client = container.connect()
        # A copy of IMAGE with one label more: its own id, so removing it never removes IMAGE.
        dockerfile = f"FROM {args.image}\nLABEL henryvc.bench={uuid.uuid4().hex}\n".encode()
        image, _ = client.images.build(fileobj=io.BytesIO(dockerfile), rm=True)
        engine_size = int(client.images.get(args.image).attrs.get("Size") or 0)
        stored = imagestore.save(project, image.id, client)
        start = time.perf_counter()
        dvcrepo.push(project.root)
        push = time.perf_counter() - start
        client.images.remove(image.id, force=True)
        (project.root / stored.path).unlink()
        shutil.rmtree(dvcrepo.cache_dir(project.root))
        start = time.perf_counter()
        assert imagestore.ensure_loaded(project, image.id, client)
        load = time.perf_counter() - start
        client.images.remove(image.id, force=True)
        print(f"image {args.image}: {engine_size / 1e9:.2f} GB in the engine, archive {stored.size_bytes / 1e9:.2f} GB")
        print(f"save (image save + dvc add + commit): {stored.seconds:.1f} s")
        print(f"dvc push to a local remote: {push:.1f} s")
        print(f"load on a machine without it (dvc pull from the remote + image load): {load:.1f} s")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
