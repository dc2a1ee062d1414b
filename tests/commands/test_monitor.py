"""Watching runs on real projects: logs (and -f against a real writer process), tensorboard, status, doctor."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from henryvc import api
from henryvc.ops import logs
from tests.helpers.cli import run_cli
from tests.helpers.lifecycle import HENRYVC, run_with_status, training
from tests.helpers.project import dvc

WRITER = """\
import os, pathlib, sys, time
log, go = sys.argv[1], pathlib.Path(sys.argv[2])
for i in range(20):
    with open(log, "a") as handle:
        handle.write(f"line {i}\\n")
    time.sleep(0.05)
while not go.exists():  # rotate only once the follower has shown every line of the first file
    time.sleep(0.01)
with open(log + ".new", "w") as handle:  # rotation: a new file replaces the old one
    handle.write("rotated 0\\n")
os.replace(log + ".new", log)
for i in range(1, 20):
    with open(log, "a") as handle:
        handle.write(f"rotated {i}\\n")
    time.sleep(0.05)
"""


def new_run(project) -> str:
    return api.new_run(project, 2, "debug").name


def read_until(stream, needle: str, timeout: float) -> str:
    """Read STREAM (a pipe) until NEEDLE appears or TIMEOUT seconds pass."""
    seen, deadline = "", time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.2)
        if ready:
            chunk = os.read(stream.fileno(), 65536).decode()
            if not chunk:
                break
            seen += chunk
    return seen


def test_logs_prints_tails_and_explains(project):
    name = new_run(project)
    log = project.run_dir(name) / "training_v2.log"
    result = run_cli(project.root, "logs", name)
    assert result.exit_code == 1 and "does not exist yet" in result.output
    log.write_text("".join(f"2026-11-24 10:00:0{i} INFO     henryvc.training: step {i}\n" for i in range(6)))
    assert run_cli(project.root, "logs", name).output == log.read_text()
    tail = run_cli(project.root, "logs", name, "-n", "2").output.splitlines()
    assert [line.rsplit(" ", 1)[1] for line in tail] == ["4", "5"]
    assert run_cli(project.root, "logs", "henry_v2_debug_20200101_000000").exit_code == 2
    assert run_cli(project.root, "logs", "../../etc/passwd").exit_code == 2


def test_logs_follow_a_file_another_process_appends(project, tmp_path):
    name = new_run(project)
    log = project.run_dir(name) / "training_v2.log"
    # stderr to a file, not an undrained pipe: a follower that fills a pipe nobody reads blocks (and cannot
    # even print its Ctrl-C line); CI once saw this test's follower not end within 30 s of SIGINT.
    errors = tmp_path / "follower.stderr"
    with open(errors, "wb") as err:
        follower = subprocess.Popen([*HENRYVC, "logs", name, "-f"], cwd=project.root, stdout=subprocess.PIPE,
                                    stderr=err)
    go = project.root / "rotate-now"
    seen = ""
    try:
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(log), str(go)])
        seen = read_until(follower.stdout, "line 19\n", timeout=60)
        go.touch()
        seen += read_until(follower.stdout, "rotated 19", timeout=60)
        writer.wait(timeout=30)
    finally:
        follower.send_signal(signal.SIGINT)
        try:
            code = follower.wait(timeout=30)
        except subprocess.TimeoutExpired:
            follower.kill()
            raise AssertionError(f"the follower did not end after SIGINT; it printed {seen[-500:]!r}, "
                                 f"stderr {errors.read_text()[-2000:]!r}") from None
    lines = seen.splitlines()
    assert lines[:20] == [f"line {i}" for i in range(20)]
    assert lines[20:] == [f"rotated {i}" for i in range(20)]
    assert code == 130  # Ctrl-C is how -f ends


def test_read_log_follow_stops_when_asked(project):
    name = new_run(project)
    log = project.run_dir(name) / "training_v2.log"
    log.write_text("first\n")
    chunks = []
    for chunk in logs.read_log(project, name, follow=True, stop=lambda: len(chunks) >= 2, poll_s=0.01):
        chunks.append(chunk)
        if len(chunks) == 1:
            with log.open("a") as handle:
                handle.write("second\n")
    assert "".join(chunks) == "first\nsecond\n"


def test_logs_never_read_through_a_symlink_out(project, tmp_path):
    name = new_run(project)
    secret = tmp_path / "secret.txt"
    secret.write_text("do not print me\n")
    (project.run_dir(name) / "training_v2.log").symlink_to(secret)
    result = run_cli(project.root, "logs", name)
    assert result.exit_code == 1 and "outside the project" in result.output
    assert "do not print me" not in result.output


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


def test_doctor_reports_a_broken_config_and_an_unreachable_remote_with_fixes(project, tmp_path):
    result = run_cli(project.root, "doctor", "--json")
    report = json.loads(result.output)
    assert {c["name"]: c["level"] for c in report["checks"] if c["name"] in ("remote", "config")} == {
        "remote": "ok", "config": "ok"}

    name = run_with_status(project, "training", seed=1)  # killed mid-training: nothing holds its lock
    (project.root / "configs" / "henry_voice_v2_debug.json").write_text('{"model": "tacotron2",,}')
    dvc(project.root, "remote", "modify", "storage", "url", str(tmp_path / "unplugged-disk" / "henry"))
    dvc(project.root, "remote", "add", "far", "ssh://127.0.0.1:1/srv/henry")
    result = run_cli(project.root, "doctor", "--json")
    assert result.exit_code == 1
    checks = json.loads(result.output)["checks"]
    [config] = [c for c in checks if c["name"] == "config" and c["level"] == "error"]
    assert "henry_voice_v2_debug.json" in config["detail"] and "JSON syntax" in config["detail"] and config["fix"]
    remotes = {c["detail"].split()[2]: c for c in checks if c["name"] == "remote"}
    assert remotes["storage"]["level"] == "error" and "does not exist" in remotes["storage"]["detail"]
    assert "mount" in remotes["storage"]["fix"]
    assert remotes["far"]["level"] == "error" and "ssh -o BatchMode=yes -p 1 127.0.0.1 true" in remotes["far"]["fix"]
    assert any(c["name"] == "runs" and name in c["detail"] for c in checks)
    human = run_cli(project.root, "doctor").output
    assert "fix:" in human and "error" in human
