"""`henryvc docker run --gpus all` asks the engine for the GPUs through the Docker API's device requests.

Fast tier: the request object and the host config the docker SDK sends. Engine tier (`-m engine`): the
request as the real engine receives it, on a machine without a GPU. Docker keeps the request in the
created container's HostConfig.DeviceRequests (read back before starting it). Podman before 5.4
accepts device requests and drops them (containers/podman#25171), so henryvc refuses --gpus all there
with one line instead of training on the CPU unannounced; Podman >= 5.4 gets the CDI form.
"""

from __future__ import annotations

import subprocess
import sys

import docker
import pytest

from henryvc.adapters import container
from henryvc.errors import HenryvcError
from tests.helpers.container import BASE_IMAGE, henryvc, unavailable

NVIDIA_REQUEST = {"Driver": "", "Count": -1, "DeviceIDs": [], "Capabilities": [["gpu"]], "Options": {}}


def test_gpus_all_is_docker_run_gpus_all():
    [request] = container.device_requests("all")
    assert dict(request) == NVIDIA_REQUEST
    assert container.device_requests("none") == []
    # What the SDK puts on the wire for containers.create(device_requests=...):
    host_config = docker.APIClient(base_url="unix:///nonexistent", version="1.41").create_host_config(
        device_requests=container.device_requests("all"))
    assert host_config["DeviceRequests"] == [NVIDIA_REQUEST]


@pytest.fixture
def base_image(engine) -> str:
    try:
        return engine.images.get(BASE_IMAGE).id
    except docker.errors.ImageNotFound:
        unavailable(f"base image {BASE_IMAGE} is not in the engine")


def _henryvc_containers(engine, root) -> list:
    return engine.containers.list(all=True, filters={"label": f"henryvc.core.project={root.resolve()}"})


@pytest.mark.engine
def test_gpus_all_request_as_the_engine_receives_it(engine, base_image, tmp_path):
    version = container.podman_version(engine)
    if version is not None and version < container.PODMAN_CDI_SINCE:
        with pytest.raises(HenryvcError, match=r"Podman .* ignores GPU requests"):
            container.create(tmp_path, base_image, ["true"], gpus="all", client=engine)
        assert _henryvc_containers(engine, tmp_path) == []  # refused before anything was created
        # --gpus none is still created there, with no device request.
        plain = container.create(tmp_path, base_image, ["true"], gpus="none", client=engine)
        try:
            assert not plain.attrs["HostConfig"].get("DeviceRequests")
        finally:
            plain.remove(force=True)
        return
    try:
        created = container.create(tmp_path, base_image, ["true"], gpus="all", client=engine)
    except docker.errors.APIError as exc:  # Podman >= 5.4 without a CDI spec for the GPU on this machine
        assert version is not None and "nvidia.com/gpu=all" in str(exc)
        return
    try:
        created.reload()
        requests = created.attrs["HostConfig"].get("DeviceRequests")
        if version is None:
            assert [{k: r.get(k) for k in ("Count", "Capabilities")} for r in requests] == \
                [{"Count": -1, "Capabilities": [["gpu"]]}]
        else:
            assert any("nvidia.com/gpu=all" in (r.get("DeviceIDs") or []) for r in requests or []), requests
    finally:
        created.remove(force=True)


@pytest.mark.engine
def test_cli_gpus_all_on_old_podman_is_one_line_and_exit_1(engine, owned_dir):
    version = container.podman_version(engine)
    if version is None or version >= container.PODMAN_CDI_SINCE:
        pytest.skip("the engine honours GPU requests; test_gpus_all_request_as_the_engine_receives_it checks them")
    project = owned_dir / "p"
    project.mkdir()
    for args in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"]):
        subprocess.run(args, cwd=project, check=True)
    done = henryvc("docker", "run", "--gpus", "all", "--image", BASE_IMAGE, "--", "true", cwd=project,
                   home=owned_dir / "home")
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert "ignores GPU requests" in line and "containers/podman#25171" in line
    assert _henryvc_containers(engine, project) == []
