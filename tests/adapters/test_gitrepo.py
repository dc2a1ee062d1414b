"""henryvc.adapters.gitrepo: the git verbs on real repositories: commits of only the named paths, tags that never
move, pushes that need a remote, worktrees made, repaired and removed, and what git ignores, tracks and changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from henryvc.adapters import gitrepo
from henryvc.errors import HenryvcError, NotReady, RunExists
from tests.helpers.project import sh


def git(root: Path, *args: str) -> str:
    return sh(root, "git", *args).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> gitrepo.GitRepo:
    """A repository with one commit of a.txt and b.txt."""
    repo = gitrepo.init(tmp_path / "repo")
    for name in ("a.txt", "b.txt"):
        (repo.root / name).write_text(f"{name}\n")
    sh(repo.root, "git", "add", "-A")
    sh(repo.root, "git", "commit", "-qm", "first")
    return repo


def test_init_makes_branch_main_and_reopens_an_existing_repository(tmp_path):
    repo = gitrepo.init(tmp_path / "r")
    assert repo.root == tmp_path / "r"
    assert gitrepo.head(repo) is None  # no commit yet
    assert gitrepo.has_staged_changes(repo)
    assert git(repo.root, "symbolic-ref", "HEAD") == "refs/heads/main"
    (repo.root / "x").write_text("x")
    sh(repo.root, "git", "add", "x")
    sh(repo.root, "git", "commit", "-qm", "x")
    assert gitrepo.head(gitrepo.init(tmp_path / "r")) == git(repo.root, "rev-parse", "HEAD")


def test_open_of_a_folder_outside_git_is_one_clear_error(tmp_path):
    with pytest.raises(HenryvcError, match=f"{tmp_path} is not a git work tree"):
        gitrepo.open_git(tmp_path)
    assert gitrepo.describe_head(tmp_path) == "unknown"
    assert gitrepo.common_dir(tmp_path) is None


def test_commit_paths_commits_only_its_paths_and_leaves_the_users_staging_alone(repo):
    (repo.root / "a.txt").write_text("changed by henryvc\n")
    (repo.root / "b.txt").write_text("staged by the user\n")
    sh(repo.root, "git", "add", "b.txt")

    sha = gitrepo.commit_paths(repo, ["a.txt", "missing.txt"], "henryvc: a")

    assert sha == gitrepo.head(repo)
    assert git(repo.root, "show", "--name-only", "--format=", "HEAD") == "a.txt"
    assert git(repo.root, "diff", "--cached", "--name-only") == "b.txt"  # still staged, not committed
    assert gitrepo.commit_paths(repo, ["a.txt"], "again") is None  # unchanged: no commit
    assert gitrepo.commit_paths(repo, ["missing.txt"], "nothing") is None


def test_show_ls_tree_blobs_and_commit_of_read_a_revision(repo):
    first = gitrepo.head(repo)
    (repo.root / "runs" / "r1").mkdir(parents=True)
    (repo.root / "runs" / "r1" / "run.json").write_text('{"x": 1}\n')
    sh(repo.root, "git", "add", "-A")
    sh(repo.root, "git", "commit", "-qm", "run")
    sh(repo.root, "git", "tag", "-a", "t1", "-m", "tag message")

    assert gitrepo.show(repo, first, "a.txt") == "a.txt\n"
    assert gitrepo.show(repo, first, "runs/r1/run.json") is None  # not there yet
    assert gitrepo.ls_tree(repo, "t1") == ["a.txt", "b.txt", "runs/r1/run.json"]
    mode, sha, size = gitrepo.blobs(repo, "HEAD", "runs")["runs/r1/run.json"]
    assert (mode, sha, size) == ("100644", git(repo.root, "rev-parse", "HEAD:runs/r1/run.json"), 9)
    assert gitrepo.commit_of(repo, "t1") == gitrepo.head(repo)
    assert gitrepo.tag_message(repo, "t1") == "tag message"


def test_create_tag_never_moves_an_existing_tag(repo):
    first = gitrepo.head(repo)
    gitrepo.create_tag(repo, "run_1", first, "the run")
    (repo.root / "a.txt").write_text("later\n")
    later = gitrepo.commit_paths(repo, ["a.txt"], "later")

    with pytest.raises(RunExists, match="tag run_1 already exists"):
        gitrepo.create_tag(repo, "run_1", later, "again")
    assert gitrepo.tag_exists(repo, "run_1") and not gitrepo.tag_exists(repo, "run_2")
    assert gitrepo.commit_of(repo, "run_1") == first


def test_a_lightweight_tag_has_no_message_to_read(repo):
    sh(repo.root, "git", "tag", "light")
    with pytest.raises(HenryvcError, match="tag light is not an annotated tag"):
        gitrepo.tag_message(repo, "light")


def test_pushing_tags_needs_a_remote_and_sends_them_there(repo, tmp_path):
    gitrepo.create_tag(repo, "run_1", gitrepo.head(repo), "m")
    with pytest.raises(NotReady, match="no git remote named 'origin'"):
        gitrepo.push_tag(repo, "run_1")
    assert gitrepo.push_tags(repo, ["run_1"]) is False  # not required: nothing pushed

    sh(tmp_path, "git", "init", "-q", "--bare", str(tmp_path / "remote.git"))
    sh(repo.root, "git", "remote", "add", "origin", str(tmp_path / "remote.git"))
    gitrepo.push_tag(repo, "run_1")
    assert git(tmp_path / "remote.git", "tag", "--list") == "run_1"
    assert gitrepo.push_tags(repo, []) is False


def test_a_refused_push_is_one_henryvc_error_naming_the_tag(repo, tmp_path):
    sh(tmp_path, "git", "init", "-q", "--bare", str(tmp_path / "remote.git"))
    sh(repo.root, "git", "remote", "add", "origin", str(tmp_path / "remote.git"))
    sh(repo.root, "git", "push", "-q", "origin", "main")
    remote = gitrepo.open_git(tmp_path / "remote.git")
    gitrepo.create_tag(remote, "run_2", gitrepo.head(repo), "the remote's own")
    gitrepo.create_tag(repo, "run_2", gitrepo.head(repo), "ours differs")
    with pytest.raises(HenryvcError, match="git push of tag run_2 to origin failed: .*"):
        gitrepo.push_tag(repo, "run_2")


def test_worktrees_are_added_listed_repaired_and_removed(repo, tmp_path):
    wt = tmp_path / "wt"
    gitrepo.worktree_add(repo, wt, "HEAD")
    assert gitrepo.worktrees(repo)[str(wt)] == gitrepo.head(repo)
    assert gitrepo.common_dir(wt) == (repo.root / ".git").resolve()

    (wt / "a.txt").unlink()  # a checkout a kill interrupted: a file missing, an edited one kept
    (wt / "b.txt").write_text("edited\n")
    (wt / "untracked").write_text("data\n")
    assert gitrepo.complete_worktree(wt) == ["a.txt"]
    assert (wt / "a.txt").read_text() == "a.txt\n" and (wt / "b.txt").read_text() == "edited\n"

    gitrepo.worktree_remove(repo, wt)
    assert not wt.exists() and str(wt) not in gitrepo.worktrees(repo)


def test_a_worktree_whose_checkout_never_wrote_an_index_is_checked_out_again_whole(repo, tmp_path):
    wt = tmp_path / "wt"
    gitrepo.worktree_add(repo, wt, "HEAD")
    index = Path(git(wt, "rev-parse", "--absolute-git-dir")) / "index"
    index.unlink()
    (wt / "a.txt").write_text("")  # truncated by the kill
    (wt / "data").write_text("DVC's\n")
    assert gitrepo.complete_worktree(wt) == ["a.txt", "b.txt"]
    assert (wt / "a.txt").read_text() == "a.txt\n"
    assert (wt / "data").read_text() == "DVC's\n"  # untracked files stay


def test_kept_commits_are_the_kept_tags_and_the_branches(repo):
    first = gitrepo.head(repo)
    gitrepo.create_tag(repo, "keep", first, "k")
    sh(repo.root, "git", "checkout", "-q", "-b", "side")
    (repo.root / "a.txt").write_text("side\n")
    side = gitrepo.commit_paths(repo, ["a.txt"], "side")
    sh(repo.root, "git", "checkout", "-q", "main")
    sh(repo.root, "git", "checkout", "-q", "--detach")
    (repo.root / "b.txt").write_text("dropped\n")
    dropped = gitrepo.commit_paths(repo, ["b.txt"], "only a tag holds it")
    gitrepo.create_tag(repo, "drop", dropped, "d")

    assert gitrepo.kept_commits(repo, {"keep"}) == sorted({first, side})
    assert dropped in gitrepo.kept_commits(repo, {"keep", "drop"})


def test_ignored_changed_and_tracked_files(repo):
    (repo.root / ".gitignore").write_text("*.log\n")
    (repo.root / "a.txt").write_text("modified\n")
    (repo.root / "new.txt").write_text("new\n")
    (repo.root / "train.log").write_text("ignored\n")

    assert gitrepo.ignored(repo, ["train.log", "new.txt"]) == {"train.log"}
    assert gitrepo.ignored(repo, ["new.txt"]) == set() and gitrepo.ignored(repo, []) == set()
    assert gitrepo.changed_files(repo) == [".gitignore", "a.txt", "new.txt"]
    assert gitrepo.tracked(repo, ["a.txt", "new.txt", "train.log"]) == ["a.txt"]
    assert gitrepo.is_dirty(repo)
    sh(repo.root, "git", "checkout", "--", "a.txt")
    assert not gitrepo.is_dirty(repo)  # untracked files do not count


def test_commit_only_commits_what_is_staged_for_its_paths(repo):
    (repo.root / "a.txt").write_text("moved\n")
    (repo.root / "b.txt").write_text("users\n")
    sh(repo.root, "git", "add", "a.txt", "b.txt")
    sha = gitrepo.commit_only(repo, ["a.txt"], "archive a")
    assert sha == gitrepo.head(repo)
    assert git(repo.root, "show", "--name-only", "--format=", "HEAD") == "a.txt"
    assert git(repo.root, "diff", "--cached", "--name-only") == "b.txt"
    assert gitrepo.commit_only(repo, ["a.txt"], "nothing") is None
    assert gitrepo.commit_only(repo, [], "nothing") is None


def test_a_detached_head_refuses_a_commit_that_would_be_lost(repo):
    gitrepo.require_branch(repo, "of the archive")
    gitrepo.checkout_detached(repo, gitrepo.head(repo))
    with pytest.raises(NotReady, match="HEAD is detached .* the commit of the archive would be lost"):
        gitrepo.require_branch(repo, "of the archive")


def test_a_failing_write_is_one_henryvc_error_with_gits_reason(repo):
    with pytest.raises(HenryvcError, match="git update-ref failed: .*"):
        gitrepo.write(repo, "update-ref", "refs/heads/x", "no-such-commit")


def test_describe_head_and_describe_say_dirty_only_for_tracked_changes(repo):
    sha = gitrepo.head(repo)
    (repo.root / "untracked").write_text("u")
    assert gitrepo.describe_head(repo.root) == sha  # an untracked file is not dirt
    assert gitrepo.describe(repo.root) == {"describe": sha[:7], "commit": sha, "dirty": False}
    (repo.root / "a.txt").write_text("edited\n")
    assert gitrepo.describe_head(repo.root) == sha + "-dirty"
    assert gitrepo.describe(repo.root)["dirty"] is True


def test_identity_and_missing_identity_read_gits_configuration(repo, tmp_path, monkeypatch):
    assert gitrepo.identity(repo) == "Henry Tester <tester@henryvc.invalid>"
    assert gitrepo.missing_identity(repo) == []
    home = tmp_path / "bare-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))  # neither file exists: no identity
    bare = gitrepo.open_git(repo.root)  # a new reader sees the new configuration
    assert gitrepo.missing_identity(bare) == ["name", "email"]
    assert gitrepo.identity(bare) == "unknown"
    sh(repo.root, "git", "config", "user.name", "Repo Only")  # the repository's own configuration counts
    assert gitrepo.identity(gitrepo.open_git(repo.root)) == "Repo Only"
    assert gitrepo.missing_identity(gitrepo.open_git(repo.root)) == ["email"]


def test_missing_identity_agrees_with_git_when_git_config_global_names_the_file(repo, tmp_path, monkeypatch):
    home = tmp_path / "bare-home"
    home.mkdir()
    elsewhere = tmp_path / "elsewhere.gitconfig"
    elsewhere.write_text("[user]\n\tname = Elsewhere\n\temail = e@henryvc.invalid\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(elsewhere))
    assert git(repo.root, "var", "GIT_AUTHOR_IDENT").startswith("Elsewhere <e@henryvc.invalid>")  # git has one
    assert gitrepo.missing_identity(gitrepo.open_git(repo.root)) == []


def test_push_and_fetch_of_a_ref(repo, tmp_path):
    ref = "refs/notes/review"
    assert gitrepo.push_ref(repo, ref) is False  # no remote
    sh(tmp_path, "git", "clone", "-q", "--bare", str(repo.root), str(tmp_path / "remote.git"))
    sh(repo.root, "git", "remote", "add", "origin", str(tmp_path / "remote.git"))
    assert gitrepo.push_ref(repo, ref) is False  # no such ref here
    sh(repo.root, "git", "notes", "--ref", ref, "add", "-m", "hi", "HEAD")
    assert gitrepo.push_ref(repo, ref) is True
    assert git(tmp_path / "remote.git", "notes", "--ref", ref, "show", gitrepo.head(repo)) == "hi"

    sh(tmp_path, "git", "clone", "-q", str(tmp_path / "remote.git"), str(tmp_path / "clone"))
    clone = gitrepo.open_git(tmp_path / "clone")
    gitrepo.fetch_ref(clone, ref)
    gitrepo.fetch_tags(clone)
    assert git(clone.root, "notes", "--ref", ref, "show", "HEAD") == "hi"
    assert os.path.samefile(gitrepo.root_of(clone), clone.root)
