"""henryvc.adapters.dvcstore on a real project and its local DVC remote: what the remote holds whole, missing or
damaged (size, and content when asked), holes filled from good cache copies only, listings read back, and gc."""

from __future__ import annotations

from pathlib import Path

import pytest

from henryvc.adapters import dvcrepo, dvcstore, gitrepo
from henryvc.adapters.dvcremote import Remote
from henryvc.hashing import md5_bytes, md5_file
from tests.helpers.lifecycle import train
from tests.helpers.project import dvc, sh


@pytest.fixture
def pushed(project):
    """The project with its voice data pushed: (DVC repo, remote odb, cache, the voice_data output)."""
    dvcrepo.push(project.root)
    repo = dvcrepo.open_repo(project.root)
    (out,) = dvcrepo.workspace_outs(project.root)
    return repo, Remote.of(repo).odb(repo), dvcrepo.cache_of(repo), out


def remote_file(odb, oid: str) -> Path:
    return Path(odb.oid_to_path(oid))


def test_every_object_of_a_pushed_output_is_on_the_remote_whole(project, pushed):
    _, odb, cache, out = pushed
    oids = dvcstore.out_oids(cache, odb, out)
    wavs = project.root / "voice_data" / "wavs"
    assert oids == {out.md5 + ".dir", md5_file(project.root / "voice_data" / "metadata.csv"),
                    md5_file(wavs / "clip1.wav"), md5_file(wavs / "clip2.wav")}
    assert dvcstore.remote_problems(odb, oids, cache, content=True) == {}
    assert dvcstore.on_remote(odb, oids, cache) == oids
    assert dvcstore.remote_sizes(odb, oids) == {oid: remote_file(odb, oid).stat().st_size for oid in oids}


def test_a_missing_an_emptied_and_a_flipped_object_are_each_named(project, pushed):
    _, odb, cache, out = pushed
    wavs = project.root / "voice_data" / "wavs"
    gone, emptied, flipped = md5_file(wavs / "clip1.wav"), md5_file(wavs / "clip2.wav"), out.md5 + ".dir"
    remote_file(odb, gone).unlink()
    size = remote_file(odb, emptied).stat().st_size
    remote_file(odb, emptied).write_bytes(b"")  # what a push killed at the wrong moment leaves
    listing = bytearray(remote_file(odb, flipped).read_bytes())
    listing[5] ^= 1  # same size, one bit wrong
    remote_file(odb, flipped).write_bytes(bytes(listing))
    oids = dvcstore.out_oids(cache, odb, out)

    assert dvcstore.remote_problems(odb, oids, cache) == {
        gone: "missing", emptied: f"damaged: 0 bytes on the remote, {size} in the cache"}
    read: dict[str, float] = {}
    problems = dvcstore.remote_problems(odb, oids, cache, content=True, read=read)
    assert problems[flipped] == f"damaged: its content hashes to {md5_bytes(bytes(listing))} on the remote"
    assert len(problems) == 3
    assert read["bytes"] == sum(remote_file(odb, o).stat().st_size for o in oids - {gone, emptied})


def test_fill_holes_sends_good_cache_copies_and_reports_what_nobody_has_whole(project, pushed):
    repo, odb, cache, out = pushed
    wavs = project.root / "voice_data" / "wavs"
    gone, emptied = md5_file(wavs / "clip1.wav"), md5_file(wavs / "clip2.wav")
    lost = md5_file(project.root / "voice_data" / "metadata.csv")
    for oid in (gone, lost):
        remote_file(odb, oid).unlink()
    remote_file(odb, emptied).write_bytes(b"")
    dvcrepo.object_path(cache, dvcrepo.Out("", lost, False)).unlink()  # in neither place now
    oids = dvcstore.out_oids(cache, odb, out)

    sent, left = dvcstore.fill_holes(repo, "storage", odb, oids, cache)

    assert (sent, left) == (2, {lost: "missing"})
    assert dvcstore.remote_problems(odb, oids, cache, content=True) == {lost: "missing"}


def test_a_damaged_cache_copy_never_replaces_a_damaged_remote_object(project, pushed):
    repo, odb, cache, out = pushed
    oid = md5_file(project.root / "voice_data" / "wavs" / "clip1.wav")
    remote_file(odb, oid).write_bytes(b"x")
    local = dvcrepo.object_path(cache, dvcrepo.Out("", oid, False))
    local.chmod(0o644)
    local.write_bytes(b"y" * local.stat().st_size)
    assert dvcstore.in_cache(cache, oid) and not dvcstore.cache_copy_good(cache, oid)

    sent, left = dvcstore.fill_holes(repo, "storage", odb, [oid], cache)

    assert sent == 0 and left[oid].startswith("damaged: 1 bytes on the remote")
    assert remote_file(odb, oid).read_bytes() == b"x"


def test_a_listing_is_read_from_the_cache_else_the_remote_and_only_when_it_hashes_right(project, pushed):
    _, odb, cache, out = pushed
    files = dvcstore.out_files(cache, None, out)
    assert sorted(files) == ["metadata.csv", "wavs/clip1.wav", "wavs/clip2.wav"]
    assert files["wavs/clip1.wav"] == md5_file(project.root / "voice_data" / "wavs" / "clip1.wav")

    local = dvcrepo.object_path(cache, out)
    local.unlink()
    assert dvcstore.read_listing(cache, None, out) is None  # neither cache nor a remote to ask
    assert dvcstore.out_files(cache, odb, out) == files  # read back from the remote
    remote_file(odb, out.md5 + ".dir").write_bytes(b"[]")
    assert dvcstore.read_listing(cache, odb, out) is None  # not the listing its name says
    assert dvcstore.out_oids(cache, odb, out) == {out.md5 + ".dir"}
    file_out = dvcrepo.Out("model.pth", "f" * 32, False)
    assert dvcstore.out_files(cache, None, file_out) == {"": "f" * 32}
    assert dvcstore.out_oids(cache, None, file_out) == {"f" * 32}


def test_a_remote_that_cannot_be_read_is_one_error_naming_it(project, pushed, tmp_path):
    import shutil

    from henryvc.errors import HenryvcError

    _, odb, cache, out = pushed
    shutil.rmtree(tmp_path / "dvc-remote")
    (tmp_path / "dvc-remote").write_text("a file where the remote's folder was\n")
    with pytest.raises(HenryvcError, match=f"^cannot read the DVC remote at {odb.path}: NotADirectoryError"):
        dvcstore.remote_sizes(odb, [out.md5 + ".dir"])
    assert dvcstore.remote_sizes(odb, []) == {}  # nothing asked: the remote is not asked


def test_cached_outs_at_leave_out_what_git_holds(project):
    name = train(project, seed=3)
    sh(project.root, "git", "add", "-A")
    sh(project.root, "git", "commit", "-qm", "trained")
    cached = [o.path for o in dvcstore.cached_outs_at(gitrepo.open_git(project.root), "HEAD")]
    run = f"training_runs/{name}"
    assert sorted(cached) == sorted([f"{run}/checkpoints", f"{run}/tensorboard", "voice_data"])


def test_gc_removes_only_objects_nothing_uses(project):
    (project.root / "stray.txt").write_text("no longer tracked\n")
    dvc(project.root, "add", "-q", "stray.txt")
    (project.root / "stray.txt.dvc").unlink()
    repo = dvcrepo.open_repo(project.root)
    cache = dvcrepo.cache_of(repo)
    (out,) = dvcrepo.workspace_outs(project.root)
    used = dvcstore.out_oids(cache, None, out)
    stray = md5_file(project.root / "stray.txt")

    plan = dvcstore.gc_plan(repo, used)

    assert [p for _, _, paths in plan for p in paths] == [dvcrepo.object_path(cache, dvcrepo.Out("", stray, False))]
    dvcstore.gc(plan)
    assert not dvcstore.in_cache(cache, stray)
    assert all(dvcstore.in_cache(cache, oid) for oid in used)


def test_damaged_listings_are_dropped_so_dvc_sends_them_again_and_none_is_sent_alone(project, pushed):
    repo, odb, cache, _ = pushed
    train(project, seed=1)
    dvcrepo.push(project.root)
    listings = sorted(path for path in Path(odb.path).rglob("*.dir"))
    oid = {path: path.parent.name + path.name for path in listings}
    short, flipped, gone = listings[:3]
    short.write_bytes(short.read_bytes()[:20])  # what a push killed mid-copy leaves
    text = bytearray(flipped.read_bytes())
    text[-3] ^= 1
    flipped.write_bytes(bytes(text))
    gone.unlink()
    stuck = dvc(project.root, "push", check=False)
    assert stuck.returncode != 0 and "is corrupted" in stuck.stderr  # DVC alone stops on the short listing

    assert dvcstore.drop_damaged_listings(odb, cache) == sorted([oid[short], oid[flipped]])
    assert not short.exists() and not flipped.exists() and not gone.exists()  # a missing one is not sent alone
    assert dvcstore.drop_damaged_listings(odb, cache) == []
    assert dvcstore.push_mending(project.root) >= 3
    assert all(md5_file(path) == oid[path].removesuffix(".dir") for path in listings)

