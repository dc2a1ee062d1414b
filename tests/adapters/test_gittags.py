"""henryvc.adapters.gittags: tags read in one streamed for-each-ref: annotated and lightweight tags with the
right commit, object and message body, patterns, records that span the 1 MiB reads, and a clear error outside git."""

from __future__ import annotations

import pytest

from henryvc.adapters import gittags
from henryvc.errors import HenryvcError
from tests.helpers.project import git_repo, sh


@pytest.fixture
def root(tmp_path):
    return git_repo(tmp_path / "repo")


def rev(root, name: str) -> str:
    return sh(root, "git", "rev-parse", name).stdout.strip()


def test_annotated_and_lightweight_tags_give_their_commit_object_and_body(root):
    sh(root, "git", "tag", "-a", "run_a", "-m", "subject line\n\n{\"status\": \"success\"}\nsecond line")
    sh(root, "git", "tag", "light_b")
    head = rev(root, "HEAD")

    tags = {t.name: t for t in gittags.read_tags(root, "*")}

    assert set(tags) == {"run_a", "light_b"}
    annotated, light = tags["run_a"], tags["light_b"]
    assert (annotated.kind, annotated.commit, annotated.oid) == ("tag", head, rev(root, "refs/tags/run_a"))
    assert annotated.oid != head
    assert annotated.body == '{"status": "success"}\nsecond line\n'  # the body: the message after its subject
    assert (light.kind, light.commit, light.oid, light.body) == ("commit", head, head, "")
    assert annotated.date.startswith(sh(root, "git", "log", "-1", "--format=%cs").stdout.strip())


def test_patterns_select_tags_and_iter_tags_takes_several(root):
    for name in ("run_1", "run_2", "snapshot_1", "other"):
        sh(root, "git", "tag", "-a", name, "-m", name)
    assert sorted(t.name for t in gittags.read_tags(root, "run_*")) == ["run_1", "run_2"]
    assert sorted(t.name for t in gittags.iter_tags(root, "run_*", "snapshot_*")) == ["run_1", "run_2", "snapshot_1"]
    assert gittags.read_tags(root, "none_*") == []


def test_bodies_larger_than_one_read_with_multibyte_text_come_back_whole(root, tmp_path):
    bodies = {}
    for i in range(3):  # each body is over 1 MiB, so records and UTF-8 characters are split between reads
        bodies[f"big_{i}"] = f"{i}" + "é€" * 300_000 + "\n"
        message = tmp_path / f"m{i}"
        message.write_text(f"subject {i}\n\n" + bodies[f"big_{i}"], encoding="utf-8")
        sh(root, "git", "tag", "-a", f"big_{i}", "-F", str(message))
    read = {t.name: t.body for t in gittags.iter_tags(root, "big_*")}
    assert read == bodies


def test_stopping_early_ends_git_and_reads_nothing_more(root):
    for i in range(50):
        sh(root, "git", "tag", f"t{i:02}")
    stream = gittags.iter_tags(root, "t*")
    first = next(stream)
    stream.close()  # the caller stops: git ends on a closed pipe, no error
    assert first.name == "t00"


def test_tag_oids_maps_each_tag_to_its_ref_object(root):
    sh(root, "git", "tag", "-a", "run_a", "-m", "a")
    sh(root, "git", "tag", "light")
    assert gittags.tag_oids(root, "*") == {"run_a": rev(root, "refs/tags/run_a"), "light": rev(root, "HEAD")}


def test_outside_a_git_repository_both_readers_fail_naming_the_folder(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    with pytest.raises(HenryvcError, match=f"git for-each-ref failed in {folder}: .*not a git repository"):
        gittags.read_tags(folder, "*")
    with pytest.raises(HenryvcError, match=f"git for-each-ref failed in {folder}"):
        gittags.tag_oids(folder, "*")
