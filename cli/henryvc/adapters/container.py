"""The container: build the henryvc image and run commands in it through the Docker API.

Everything goes through the `docker` SDK (Docker, or Podman's Docker-compatible service), never the
docker CLI. Nothing here prints: output is handed to an `on_output` callback.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from henryvc.errors import BadInput, EngineUnavailable, HenryvcError

OutputCallback = Callable[[str], None]

DEFAULT_TAG = "henryvc:latest"
# Keep in step with ARG BASE_IMAGE in the Dockerfile (shown in `henryvc docker build --help`).
DEFAULT_BASE_IMAGE = "nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04"
DEFAULT_ENGINE = "unix:///var/run/docker.sock"
PROJECT_MOUNT = "/project"
# Data loaders share batches through /dev/shm; Docker's 64 MB default kills workers. It is a tmpfs
# limit, not an allocation, so a generous value costs nothing.
SHM_SIZE = "8g"
CA_BUNDLE_NAME = "build-ca.pem"  # the name the Dockerfile looks for in the build context
GPU_CHOICES = ("all", "none")
# The run's environment that matters inside: henryvc and DVC settings, device selection, thread
# counts and seeds that change results, model caches.
PASSTHROUGH_PREFIXES = ("HENRYVC_", "DVC_", "CUDA_", "NVIDIA_", "TORCH_", "HF_", "COQUI_", "TTS_")
PASSTHROUGH_NAMES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG", "TZ")
ENGINE_HINT = "start Docker, or run scripts/container_engine.sh and export the DOCKER_HOST it prints"


@dataclass
class BuildResult:
    """An image built by build_image."""

    tag: str
    image_id: str
    size_bytes: int
    build_args: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def engine_url() -> str:
    """The Docker API address henryvc talks to ($DOCKER_HOST, else Docker's default socket)."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_ENGINE


def connect() -> Any:
    """A docker.DockerClient that answered a ping, or EngineUnavailable saying how to start one."""
    import docker
    import requests

    url = engine_url()
    try:
        client = docker.DockerClient(base_url=url, timeout=15)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EngineUnavailable(f"no container engine at {url} ({reason[:120]}): {ENGINE_HINT}") from None
    # Builds and runs stay silent for longer than any sensible read timeout (pip, a training epoch).
    client.api.timeout = None
    return client


def git_commit(root: Path) -> str:
    """HEAD of ROOT, with "-dirty" when tracked files differ from it; "unknown" outside git."""
    from henryvc.adapters import gitrepo

    return gitrepo.describe_head(root)


def context_root(project_root: Path) -> Path:
    """Where the Dockerfile is: the project itself when it has one (the henryvc repository as a
    project), else the henryvc source tree this henryvc runs from (projects made by `henryvc init`)."""
    from henryvc.paths import SOURCE_ROOT

    for candidate in (Path(project_root), SOURCE_ROOT):
        if (candidate / "Dockerfile").is_file():
            return candidate
    raise BadInput(f"no Dockerfile in {project_root} or in henryvc's source {SOURCE_ROOT}: "
                   "reinstall henryvc from its repository (pip install -e .)")


def dockerignore_patterns(root: Path) -> list[str]:
    """The patterns of ROOT/.dockerignore (comments and blank lines dropped)."""
    path = root / ".dockerignore"
    if not path.exists():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def build_context(root: Path, ca_bundle: Path | None = None) -> Any:
    """The build context of ROOT as an uncompressed tar file object (.dockerignore applied).

    A CA bundle is added as build-ca.pem, so builds behind a TLS-intercepting proxy need no file
    copied into the project.
    """
    from docker.utils import build as docker_build

    if not (root / "Dockerfile").is_file():
        raise BadInput(f"{root} has no Dockerfile: run henryvc docker build from the project root")
    files = sorted(docker_build.exclude_paths(str(root), dockerignore_patterns(root), dockerfile="Dockerfile"))
    extra = None
    if ca_bundle is not None:
        try:
            pem = Path(ca_bundle).read_text(encoding="utf-8")
        except OSError as exc:
            raise BadInput(f"cannot read CA bundle {ca_bundle}: {exc.strerror}") from None
        files = [f for f in files if f != CA_BUNDLE_NAME]
        extra = [(CA_BUNDLE_NAME, pem)]
    return docker_build.create_archive(str(root), files=files, gzip=False, extra_files=extra)


def build_args_for(root: Path, base_image: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The build arguments: the git commit recorded in the image, the base, and any given ones."""
    args = {"GIT_COMMIT": git_commit(root)}
    if base_image:
        args["BASE_IMAGE"] = base_image
    # An empty value means "not given": the Dockerfile would otherwise see an empty index URL.
    args.update({k: v for k, v in (extra or {}).items() if v})
    return args


def build_image(root: Path, tag: str = DEFAULT_TAG, platform: str | None = None,
                base_image: str | None = None, build_args: dict[str, str] | None = None,
                ca_bundle: Path | None = None, on_output: OutputCallback | None = None,
                client: Any = None, target: str | None = None) -> BuildResult:
    """Build ROOT's Dockerfile into TAG (up to stage TARGET when given), streaming the log to ON_OUTPUT."""
    client = client or connect()
    args = build_args_for(root, base_image, build_args)
    context = build_context(root, ca_bundle)
    last_error = None
    try:
        for chunk in client.api.build(fileobj=context, custom_context=True, tag=tag, buildargs=args,
                                      platform=platform, target=target, rm=True, forcerm=True, pull=False,
                                      decode=True):
            if "error" in chunk:
                last_error = chunk.get("error", "").strip()
            text = chunk.get("stream") or chunk.get("status")
            if text and on_output:
                on_output(text)
    finally:
        context.close()
    if last_error:
        raise HenryvcError(f"image build failed: {last_error}")
    image = client.images.get(tag)
    return BuildResult(tag, image.id, int(image.attrs.get("Size") or 0), args)


def passthrough_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The part of ENVIRON (default: this process's) that a run inside the container must see."""
    source = os.environ if environ is None else environ
    return {k: v for k, v in source.items()
            if k.startswith(PASSTHROUGH_PREFIXES) or k in PASSTHROUGH_NAMES}


def _git_common_dir(root: Path) -> Path | None:
    from henryvc.adapters import gitrepo

    return gitrepo.common_dir(root)


def _dvc_cache_dir(root: Path) -> Path | None:
    if not (root / ".dvc").is_dir():
        return None
    from henryvc.adapters import dvcrepo

    try:
        return dvcrepo.cache_dir(root)
    except Exception:  # a broken DVC config is for `dvc` inside the container to report
        return None


def _outside(path: Path | None, root: Path) -> bool:
    return path is not None and path != root and root not in path.parents


def mounts_for(root: Path) -> list[Any]:
    """Bind mounts: ROOT at /project, plus git and DVC-cache folders that live outside it.

    A restored snapshot is a git worktree whose .git file and DVC cache.dir name absolute host paths
    in the main project; those are mounted at the same paths so both resolve inside, and the cache is
    shared rather than copied.
    """
    from docker.types import Mount

    root = root.resolve()
    mounts = [Mount(PROJECT_MOUNT, str(root), type="bind")]
    seen = {root}
    for extra in (_git_common_dir(root), _dvc_cache_dir(root)):
        if extra is None:
            continue
        extra = extra.resolve()
        if _outside(extra, root) and extra not in seen and extra.is_dir():
            mounts.append(Mount(str(extra), str(extra), type="bind"))
            seen.add(extra)
    return mounts


def owner(root: Path) -> str:
    """uid:gid owning ROOT: what the container runs as, so files it writes belong to the project's owner.

    That is the host user in the normal case, and still right when root (CI, sudo) drives a project
    that a user owns.
    """
    st = Path(root).stat()
    return f"{st.st_uid}:{st.st_gid}"


def device_requests(gpus: str) -> list[Any]:
    """The Docker device requests for --gpus all|none (what `docker run --gpus all` sends)."""
    if gpus not in GPU_CHOICES:
        raise BadInput(f"--gpus must be one of {', '.join(GPU_CHOICES)}, got {gpus!r}")
    if gpus == "none":
        return []
    from docker.types import DeviceRequest

    return [DeviceRequest(count=-1, capabilities=[["gpu"]])]


# Podman's Docker API accepts device requests but drops them before 5.4 (containers/podman#25171): the
# container would start without a GPU and train on the CPU without a word. From 5.4 it honours CDI ones.
PODMAN_CDI_SINCE = (5, 4)


def podman_version(client: Any) -> tuple[int, ...] | None:
    """The Podman version behind CLIENT's Docker API, None for Docker."""
    for component in client.version().get("Components") or []:
        if "podman" in str(component.get("Name", "")).lower():
            return tuple(int(p) for p in re.findall(r"\d+", str(component.get("Version", "")))[:3])
    return None


def engine_device_requests(client: Any, gpus: str) -> list[Any]:
    """device_requests for the engine behind CLIENT: Docker's as is, Podman >= 5.4 the CDI form
    (nvidia.com/gpu=all); an older Podman cannot give a container GPUs over this API, which is an error."""
    requests = device_requests(gpus)
    if not requests:
        return []
    version = podman_version(client)
    if version is None:
        return requests
    if version < PODMAN_CDI_SINCE:
        shown = ".".join(map(str, version))
        raise HenryvcError(f"--gpus all: Podman {shown}'s Docker API ignores GPU requests (fixed in 5.4, "
                           "containers/podman#25171), so the container would run on the CPU; use Docker with the "
                           "NVIDIA Container Toolkit, or Podman >= 5.4 with a CDI spec (nvidia-ctk cdi generate)")
    from docker.types import DeviceRequest

    return [DeviceRequest(driver="cdi", device_ids=["nvidia.com/gpu=all"])]


def _stream(chunks: Iterable[bytes], on_output: OutputCallback | None) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for chunk in chunks:
        text = decoder.decode(chunk)
        if text and on_output:
            on_output(text)
    tail = decoder.decode(b"", final=True)
    if tail and on_output:
        on_output(tail)


def image_id_of(client: Any, image: str, error: type[HenryvcError] = BadInput) -> str:
    """The id of IMAGE in the engine; ERROR (default BadInput, exit 2) naming the build command when absent."""
    import docker

    try:
        return str(client.images.get(image).id)
    except docker.errors.ImageNotFound:
        raise error(f"no image {image}: build it with `henryvc docker build --tag {image}`") from None


def create(root: Path, image: str = DEFAULT_TAG, command: list[str] | None = None, gpus: str = "none",
           env: dict[str, str] | None = None, user: str | None = None, shm_size: str = SHM_SIZE, client: Any = None,
           tmpfs: dict[str, str] | None = None) -> Any:
    """The container `run` starts, created but not started (its HostConfig shows what was requested).

    TMPFS: HostConfig.Tmpfs (path -> options), e.g. henryvc.core.stagecode's links made inside the image."""
    root = Path(root).resolve()
    device_requests(gpus)  # bad input before any engine is asked
    client = client or connect()
    devices = engine_device_requests(client, gpus)
    image_id = image_id_of(client, image, HenryvcError)
    environment = {**passthrough_env(), **(env or {}), "HENRYVC_IMAGE_ID": image_id}
    return client.containers.create(
        image_id, command=command, working_dir=PROJECT_MOUNT, user=user or owner(root),
        environment=environment, mounts=mounts_for(root), tmpfs=tmpfs, shm_size=shm_size,
        device_requests=devices or None, labels={"henryvc.project": str(root)})


def run(root: Path, image: str = DEFAULT_TAG, command: list[str] | None = None, gpus: str = "none",
        env: dict[str, str] | None = None, user: str | None = None, shm_size: str = SHM_SIZE,
        on_output: OutputCallback | None = None, client: Any = None, tmpfs: dict[str, str] | None = None) -> int:
    """Run COMMAND (default: the image's, `dvc repro`) in IMAGE on project ROOT; return its exit code."""
    container = create(root, image, command, gpus, env, user, shm_size, client, tmpfs)
    try:
        container.start()
        _stream(container.logs(stream=True, follow=True), on_output)
        return int(container.wait().get("StatusCode", 1))
    except KeyboardInterrupt:
        container.stop(timeout=10)
        raise
    finally:
        container.remove(force=True)
