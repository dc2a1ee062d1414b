"""henryvc.ops.backup on real projects and local DVC remotes: which remote a backup goes to, every tag's objects
pushed and checked object by object (missing, emptied or flipped bytes found, backup mends them), --best-only."""

from __future__ import annotations

import json

import pytest

from henryvc import api
from henryvc.adapters import dvcrepo, dvcstore, gitrepo
from henryvc.core.project import Project
from henryvc.errors import BadInput, IntegrityError, NotReady
from henryvc.hashing import md5_file
from henryvc.ops import backup as backups
from tests.helpers.cli import run_cli
from tests.helpers.lifecycle import remote_objects, run_with_status, train
from tests.helpers.project import dvc, gen


def checkpoint_files(project: Project, name: str) -> dict[str, str]:
    """relpath → md5 of the checkpoints recorded at tag NAME (the listing read from the cache)."""
    [out] = [o for o in dvcstore.cached_outs_at(gitrepo.open_repo(project.root), name) if o.path.endswith("checkpoints")]
    return dvcstore.out_files(project.root / ".dvc" / "cache", None, out)


def test_backup_verify_finds_a_missing_object_and_backup_mends_it(project, tmp_path):
    name = run_with_status(project, "success", seed=1, tag=True)
    result = run_cli(project.root, "backup", "--verify")
    assert result.exit_code == 1 and "missing:" in result.output  # nothing pushed yet
    result = run_cli(project.root, "backup", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["pushed_objects"] > 0
    assert run_cli(project.root, "backup", "--verify").exit_code == 0

    victim = next(p for p in remote_objects(tmp_path / "dvc-remote") if p.stat().st_size == 131072)
    victim.unlink()
    result = run_cli(project.root, "backup", "--verify", "--json")
    assert result.exit_code == 1
    [missing] = json.loads(result.output)["missing"]
    assert missing["tag"] == name and missing["path"].startswith(f"training_runs/{name}/checkpoints/")
    assert missing["oid"] == victim.parent.name + victim.name
    assert run_cli(project.root, "backup").exit_code == 0  # DVC's remote index does not hide the hole
    assert victim.is_file() and run_cli(project.root, "backup", "--verify").exit_code == 0

    # What a push killed mid-reflink leaves: an empty file under the object's name, which DVC takes as there.
    good = victim.read_bytes()
    victim.unlink()
    victim.write_bytes(b"")
    result = run_cli(project.root, "backup", "--verify")
    assert result.exit_code == 1 and "damaged: 0 bytes on the remote" in result.output
    assert run_cli(project.root, "backup").exit_code == 0
    assert victim.read_bytes() == good and run_cli(project.root, "backup", "--verify").exit_code == 0


def test_backup_best_only_to_a_second_remote(project, tmp_path):
    name = train(project, seed=1)
    gen(project, {f"training_runs/{name}/checkpoints/best_model.pth": b"best weights" * 1000})
    dvc(project.root, "commit", "-f", "-q")
    api.tag_run(project, name)
    second = tmp_path / "backup-remote"
    dvc(project.root, "remote", "add", "backup", str(second))
    result = run_cli(project.root, "backup", "--best-only", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["remote"] == "backup"
    held = {p.parent.name + p.name for p in remote_objects(second)}
    files = checkpoint_files(project, name)
    assert files["best_model.pth"] in held and files["checkpoint_500.pth"] not in held
    result = run_cli(project.root, "backup", "--verify", "--remote", "backup", "--json")
    assert result.exit_code == 1
    assert {m["path"].rsplit("/", 1)[1] for m in json.loads(result.output)["missing"]} >= {"checkpoint_500.pth"}
    assert run_cli(project.root, "backup", "--remote", "nope").exit_code == 2


def test_the_backup_remote_is_the_named_one_then_backup_then_the_default(project, tmp_path):
    with dvcrepo.open_repo(project.root) as dvc_repo:
        assert backups.backup_remote(dvc_repo).name == "storage"
        with pytest.raises(BadInput, match="no DVC remote named 'nope' \\(configured: storage\\)") as raised:
            backups.backup_remote(dvc_repo, "nope")
        assert raised.value.exit_code == 2
    dvc(project.root, "remote", "add", "backup", str(tmp_path / "backup-remote"))
    with dvcrepo.open_repo(project.root) as dvc_repo:
        assert backups.backup_remote(dvc_repo).name == "backup"
        assert backups.backup_remote(dvc_repo, "storage").name == "storage"


def test_no_remote_at_all_is_refused_before_anything_is_pushed(project):
    run_with_status(project, "success", seed=1, tag=True)
    dvc(project.root, "remote", "remove", "storage")
    with pytest.raises(NotReady, match="no DVC remote is configured"):
        backups.backup(project)
    with pytest.raises(NotReady):
        backups.verify_backup(project)


def test_verify_reads_a_local_remote_back_and_repair_replaces_a_flipped_byte(project, tmp_path):
    name = run_with_status(project, "success", seed=1, tag=True)
    done = backups.backup(project)
    assert done.remote == "storage" and done.tags == [name] and not done.lost and done.git_pushed is False  # no origin
    check = backups.verify_backup(project)
    assert check.ok and check.content_checked and check.tags == 1 and check.read_bytes >= 2 * 131072
    assert json.loads(json.dumps(check.to_dict()))["ok"] is True
    md5 = checkpoint_files(project, name)["checkpoint_500.pth"]
    victim = tmp_path / "dvc-remote" / "files" / "md5" / md5[:2] / md5[2:]
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF  # same size: only reading it back tells
    victim.chmod(0o644)
    victim.write_bytes(bytes(data))
    check = backups.verify_backup(project)
    [bad] = check.missing
    assert not check.ok and (bad.tag, bad.oid) == (name, md5) and bad.problem.startswith("damaged")
    assert bad.path == f"training_runs/{name}/checkpoints/checkpoint_500.pth"
    mended = backups.backup(project, repair=True)
    assert mended.repaired_objects == 1 and mended.read_bytes > 0 and not mended.lost
    assert backups.verify_backup(project).ok and md5_file(victim) == md5


def test_best_only_knows_a_best_model_file_by_its_name():
    assert backups.BEST_MODEL.search("training_runs/x/checkpoints/best_model.pth")
    assert backups.BEST_MODEL.search("best_model_1000.pth")
    assert not backups.BEST_MODEL.search("training_runs/x/checkpoints/checkpoint_500.pth")
    assert not backups.BEST_MODEL.search("training_runs/x/not_best_model.pth")
    assert not backups.BEST_MODEL.search("training_runs/best_model/checkpoint_500.pth")  # a folder's name is not a file's


def test_push_tag_data_mends_a_hole_and_refuses_an_object_that_is_nowhere_whole(project, tmp_path):
    name = run_with_status(project, "success", seed=1, tag=True)
    git_repo = gitrepo.open_git(project.root)
    assert backups.push_tag_data(project, git_repo, name) > 0
    victim = max(remote_objects(tmp_path / "dvc-remote"), key=lambda p: p.stat().st_size)
    whole = victim.read_bytes()
    victim.write_bytes(b"")  # what a killed push leaves; `dvc push` takes the name for the object
    assert backups.push_tag_data(project, git_repo, name) == 1 and victim.read_bytes() == whole
    victim.write_bytes(b"")
    (project.root / ".dvc" / "cache" / victim.relative_to(tmp_path / "dvc-remote")).unlink()
    with pytest.raises(IntegrityError, match=rf"^1 object\(s\) of {name} are neither in the DVC cache nor whole on "
                                             r"storage \(first: training_runs/"):
        backups.push_tag_data(project, git_repo, name)
