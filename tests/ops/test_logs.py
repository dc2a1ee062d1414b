"""henryvc.ops.logs on real projects: `logs` prints, tails and follows a run's training_v2.log (appends, rotation,
truncation, a submitted run's worktree) and never reads through a link out; `tensorboard`'s one command over the
chosen runs, refused when there is nothing to show or a folder leads out."""

from __future__ import annotations

import io
import os
import select
import signal
import subprocess
import sys
import time

import pytest

from henryvc import api
from henryvc.errors import NotReady
from henryvc.ops import logs, submit
from tests.helpers.cli import run_cli
from tests.helpers.lifecycle import HENRYVC, run_with_status

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


@pytest.mark.parametrize("text, lines, tail", [
    (b"a\nb\nc\n", 2, b"b\nc\n"),
    (b"a\nb\nc\n", 0, b""),
    (b"a\nb\nc\n", 10, b"a\nb\nc\n"),  # more lines asked than there are: all of them
    (b"a\nb\nc", 1, b"c"),  # a last line still being written counts
    (b"a\nb\n", None, b"a\nb\n"),  # None: from the start
    (b"".join(b"line %d\n" % i for i in range(5000)), 3, b"line 4997\nline 4998\nline 4999\n"),  # past one block
])
def test_tail_start_seeks_to_the_last_lines(text, lines, tail):
    handle = io.BytesIO(text)
    logs.tail_start(handle, lines)
    assert handle.read() == tail


def test_follow_reads_a_truncated_log_again_from_its_start(project):
    name = new_run(project)
    log = project.run_dir(name) / "training_v2.log"
    log.write_text("a long first line of the old log\n")
    chunks: list[str] = []
    for chunk in logs.read_log(project, name, follow=True, stop=lambda: len(chunks) >= 2, poll_s=0.01):
        chunks.append(chunk)
        if len(chunks) == 1:
            log.write_text("new\n")  # truncated in place (shorter than what was read), then written
    assert chunks == ["a long first line of the old log\n", "new\n"]


def test_a_submitted_runs_log_is_read_in_its_job_worktree(project):
    name = "henry_v2_debug_20200101_000000"
    folder = submit.worktree_of(project, name) / "training_runs" / name
    folder.mkdir(parents=True)
    (folder / "training_v2.log").write_text("from the job\n")
    assert logs.log_path(project, name) == folder / "training_v2.log"
    assert "".join(logs.read_log(project, name)) == "from the job\n"


def test_tensorboard_spans_the_runs_with_event_folders_and_refuses_links_out(project, tmp_path):
    with pytest.raises(NotReady, match="no run in training_runs/ has a tensorboard/ folder"):
        logs.tensorboard(project, [])
    trained = run_with_status(project, "success", seed=1)
    fresh = new_run(project)  # no tensorboard/ yet: left out unless named
    launch = logs.tensorboard(project, [], port=6123)
    assert launch.runs == [trained] and launch.cwd == str(project.root) and launch.url == "http://localhost:6123/"
    spec = launch.argv[launch.argv.index("--logdir_spec") + 1]
    assert spec == f"{trained}:training_runs/{trained}/tensorboard"
    assert launch.argv[-4:] == ["--port", "6123", "--host", "localhost"]
    assert logs.tensorboard(project, [trained, fresh]).runs == [trained, fresh]
    (tmp_path / "elsewhere").mkdir()
    (project.run_dir(fresh) / "tensorboard").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(NotReady, match="symlink"):
        logs.tensorboard(project, [fresh])
