"""henryvc.adapters.gitnotes: review notes written, replaced and read back (loose, packed and from a worktree),
a failed write is one HenryvcError, and a remote's notes merge into ours as a union."""

from __future__ import annotations

from pathlib import Path

import pytest

from henryvc.adapters import gitnotes, gitrepo
from henryvc.errors import HenryvcError
from tests.helpers.project import sh

REF = "refs/notes/henryvc-review"


def make_repo(root: Path, commits: int = 2) -> list[str]:
    """A repository at ROOT with COMMITS commits; their shas, oldest first."""
    root.mkdir()
    sh(root, "git", "init", "-q", "-b", "main")
    shas = []
    for i in range(commits):
        (root / "f.txt").write_text(f"{i}\n")
        sh(root, "git", "add", "f.txt")
        sh(root, "git", "commit", "-qm", f"c{i}")
        shas.append(sh(root, "git", "rev-parse", "HEAD").stdout.strip())
    return shas


def test_no_notes_ref_means_no_notes(tmp_path):
    first, _ = make_repo(tmp_path / "r")
    repo = gitrepo.open_git(tmp_path / "r")
    assert gitnotes.notes(tmp_path / "r", REF) == {}
    assert gitnotes.note(repo, REF, first) is None


def test_a_note_is_set_replaced_and_read_back_by_both_readers(tmp_path):
    first, second = make_repo(tmp_path / "r")
    repo = gitrepo.open_git(tmp_path / "r")
    gitnotes.set_note(repo, REF, first, "verdict: good\nsecond line\n")
    gitnotes.set_note(repo, REF, second, "ünïcode ok\n")
    gitnotes.set_note(repo, REF, first, "verdict: better\n")  # replaces, never a second note

    assert gitnotes.note(repo, REF, first) == "verdict: better"
    assert gitnotes.notes(tmp_path / "r", REF) == {first: "verdict: better\n", second: "ünïcode ok\n"}
    assert gitnotes.notes(repo, "refs/notes/other") == {}
    # each write is a notes commit: the history keeps the replaced note
    assert sh(tmp_path / "r", "git", "rev-list", "--count", REF).stdout.strip() == "3"


def test_notes_are_found_when_the_ref_is_only_in_packed_refs_and_from_a_worktree(tmp_path):
    first, _ = make_repo(tmp_path / "r")
    repo = gitrepo.open_git(tmp_path / "r")
    gitnotes.set_note(repo, REF, first, "packed\n")
    sh(tmp_path / "r", "git", "pack-refs", "--all")
    assert not (tmp_path / "r" / ".git" / REF).exists()
    assert gitnotes.notes(tmp_path / "r", REF) == {first: "packed\n"}

    sh(tmp_path / "r", "git", "worktree", "add", "-q", "--detach", str(tmp_path / "wt"), first)
    assert (tmp_path / "wt" / ".git").is_file()
    assert gitnotes.notes(tmp_path / "wt", REF) == {first: "packed\n"}


def test_a_note_on_a_name_git_cannot_resolve_fails_with_gits_reason(tmp_path):
    make_repo(tmp_path / "r")
    repo = gitrepo.open_git(tmp_path / "r")
    with pytest.raises(HenryvcError, match="git notes add failed: .*no-such-tag"):
        gitnotes.set_note(repo, REF, "no-such-tag", "lost\n")
    assert gitnotes.notes(tmp_path / "r", REF) == {}


def test_remote_notes_merge_into_ours_as_a_union(tmp_path):
    first, second = make_repo(tmp_path / "origin")
    sh(tmp_path, "git", "clone", "-q", str(tmp_path / "origin"), str(tmp_path / "clone"))
    origin, clone = gitrepo.open_git(tmp_path / "origin"), gitrepo.open_git(tmp_path / "clone")
    gitnotes.set_note(origin, REF, first, "from origin\n")
    gitnotes.set_note(clone, REF, second, "from clone\n")

    gitnotes.merge_remote_notes(clone, REF)

    assert gitnotes.notes(tmp_path / "clone", REF) == {first: "from origin\n", second: "from clone\n"}
    incoming = sh(tmp_path / "clone", "git", "for-each-ref", f"{REF}-incoming").stdout
    assert incoming == ""  # the fetched ref is gone again


def test_merging_takes_the_remote_notes_whole_when_we_have_none(tmp_path):
    first, _ = make_repo(tmp_path / "origin")
    sh(tmp_path, "git", "clone", "-q", str(tmp_path / "origin"), str(tmp_path / "clone"))
    gitnotes.set_note(gitrepo.open_git(tmp_path / "origin"), REF, first, "only there\n")
    gitnotes.merge_remote_notes(gitrepo.open_git(tmp_path / "clone"), REF)
    assert gitnotes.notes(tmp_path / "clone", REF) == {first: "only there\n"}


def test_merging_without_the_remote_or_its_notes_changes_nothing(tmp_path):
    first, _ = make_repo(tmp_path / "origin")
    sh(tmp_path, "git", "clone", "-q", str(tmp_path / "origin"), str(tmp_path / "clone"))
    clone = gitrepo.open_git(tmp_path / "clone")
    gitnotes.set_note(clone, REF, first, "ours\n")
    gitnotes.merge_remote_notes(clone, REF)  # origin has no notes
    gitnotes.merge_remote_notes(clone, REF, remote="nowhere")  # no such remote
    assert gitnotes.notes(tmp_path / "clone", REF) == {first: "ours\n"}
