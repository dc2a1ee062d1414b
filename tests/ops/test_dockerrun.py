"""henryvc.ops.dockerrun without an engine: no answer on the Docker API is exit 1 naming the address and how to
start one, before the project's stage_code/ is touched. A real run in an image (links to the image's own packages,
the host's left alone): tests/tiers/engine/test_stagecode_engine.py."""

from __future__ import annotations

import socket

import pytest

from henryvc.adapters import container
from henryvc.errors import EngineUnavailable
from henryvc.ops import dockerrun


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends: nothing listens there


@pytest.mark.parametrize("url", ["unix:///nonexistent/henryvc-test/docker.sock", "tcp://127.0.0.1:{port}"])
def test_no_engine_is_a_clear_failure_before_anything_is_made(tmp_path, monkeypatch, url):
    url = url.format(port=_closed_port())
    monkeypatch.setenv("DOCKER_HOST", url)
    with pytest.raises(EngineUnavailable) as raised:
        dockerrun.run(tmp_path, "henryvc:latest", ["true"])
    assert raised.value.exit_code == 1
    assert f"no container engine at {url}" in str(raised.value) and container.ENGINE_HINT in str(raised.value)
    assert list(tmp_path.iterdir()) == []  # no stage_code/ mount point made for a run that never started
