"""The whole registry cycle on real git and DVC: init → new-run → repro → tag-run → list/show/diff →
restore (worktree, in place, cold cache, second clone) → verify."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import git
import pytest
import yaml

from henryvc import api
from henryvc.adapters import dvcrepo
from henryvc.core import record as records
from henryvc.core import runname
from henryvc.core.project import Project
from henryvc.errors import NotReady, RunExists
from tests.helpers.cli import run_cli
from tests.helpers.project import dvc, gen, sh, trained_run
from tests.helpers.reliability import md5


def tags(project: Project) -> list[str]:
    return sh(project.root, "git", "tag", "--list").stdout.split()


def test_init_is_idempotent(tmp_path):
    root = tmp_path / "fresh"
    root.mkdir()
    assert run_cli(root, "init", "--remote", str(tmp_path / "remote")).exit_code == 0
    head = sh(root, "git", "rev-parse", "HEAD").stdout
    assert run_cli(root, "init").exit_code == 0
    assert sh(root, "git", "rev-parse", "HEAD").stdout == head  # nothing new to commit
    config = (root / ".dvc" / "config").read_text()
    assert "hardlink" in config and "copy" not in config and str(tmp_path / "remote") in config
    for folder in ("training_runs/archive/failed", "training_runs/archive/incomplete", "configs", "scripts"):
        assert (root / folder).is_dir()
    assert "/.henryvc/" in (root / ".gitignore").read_text()


def test_new_run_creates_folder_record_and_points_params(project):
    result = run_cli(project.root, "new-run", "--major", "2", "--variant", "debug", "--description", "first")
    assert result.exit_code == 0, result.output
    name = result.output.strip()
    parsed = runname.parse(name)
    assert (parsed.major, parsed.variant) == (2, "debug")
    folder = project.run_dir(name)
    config = json.loads((folder / "config.json").read_text())
    assert config["run_name"] == name and config["output_path"] == f"training_runs/{name}"
    record = records.load(folder)
    assert record.status == "created" and record.description == "first"
    assert record.source_commit == sh(project.root, "git", "rev-parse", "HEAD").stdout.strip()
    assert record.config_hash.startswith("sha256:")
    assert yaml.safe_load((project.root / "params.yaml").read_text())["run"] == name
    assert "# the run dvc repro trains" in (project.root / "params.yaml").read_text()  # comments kept


def test_same_second_never_collides(project):
    fixed = datetime(2026, 11, 24, 12, 0, 0)
    first = api.new_run(project, 2, "debug", now=lambda: fixed)
    before = (project.run_dir(first.name) / "config.json").read_bytes()
    with pytest.raises(RunExists):
        api.new_run(project, 2, "debug", now=lambda: fixed)
    assert (project.run_dir(first.name) / "config.json").read_bytes() == before
    # With a real clock the second run simply gets the next second.
    clock = iter([fixed, fixed, datetime(2026, 11, 24, 12, 0, 1)])
    second = api.new_run(project, 2, "debug", now=lambda: next(clock))
    assert second.name == "henry_v2_debug_20261124_120001"


def test_full_cycle(project):
    a = trained_run(project, seed=1)
    result = run_cli(project.root, "tag-run")
    assert result.exit_code == 0, result.output
    assert tags(project) == [a]
    assert sh(project.root, "git", "cat-file", "-t", a).stdout.strip() == "tag"  # annotated
    committed = sh(project.root, "git", "show", "--name-only", "--format=", a).stdout.split()
    for path in ("dvc.lock", "params.yaml", f"training_runs/{a}/run.json", f"training_runs/{a}/config.json",
                 f"training_runs/{a}/metrics.json", f"training_runs/{a}/README.md"):
        assert path in committed
    assert not any("checkpoints/" in path for path in committed)  # DVC's, not git's
    summary = json.loads(sh(project.root, "git", "tag", "-l", "--format=%(contents:body)", a).stdout)
    assert summary["status"] == "success" and summary["metrics"]["total_loss"] == pytest.approx(1.51)
    assert summary["data"][f"training_runs/{a}/checkpoints"]["md5"].endswith(".dir")
    assert summary["environment"]["tagged_with"]["python"] and "arch" in summary["environment"]["tagged_with"]

    # Tags are never moved or overwritten.
    result = run_cli(project.root, "tag-run", a)
    assert result.exit_code == 1 and "never moved" in result.output

    b = trained_run(project, variant="stable", seed=7)
    assert run_cli(project.root, "tag-run", b).exit_code == 0

    listing = json.loads(run_cli(project.root, "list", "--json").output)
    assert [r["name"] for r in listing["runs"]] == [b, a]
    assert [r["name"] for r in json.loads(run_cli(project.root, "list", "--json", "--variant", "stable").output)["runs"]] == [b]
    assert json.loads(run_cli(project.root, "list", "--json", "--status", "failed").output)["runs"] == []
    # The table shows each tagged run's metrics (total_loss is what the evaluate stage writes).
    lines = run_cli(project.root, "list").output.splitlines()
    header = lines[0].split()
    assert header[3:6] == ["total_loss", "align_error", "stopnet_loss"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows[a][3:6] == ["1.51", "0.05", "0.2"] and rows[b][3:6] == ["1.57", "0.05", "0.2"]

    shown = json.loads(run_cli(project.root, "show", a, "--json").output)
    assert shown["tagged"] and shown["commit"] == sh(project.root, "git", "rev-parse", f"{a}^{{}}").stdout.strip()

    difference = json.loads(run_cli(project.root, "diff", a, b, "--json").output)
    assert {"key": "variant", "a": "debug", "b": "stable"} in difference["config"]
    assert {"key": "fake.seed", "a": 1, "b": 7} in difference["params"]
    [loss] = [m for m in difference["metrics"] if m["key"] == "total_loss"]
    assert loss["delta"] == pytest.approx(0.06)

    # Restore A into a worktree: hashes checked against A's tag, cache shared (hard links, no copies).
    result = run_cli(project.root, "restore", a, "--json")
    assert result.exit_code == 0, result.output
    restored = json.loads(result.output)
    where = Path(restored["path"])
    ckpt = where / "training_runs" / a / "checkpoints" / "checkpoint_500.pth"
    assert ckpt.stat().st_nlink > 1 or ckpt.is_symlink()
    # 2 checkpoints + 1 events file + metrics.json + metadata.csv + 2 wavs
    assert restored["checked_files"] == 7 and "dvc repro" in restored["recreate"]
    assert yaml.safe_load((where / "params.yaml").read_text())["run"] == a
    assert run_cli(project.root, "verify", a, "--path", str(where)).exit_code == 0
    # Restoring again into the same worktree is harmless (an interrupted restore just carries on).
    assert run_cli(project.root, "restore", a).exit_code == 0

    # In place: refuses on a dirty tree, then checks A out in the project itself.
    (project.root / "params.yaml").write_text("run: null\n")
    result = run_cli(project.root, "restore", a, "--in-place")
    assert result.exit_code == 1 and "uncommitted" in result.output
    sh(project.root, "git", "checkout", "--", "params.yaml")
    assert run_cli(project.root, "restore", a, "--in-place").exit_code == 0
    assert sh(project.root, "git", "rev-parse", "HEAD").stdout.strip() == shown["commit"]
    assert run_cli(project.root, "verify", a).exit_code == 0


def test_tag_run_refuses_until_dvc_is_clean(project):
    name = api.new_run(project, 2, "debug").name
    with pytest.raises(NotReady, match="dvc repro"):
        api.tag_run(project, name)  # nothing trained yet
    dvc(project.root, "repro", "-q")
    (project.run_dir(name) / "checkpoints" / "checkpoint_500.pth").chmod(0o644)
    (project.run_dir(name) / "checkpoints" / "checkpoint_500.pth").write_bytes(b"edited after training")
    with pytest.raises(NotReady, match="dvc status is not clean"):
        api.tag_run(project, name)
    assert tags(project) == []
    dvc(project.root, "repro", "-q", "--force")
    assert api.tag_run(project, name).name == name


def test_tag_after_kill_between_commit_and_tag(project):
    name = trained_run(project)
    from henryvc.core import published

    published.publish(project.root, project.run_dir(name))  # tag-run's copies at the stable paths
    paths = [f"training_runs/{name}", "dvc.lock", "params.yaml",
             *(p for p in published.PATHS if (project.root / p).exists())]
    sh(project.root, "git", "add", *paths)
    sh(project.root, "git", "commit", "-qm", f"henryvc: run {name} (success)")  # as if killed before tagging
    head = sh(project.root, "git", "rev-parse", "HEAD").stdout.strip()
    result = api.tag_run(project, name)
    assert result.commit == head and tags(project) == [name]


def test_restore_with_empty_cache_pulls_from_remote(project):
    name = trained_run(project)
    assert run_cli(project.root, "tag-run", name, "--push").exit_code == 1  # no git remote yet
    bare = project.root.parent / "origin.git"
    sh(project.root.parent, "git", "init", "-q", "--bare", str(bare))
    sh(project.root, "git", "remote", "add", "origin", str(bare))
    result = run_cli(project.root, "tag-run", name, "--push")  # the tag exists: push only
    assert result.exit_code == 0, result.output
    shutil.rmtree(project.root / ".dvc" / "cache")
    result = run_cli(project.root, "restore", name, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["pulled"] is True


def test_second_clone_restores_with_matching_hashes(project, tmp_path):
    bare = tmp_path / "origin.git"
    sh(tmp_path, "git", "init", "-q", "--bare", str(bare))
    sh(project.root, "git", "remote", "add", "origin", str(bare))
    sh(project.root, "git", "push", "-q", "origin", "main")
    name = trained_run(project, seed=3)
    assert run_cli(project.root, "tag-run", "--push").exit_code == 0

    clone = tmp_path / "second-box"
    sh(tmp_path, "git", "clone", "-q", str(bare), str(clone))
    result = run_cli(clone, "restore", name, "--pull", "--json")
    assert result.exit_code == 0, result.output
    where = Path(json.loads(result.output)["path"])
    original = project.run_dir(name) / "checkpoints" / "checkpoint_1000.pth"
    copy = where / "training_runs" / name / "checkpoints" / "checkpoint_1000.pth"
    assert copy.read_bytes() == original.read_bytes()
    assert run_cli(clone, "verify", name, "--path", str(where)).exit_code == 0


@pytest.mark.parametrize("lost", ["one checkpoint", "everything"])
def test_a_failed_restore_pull_names_the_remote_the_missing_objects_and_the_next_step(project, tmp_path, lost):
    """The second box pulls a tag whose data the remote lacks (one object deleted there, or never pushed): one
    line naming the remote and its URL, exactly the tag's objects it lacks, and where to push them from."""
    remote = tmp_path / "dvc-remote"
    name = trained_run(project, seed=4)
    api.tag_run(project, name)
    if lost == "one checkpoint":
        dvc(project.root, "push", "-q")
        checkpoint = project.run_dir(name) / "checkpoints" / "checkpoint_1000.pth"
        oid = md5(checkpoint)
        (remote / "files" / "md5" / oid[:2] / oid[2:]).unlink()
        expected = {f"{project.run_rel(name)}/checkpoints/checkpoint_1000.pth [{oid}]"}
    else:
        shutil.rmtree(remote, ignore_errors=True)
        outs = [o for o in dvcrepo.outs_at(git.Repo(project.root), name) if o.cached]
        expected = {f"{o.path} (its listing) [{o.md5}.dir]" for o in outs}
    clone = tmp_path / "second-box"
    sh(tmp_path, "git", "clone", "-q", str(project.root), str(clone))
    for args in (["restore", name, "--pull"], ["restore", name]):
        done = run_cli(clone, *args, process=True)
        assert done.returncode == 1, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        head, _, rest = lines[0].partition(" of the tag that this box's cache lacks too: ")
        assert head == (f"henryvc: error: restore {name} pulled from DVC remote 'storage' ({remote}), which lacks "
                        f"{len(expected)} object(s)"), lines[0]
        listed, _, step = rest.partition("; ")
        assert set(listed.split(", ")) == expected
        assert step == ("push them from the box that made the run (`henryvc tag-run --push` for a run not pushed "
                        "yet, else `henryvc backup`), then restore again")
        assert "Is your cache up to date" not in done.stderr


def test_verify_and_restore_catch_a_flipped_byte_in_the_cache(project):
    name = trained_run(project)
    api.tag_run(project, name)
    cache = project.root / ".dvc" / "cache" / "files" / "md5"
    victim = max((p for p in cache.rglob("*") if p.is_file() and p.stat().st_size > 100000), key=lambda p: p.name)
    victim.chmod(0o644)
    data = bytearray(victim.read_bytes())
    data[1234] ^= 0xFF
    victim.write_bytes(bytes(data))
    result = run_cli(project.root, "verify", name, "--json")
    assert result.exit_code == 1
    assert any("checkpoint" in m["path"] for m in json.loads(result.output)["mismatches"])
    result = run_cli(project.root, "restore", name)
    assert result.exit_code == 1 and "does not match its tag" in result.output


def test_verify_reports_a_file_whose_cache_copy_is_missing(project):
    """The work tree's file still matches (a hardlink outlives its cache object), but DVC's cache lacks it: verify
    names it and fails, and passes again once `dvc fetch` has brought the object back from the remote."""
    name = trained_run(project)
    api.tag_run(project, name)
    dvc(project.root, "push", "-q")
    cache = project.root / ".dvc" / "cache" / "files" / "md5"
    checkpoint = next((project.root / project.run_rel(name) / "checkpoints").iterdir())
    victim = next(p for p in cache.rglob("*") if p.is_file() and os.path.samefile(p, checkpoint))
    victim.unlink()
    result = run_cli(project.root, "verify", name, "--json")
    assert result.exit_code == 1, result.output
    rel = f"{project.run_rel(name)}/checkpoints/{checkpoint.name}"
    oid = victim.relative_to(project.root / ".dvc" / "cache")
    assert json.loads(result.output)["mismatches"] == [
        {"path": rel, "problem": f"its DVC cache copy ({oid}) is missing: only this file holds the data here "
                                "(`dvc fetch` brings the copy back from the remote)"}]
    dvc(project.root, "fetch", "-q")
    assert victim.is_file()
    assert run_cli(project.root, "verify", name).exit_code == 0


@pytest.mark.parametrize("args", [
    ["new-run", "--major", "-1", "--variant", "debug"],
    ["new-run", "--major", "2", "--variant", "nightly"],
    ["new-run", "--major", "2", "--variant", "debug", "--config", "broken.json"],
    ["new-run", "--major", "2", "--variant", "debug", "--config", "missing.json"],
    ["tag-run", "../henry_v2_debug_20261124_101500"],
    ["tag-run", "henry_v2_debug_20261124_101500/x"],
    ["tag-run", "-x"],
    ["show", "henry v2"],
    ["show", "henry_v2_débug_20261124_101500"],
    ["show", "henry_v2_debug_20261124_101500" * 10],
    ["diff", "henry_v2_debug_20261124_101500", ".."],
    ["restore", "henry_v2_debug_20261124_101500", "--into", "../outside"],
    ["restore", "henry_v2_debug_20261124_101500/../../x"],
    ["verify", "HEAD"],
    ["list", "--status", "exploded"],
], ids=lambda a: " ".join(a)[:50])
def test_hostile_input_exits_2_and_writes_nothing(project, args):
    (project.root / "broken.json").write_text('{"model": "tacotron2",,}')
    sh(project.root, "git", "add", "broken.json")
    sh(project.root, "git", "commit", "-qm", "broken config for the test")
    if args[0] == "restore" and "--into" in args:
        name = trained_run(project)
        api.tag_run(project, name)
        args = ["restore", name, *args[2:]]
    before = sh(project.root, "git", "status", "--porcelain", "--ignored").stdout
    before_refs = sh(project.root, "git", "show-ref").stdout
    result = run_cli(project.root, *args)
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 or "Usage" in result.output
    assert sh(project.root, "git", "status", "--porcelain", "--ignored").stdout == before
    assert sh(project.root, "git", "show-ref").stdout == before_refs
    assert not (project.root.parent / "outside").exists()


def test_outside_a_project(tmp_path):
    result = run_cli(tmp_path, "list")
    assert result.exit_code == 1 and "henryvc init" in result.output


def test_restore_reads_each_inode_once_and_rereads_what_changed(project):
    name = trained_run(project)
    api.tag_run(project, name)
    first = api.restore(project, name)
    assert first.known_files == 0 and first.checked_files == 7
    again = api.restore(project, name, into=Path(".henryvc/second"))
    # The second worktree's DVC files are the same cache inodes, read and matched a moment ago; only
    # metrics.json (cache: false, so git wrote a new file) is read again.
    assert again.checked_files == 7 and again.known_files == 6
    ckpt = Path(again.path) / "training_runs" / name / "checkpoints" / "checkpoint_500.pth"
    ckpt.chmod(0o644)
    data = bytearray(ckpt.read_bytes())
    data[7] ^= 0x01
    ckpt.write_bytes(bytes(data))  # the cache object too: it is the same inode
    result = run_cli(project.root, "restore", name, "--into", ".henryvc/third")
    assert result.exit_code == 1 and "checkpoint_500.pth" in result.output
    # The trust boundary: a write that puts the old mtime back fools the ledger, not `verify`.
    data[7] ^= 0x01
    stat = ckpt.stat()
    ckpt.write_bytes(bytes(data))
    assert api.restore(project, name, into=Path(".henryvc/fourth")).checked_files == 7
    data[9] ^= 0x01
    ckpt.write_bytes(bytes(data))
    os.utime(ckpt, ns=(stat.st_atime_ns, ckpt.stat().st_mtime_ns))
    assert run_cli(project.root, "verify", name, "--path", ".henryvc/fourth").exit_code == 1


def test_a_killed_trainers_training_status_reads_incomplete(project):
    name = trained_run(project)
    records.update(project.run_dir(name), status="training")  # as a SIGKILLed trainer leaves it
    listing = json.loads(run_cli(project.root, "list", "--json").output)
    assert listing["runs"][0]["status"] == "incomplete"
    assert api.tag_run(project, name).status == "incomplete"
    assert records.load(project.run_dir(name)).status == "incomplete"
    assert json.loads(sh(project.root, "git", "show", f"{name}:training_runs/{name}/run.json").stdout)["status"] == "incomplete"


def test_init_again_and_tag_run_commit_only_their_own_files(project):
    name = api.new_run(project, 2, "debug").name  # params.yaml now names the run: the user's change
    (project.root / "notes.txt").write_text("work in progress\n")
    sh(project.root, "git", "add", "notes.txt")  # staged by the user, not for henryvc's commits
    head = sh(project.root, "git", "rev-parse", "HEAD").stdout
    assert run_cli(project.root, "init").exit_code == 0
    assert sh(project.root, "git", "rev-parse", "HEAD").stdout == head
    dvc(project.root, "repro", "-q")
    api.tag_run(project, name)
    assert "notes.txt" not in sh(project.root, "git", "show", "--name-only", "--format=", name).stdout
    assert sh(project.root, "git", "diff", "--cached", "--name-only").stdout.split() == ["notes.txt"]


def test_new_run_refuses_while_dvc_or_training_holds_the_pipeline(project):
    import subprocess
    import sys

    from henryvc.errors import Busy

    first = api.new_run(project, 2, "debug").name
    holders = {
        "dvc": "import sys, time, zc.lockfile; l = zc.lockfile.LockFile(sys.argv[1] + '/.dvc/tmp/lock'); "
               "print('held', flush=True); time.sleep(60)",
        "training": "import sys, time; from henryvc.core import record; l = record.training_lock(sys.argv[2]); "
                    "l.acquire(); print('held', flush=True); time.sleep(60)",
    }
    (project.root / ".dvc" / "tmp").mkdir(exist_ok=True)
    for code in holders.values():
        holder = subprocess.Popen([sys.executable, "-c", code, str(project.root), str(project.run_dir(first))],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "held"
            params = project.params.read_text()
            with pytest.raises(Busy):
                api.new_run(project, 2, "debug")
            assert project.params.read_text() == params
        finally:
            holder.kill()
            holder.wait()
    assert api.new_run(project, 2, "stable").name != first


def _tag(project: Project, name: str, status: str, loss: float) -> None:
    """An annotated run tag with tag-run's message format, made with plain git."""
    from henryvc.core import summary as summaries

    record = {"status": status, "major": 2, "variant": "debug", "created": "2026-11-24T10:00:00"}
    message = summaries.message(summaries.build(name, record, {"total_loss": loss}, [], {}))
    sh(project.root, "git", "tag", "-a", name, "-m", message)


def _listed(project: Project) -> dict[str, tuple[str, float]]:
    result = run_cli(project.root, "list", "--json")
    assert result.exit_code == 0, result.output
    return {r["name"]: (r["status"], r["metrics"].get("total_loss")) for r in json.loads(result.output)["runs"]}


def test_list_index_follows_tags_created_deleted_and_moved(project):
    gen(project, {"notes.txt": "x"}, commit="base")
    a, b = "henry_v2_debug_20261124_100000", "henry_v2_debug_20261124_110000"
    _tag(project, a, "success", 1.5)
    assert _listed(project) == {a: ("success", 1.5)}
    index = project.state / "registry-index.json"
    assert index.exists()  # written by the first list
    _tag(project, b, "failed", 9.0)
    assert _listed(project) == {a: ("success", 1.5), b: ("failed", 9.0)}
    sh(project.root, "git", "tag", "-d", a)
    assert _listed(project) == {b: ("failed", 9.0)}
    assert a not in index.read_text()  # its row is dropped
    sh(project.root, "git", "tag", "-d", b)
    _tag(project, b, "success", 1.2)  # the same name, another tag object
    assert _listed(project) == {b: ("success", 1.2)}
    # A foreign tag that only looks like a run is reported, never dropped silently, and never cached wrong.
    sh(project.root, "git", "tag", "-a", a, "-m", "hand-made")
    result = run_cli(project.root, "list")
    assert f"tag {a} looks like a run" in result.output and b in result.output


def test_list_is_the_same_with_a_lost_or_corrupt_or_unwritable_index(project):
    gen(project, {"notes.txt": "x"}, commit="base")
    for i in range(5):
        _tag(project, f"henry_v2_debug_20261124_10000{i}", "success" if i % 2 else "failed", float(i))
    index = project.state / "registry-index.json"
    truth = _listed(project)
    assert len(truth) == 5
    assert _listed(project) == truth  # from the index
    index.write_text('{"format": "henryvc-registry-index/1", "rows": {"deadbeef": ')  # torn write
    assert _listed(project) == truth
    index.write_text(json.dumps({"format": "some-older-layout", "rows": {}}))
    assert _listed(project) == truth
    for damaged in ({"format": "henryvc-registry-index/2"}, {"format": "henryvc-registry-index/2", "rows": []},
                    {"format": "henryvc-registry-index/2", "rows": {"ab": ["tag", "c"]}}, [1, 2]):
        index.write_text(json.dumps(damaged))  # valid JSON of the wrong shape
        assert _listed(project) == truth
    shutil.rmtree(project.state)  # a fresh clone has no .henryvc/ (git-ignored): list makes it
    assert _listed(project) == truth and index.is_file()
    index.unlink()
    index.mkdir()  # cannot be read or replaced: list goes without it
    assert _listed(project) == truth


def test_list_json_carries_the_summary_head_and_skips_records_naming_no_run(project):
    gen(project, {"notes.txt": "x"}, commit="base")
    name = "henry_v2_debug_20261124_100000"
    _tag(project, name, "success", 1.5)
    odd = project.runs / "henry_v2_debug_20261124_090000"
    odd.mkdir(parents=True)
    (odd / "run.json").write_text(json.dumps({"name": "not-a-run", "major": 2, "variant": "debug",
                                              "created": "x", "status": "created"}))
    result = run_cli(project.root, "list", "--json")
    assert result.exit_code == 0, result.output
    [run] = json.loads(result.output)["runs"]
    assert set(run["summary"]) == {"status", "verdict", "metrics", "created", "description"}
    assert "data" in json.loads(run_cli(project.root, "show", name, "--json").output)["summary"]


def test_list_and_show_say_where_each_run_folder_is_archived_or_not(project):
    a = trained_run(project, seed=1)
    assert run_cli(project.root, "tag-run", a).exit_code == 0
    b = trained_run(project, variant="stable", seed=2)  # untagged
    failed = project.runs / "archive" / "failed"
    failed.mkdir(parents=True, exist_ok=True)
    os.rename(project.run_dir(a), failed / a)  # as `henryvc archive` moves it
    runs = {r["name"]: r for r in json.loads(run_cli(project.root, "list", "--json").output)["runs"]}
    assert runs[a]["folder"] == f"training_runs/archive/failed/{a}" and runs[a]["tagged"]
    assert runs[b]["folder"] == f"training_runs/{b}"
    table = run_cli(project.root, "list").output
    assert "FOLDER" in table.splitlines()[0]
    assert [line.split()[-1] for line in table.splitlines()[1:]] == ["training_runs", "archive/failed"]
    assert f"folder:  training_runs/archive/failed/{a}" in run_cli(project.root, "show", a).output
    shutil.rmtree(failed / a)  # tagged, no folder here any more: restore brings it back
    assert "none in this work tree" in run_cli(project.root, "show", a).output
    assert json.loads(run_cli(project.root, "list", "--json").output)["runs"][1]["folder"] is None


def test_a_symlink_in_training_runs_never_hides_the_real_archived_folder(project, tmp_path):
    b = trained_run(project, variant="stable", seed=2)  # untagged
    failed = project.runs / "archive" / "failed"
    failed.mkdir(parents=True, exist_ok=True)
    os.rename(project.run_dir(b), failed / b)
    (project.runs / b).symlink_to(tmp_path)  # something else took the name in training_runs/
    runs = {r["name"]: r for r in json.loads(run_cli(project.root, "list", "--json").output)["runs"]}
    assert runs[b]["folder"] == f"training_runs/archive/failed/{b}"
    assert run_cli(project.root, "show", b).exit_code == 0
