"""henryvc.core.coverage on a real tagged run: every file of its folder is held by the tag (in git, or as DVC data
with the same bytes), a stray or edited file is named as uncovered, and the objects a set of tags needs are
found with the tag and path that first use them."""

from __future__ import annotations

import shutil

from henryvc.adapters import dvcrepo, dvcstore, gitrepo
from henryvc.adapters.dvcrepo import Out
from henryvc.core import coverage
from henryvc.core import record as records
from henryvc.hashing import md5_file
from tests.helpers.lifecycle import run_with_status


def _tagged(project):
    name = run_with_status(project, "success", seed=1, tag=True)
    repo = gitrepo.open_git(project.root)
    return name, repo, coverage.source_at(repo, name, project.run_rel(name)), dvcrepo.cache_dir(project.root)


def test_a_tagged_run_folder_is_covered_and_its_objects_are_named(project):
    name, repo, source, cache = _tagged(project)
    assert f"{project.run_rel(name)}/run.json" in source.blobs
    assert {o.path for o in source.outs} == {f"{project.run_rel(name)}/checkpoints",
                                             f"{project.run_rel(name)}/tensorboard"}
    (project.run_dir(name) / records.LOCK_FILE).write_text("")  # henryvc's own file: never counts
    found = coverage.coverage(project.run_dir(name), [source], cache)
    assert found.uncovered == []
    [ckpt] = [o for o in source.outs if o.path.endswith("checkpoints")]
    files = dvcstore.out_files(cache, None, ckpt)
    assert sorted(files) == ["checkpoint_1000.pth", "checkpoint_500.pth"]
    assert set(files.values()) | {ckpt.md5 + ".dir"} <= found.oids
    only = coverage.coverage(project.run_dir(name), [source], cache, subdir="checkpoints")
    assert only.uncovered == [] and ckpt.md5 + ".dir" in only.oids and not any(
        o.path.endswith("tensorboard") and o.md5 + ".dir" in only.oids for o in source.outs)


def test_stray_and_edited_files_are_uncovered(project):
    name, repo, source, cache = _tagged(project)
    run_dir = project.run_dir(name)
    (run_dir / "notes.txt").write_text("written after the tag")
    ckpt = run_dir / "checkpoints" / "checkpoint_500.pth"
    size = ckpt.stat().st_size
    ckpt.unlink()  # a link into the cache: replace it, never write through it
    ckpt.write_bytes(b"\0" * size)  # same size, other bytes
    records.update(run_dir, description="edited after the tag")  # a git file that changed
    found = coverage.coverage(run_dir, [source], cache)
    assert sorted(found.uncovered) == ["checkpoints/checkpoint_500.pth", "notes.txt", "run.json"]
    assert coverage.coverage(run_dir, [], cache).uncovered  # no source at all: nothing is covered


def test_same_content_by_inode_link_target_or_bytes(project, tmp_path):
    name, repo, source, cache = _tagged(project)
    ckpt = project.run_dir(name) / "checkpoints" / "checkpoint_500.pth"
    md5 = md5_file(ckpt)
    obj = dvcrepo.object_path(cache, Out("", md5, False))
    assert obj.is_file() and coverage.same_content(ckpt, md5, cache)
    copy = tmp_path / "copy.pth"
    shutil.copyfile(ckpt, copy)
    assert coverage.same_content(copy, md5, cache)  # another inode, the same bytes: re-hashed
    (tmp_path / "to_obj").symlink_to(obj)
    assert coverage.same_content(tmp_path / "to_obj", md5, cache)
    (tmp_path / "to_copy").symlink_to(copy)
    assert not coverage.same_content(tmp_path / "to_copy", md5, cache)  # a link's target counts, never its bytes
    copy.write_bytes(b"\1" * copy.stat().st_size)
    assert not coverage.same_content(copy, md5, cache)
    assert not coverage.same_content(tmp_path / "absent", md5, cache)
    assert not coverage.same_content(tmp_path, md5, cache)  # a folder holds no object


def test_tag_objects_names_the_first_tag_and_path_using_each_object(project):
    first = run_with_status(project, "success", seed=1, tag=True)
    second = run_with_status(project, "success", seed=2, tag=True)
    repo = gitrepo.open_git(project.root)
    cache = dvcrepo.cache_dir(project.root)
    wanted = coverage.tag_objects(repo, [first, second], cache, None)
    [voice] = [o for o in dvcstore.cached_outs_at(repo, first) if o.path == "voice_data"]
    assert wanted[voice.md5 + ".dir"] == (first, "voice_data")  # both tags hold it: the first one names it
    for tag in (first, second):
        [ckpt] = [o for o in dvcstore.cached_outs_at(repo, tag) if o.path.endswith("checkpoints")]
        for rel, md5 in dvcstore.out_files(cache, None, ckpt).items():
            assert wanted[md5] == (tag, f"{ckpt.path}/{rel}")
    assert coverage.tag_objects(repo, [], cache, None) == {}
