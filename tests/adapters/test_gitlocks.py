"""henryvc.adapters.gitlocks: a lock a killed git left is removed and git works again; a lock a live process
holds, or a git process working in the repository, is a NotReady refusal that removes nothing."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from henryvc.adapters.gitlocks import clear_stale_locks, drop_half_made_worktrees
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


def half_made(repo, tear: dict[str, str]) -> tuple[Path, Path]:
    """A worktree entry as a `git worktree add` SIGKILLed at some step leaves it: git's own add, then
    TEAR's files of .git/worktrees/wt rewritten (as git had them at that step) and the checkout gone."""
    root = Path(repo.working_tree_dir)
    folder = root / ".henryvc" / "restore" / "wt"
    sh(root, "git", "worktree", "add", "--detach", "--quiet", str(folder), "HEAD")
    entry = git_dir(repo) / "worktrees" / "wt"
    (entry / "locked").write_text("initializing\n")
    (entry / "index").unlink()
    for name, text in tear.items():
        (entry / name).write_text(text)
    for path in folder.iterdir():
        if path.name != ".git":
            path.unlink()
    return entry, folder


@pytest.mark.parametrize("tear", [{"commondir": "", "HEAD": ""}, {"HEAD": "0" * 40 + "\n"}, {"gitdir": ""}],
                         ids=["commondir-empty", "head-null", "gitdir-empty"])
def test_a_worktree_entry_a_killed_add_left_half_made_is_dropped_and_the_path_can_be_added_again(repo, tear):
    entry, folder = half_made(repo, tear)
    root = Path(repo.working_tree_dir)
    listed = sh(root, "git", "worktree", "list", "--porcelain", check=False)
    fsck = sh(root, "git", "fsck", "--no-dangling", check=False)
    if tear.get("gitdir") != "":  # git alone is stuck (an empty gitdir only leaves an entry git skips)
        assert listed.returncode != 0 or fsck.returncode != 0 or "0" * 40 in listed.stdout
    assert drop_half_made_worktrees(repo) == [str(folder) if tear.get("gitdir") != "" else "wt"]
    assert not entry.exists() and sh(root, "git", "fsck", "--no-dangling").returncode == 0
    if tear.get("gitdir") == "":
        shutil.rmtree(folder)  # gitdir named no folder: git wrote the worktree's .git only after it
    assert not folder.exists()
    sh(root, "git", "worktree", "add", "--detach", "--quiet", str(folder), "HEAD")
    assert (folder / "a.txt").exists()


def test_an_entry_whose_checkout_was_cut_short_is_kept_for_complete_worktree(repo):
    entry, folder = half_made(repo, {})  # HEAD names the commit: only the files are missing
    assert drop_half_made_worktrees(repo) == []
    assert entry.exists() and (folder / ".git").exists()


def test_a_half_made_entry_is_left_while_a_git_process_works_in_the_repository(repo):
    entry, _ = half_made(repo, {"commondir": ""})
    worker = subprocess.Popen(["git", "hash-object", "--stdin"], cwd=repo.working_tree_dir,
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.1)
        assert drop_half_made_worktrees(repo) == []
        assert entry.exists()
    finally:
        worker.communicate(b"")
