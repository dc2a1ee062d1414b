"""Watching runs on real projects: tensorboard and status (logs and doctor: tests/ops/test_logs.py, test_doctor.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

from tests.helpers.cli import run_cli
from tests.helpers.lifecycle import HENRYVC, run_with_status, training


def test_tensorboard_serves_the_chosen_runs(project):
    import tensorboard  # noqa: F401  (pinned in the train extra: missing is a failure, never a skip)
    a = run_with_status(project, "success", seed=1)
    b = run_with_status(project, "failed", seed=2)
    result = run_cli(project.root, "tensorboard", "--print")
    assert result.exit_code == 0, result.output
    assert f"{a}:training_runs/{a}/tensorboard,{b}:training_runs/{b}/tensorboard" in result.output
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([*HENRYVC, "tensorboard", a, "--port", str(port)], cwd=project.root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline, answer = time.monotonic() + 120, None
        while answer is None and time.monotonic() < deadline and server.poll() is None:
            try:
                answer = urllib.request.urlopen(f"http://localhost:{port}/data/runs", timeout=5).read()
            except OSError:
                time.sleep(0.5)
        assert answer is not None, "TensorBoard did not answer"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_status_lists_a_training_run(project):
    done = run_with_status(project, "success", seed=1)
    busy = run_with_status(project, "training", seed=2)
    (project.run_dir(busy) / "training_v2.log").write_text("INFO step 1\nINFO step 2: loss 1.23\n")
    with training(project.run_dir(busy)):
        result = run_cli(project.root, "status", "--json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert data["training"] == [busy]
        runs = {r["name"]: r for r in data["runs"]}
        assert runs[busy]["last_log_line"] == "INFO step 2: loss 1.23" and not runs[done]["training"]
        assert runs[done]["bytes"] > 2 * 131072 and runs[done]["files"] >= 7
        assert data["cache_bytes"] > 0 and data["disk"]["project"]["free"] > 0 and data["cpu"]["cpus"] >= 1
        human = run_cli(project.root, "status").output
        assert f"training now: {busy}" in human and "DVC cache:" in human
    assert json.loads(run_cli(project.root, "status", "--json").output)["training"] == []
