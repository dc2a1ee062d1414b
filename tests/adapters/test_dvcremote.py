"""henryvc.adapters.dvcremote on real DVC projects: which remote, its URL and cache, the set-up `init` writes (a
default remote kept, paths made absolute), a worktree pointed at the main cache and remote, and the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from henryvc.adapters import dvcremote, dvcrepo
from henryvc.adapters.dvcremote import REMOTE_NAME, Remote
from henryvc.errors import BadInput, HenryvcError
from henryvc.hashing import md5_file
from tests.helpers.project import git_repo, sh


@pytest.fixture
def bare(tmp_path) -> Path:
    """A git + DVC repository with no remote configured."""
    return git_repo(tmp_path / "bare", dvc_too=True, first_commit=False)


def test_the_projects_remote_is_the_one_init_set_up(project, tmp_path):
    repo = dvcrepo.open_repo(project.root)
    remote = Remote.of(repo)
    assert (remote.name, remote.url) == (REMOTE_NAME, str((tmp_path / "dvc-remote").resolve()))
    assert remote.cache == project.root / ".dvc" / "cache"
    assert dvcremote.default_remote(repo) == REMOTE_NAME
    assert list(dvcremote.remotes(repo)) == [REMOTE_NAME] and dvcremote.remotes(repo)[REMOTE_NAME]["url"] == remote.url
    assert remote.problem(repo) is None


def test_a_remote_folder_that_is_gone_is_a_problem_naming_it(project, tmp_path):
    (tmp_path / "dvc-remote").rmdir()
    repo = dvcrepo.open_repo(project.root)
    assert Remote.of(repo).problem(repo) == f"{(tmp_path / 'dvc-remote').resolve()} does not exist"


def test_its_odb_holds_what_a_push_sent(project):
    repo = dvcrepo.open_repo(project.root)
    wav = project.root / "voice_data" / "wavs" / "clip1.wav"
    odb = Remote.of(repo).odb(repo)
    assert not odb.exists(md5_file(wav))
    dvcrepo.push(project.root)
    assert odb.exists(md5_file(wav))


def test_no_remote_configured_is_a_remote_without_a_name(bare):
    repo = dvcrepo.open_repo(bare)
    remote = Remote.of(repo)
    assert (remote.name, remote.url, remote.config) == (None, "", {})
    assert dvcremote.remotes(repo) == {}


def test_configure_sets_the_default_remote_and_link_only_cache_types(bare, tmp_path):
    url, types = dvcremote.configure(bare, None, tmp_path / "default-remote")
    assert url == str((tmp_path / "default-remote").resolve()) and Path(url).is_dir()
    assert "copy" not in types
    repo = dvcrepo.open_repo(bare)
    assert Remote.of(repo).url == url
    assert repo.config["cache"]["type"] == types.split(",")


def test_configure_keeps_the_remote_already_set_and_makes_paths_absolute(bare, tmp_path, monkeypatch):
    first, _ = dvcremote.configure(bare, None, tmp_path / "first")
    assert dvcremote.configure(bare, None, tmp_path / "other")[0] == first  # kept: no URL asked for
    assert not (tmp_path / "other").exists()

    monkeypatch.chdir(tmp_path)
    url, _ = dvcremote.configure(bare, "relative/remote", tmp_path / "unused")
    assert url == str(tmp_path / "relative" / "remote") and Path(url).is_dir()
    url, _ = dvcremote.configure(bare, "ssh://host/srv/dvc", tmp_path / "unused")
    assert url == "ssh://host/srv/dvc"  # a URL is taken as it is
    assert Remote.of(dvcrepo.open_repo(bare)).url == "ssh://host/srv/dvc"


def test_a_default_remote_that_is_not_configured_is_bad_input_naming_its_line(bare):
    config = bare / ".dvc" / "config"
    config.write_text("[core]\n    remote = nowhere\n")
    with pytest.raises(BadInput, match=r"^\.dvc/config, line 2: DVC refuses it \(remote 'nowhere' doesn't exist\)"):
        dvcremote.checked_default(dvcrepo.open_repo(bare), bare)


def test_share_cache_points_a_worktree_at_the_main_cache_and_remote(project, tmp_path):
    worktree = tmp_path / "wt"
    sh(project.root, "git", "worktree", "add", "-q", "--detach", str(worktree), "HEAD")

    cache = dvcremote.share_cache(worktree, project.root)

    assert cache == project.root / ".dvc" / "cache"
    assert dvcrepo.cache_dir(worktree) == cache
    main = Remote.of(dvcrepo.open_repo(project.root))
    assert Remote.of(dvcrepo.open_repo(worktree)).url == main.url
    assert sh(worktree, "git", "status", "--porcelain").stdout == ""  # local config only, never committed
    dvcrepo.checkout(worktree, [str(worktree / "voice_data.dvc")])  # the data comes from the main cache
    wav = "voice_data/wavs/clip1.wav"
    assert md5_file(worktree / wav) == md5_file(project.root / wav)


def test_share_cache_into_a_worktree_whose_config_does_not_parse_is_one_error(project, tmp_path):
    worktree = tmp_path / "wt"
    sh(project.root, "git", "worktree", "add", "-q", "--detach", str(worktree), "HEAD")
    (worktree / ".dvc" / "config").write_text("[core\n")
    with pytest.raises(HenryvcError, match=r"\.dvc/config, line 1: DVC cannot read it"):
        dvcremote.share_cache(worktree, project.root)


def test_write_without_a_name_writes_no_remote(tmp_path):
    conf = {"cache": {}, "remote": {}, "core": {}}
    Remote(None, tmp_path / "cache").write(conf, cache=True)
    assert conf == {"cache": {"dir": str(tmp_path / "cache")}, "remote": {}, "core": {}}
    Remote("r", tmp_path / "cache", {"url": "/srv", "port": 22}).write(conf)
    assert conf["remote"] == {"r": {"url": "/srv", "port": 22}} and conf["core"] == {"remote": "r"}
