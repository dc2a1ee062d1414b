"""henryvc.adapters.gitlocks: a lock a killed git left is removed and git works again; a lock a live process
holds, or a git process working in the repository, is a NotReady refusal that removes nothing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from henryvc.adapters.gitlocks import clear_stale_locks
from henryvc.adapters.gitrepo import open_repo
from henryvc.errors import NotReady
from tests.helpers.project import git_repo, sh


@pytest.fixture
def repo(tmp_path):
    return open_repo(git_repo(tmp_path / "repo"))


def git_dir(repo) -> Path:
    return Path(repo.git_dir)


def test_nothing_to_clear_in_a_repository_without_locks(repo):
    assert clear_stale_locks(repo) == []


def test_a_stale_index_lock_is_removed_and_git_can_commit_again(repo):
    lock = git_dir(repo) / "index.lock"
    lock.write_text("")  # what a git killed mid-commit leaves
    root = Path(repo.working_tree_dir)
    (root / "a.txt").write_text("b\n")
    assert sh(root, "git", "commit", "-qam", "blocked", check=False).returncode != 0

    assert clear_stale_locks(repo) == [str(lock)]
    assert not lock.exists()
    assert sh(root, "git", "commit", "-qam", "works").returncode == 0


def test_stale_ref_locks_are_removed_too(repo):
    lock = git_dir(repo) / "refs" / "heads" / "main.lock"
    lock.write_text("")
    assert clear_stale_locks(repo) == [str(lock)]
    assert not lock.exists()


def test_a_lock_a_live_process_holds_open_is_refused_and_kept(repo):
    lock = git_dir(repo) / "index.lock"
    lock.write_text("")
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; f = open(sys.argv[1]); print(1, flush=True); "
                               "time.sleep(60)", str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        holder.stdout.readline()  # the file is open now
        with pytest.raises(NotReady, match="index.lock: try again when it has finished"):
            clear_stale_locks(repo)
        assert lock.exists()
    finally:
        holder.kill()
        holder.wait()
    assert clear_stale_locks(repo) == [str(lock)]  # once nobody holds it, it is stale


def test_a_git_process_working_in_the_repository_is_named_and_nothing_is_removed(repo):
    lock = git_dir(repo) / "HEAD.lock"
    lock.write_text("")
    # A real git, its cwd in the work tree, waiting for its stdin (it holds no lock file itself).
    worker = subprocess.Popen(["git", "hash-object", "--stdin"], cwd=repo.working_tree_dir,
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.1)
        with pytest.raises(NotReady, match=rf"a git process \(pid {worker.pid}\) is working in this repository"):
            clear_stale_locks(repo)
        assert lock.exists()
    finally:
        worker.communicate(b"")
