"""henryvc.adapters.dvcrepo on real DVC projects: the outputs at a revision and in the work tree (cached or git's),
what the cache lacks, status, checkout, push and pull, DVC's repo lock, and the refusals before DVC opens a project."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from henryvc.adapters import dvcrepo, dvcstore, gitrepo
from henryvc.adapters.dvcrepo import Out
from henryvc.errors import BadInput, HenryvcError, NotReady
from henryvc.hashing import md5_file
from tests.helpers.lifecycle import train
from tests.helpers.project import sh


@pytest.fixture
def trained(project):
    """The project with one run trained by the fake stage and committed (dvc.lock at HEAD); its name."""
    name = train(project, seed=1)
    sh(project.root, "git", "add", "-A")
    sh(project.root, "git", "commit", "-qm", "trained")
    return name


def lock_outs(root: Path) -> dict[str, str]:
    """path -> md5 of every output dvc.lock records (read here with plain YAML)."""
    stages = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    return {o["path"]: o["md5"] for stage in stages.values() for o in stage.get("outs", [])}


def test_outs_at_a_revision_and_in_the_work_tree_say_which_outputs_git_holds(project, trained):
    run = f"training_runs/{trained}"
    outs = {o.path: o for o in dvcrepo.outs_at(gitrepo.open_git(project.root), "HEAD")}

    recorded = lock_outs(project.root)
    assert {p: o.md5 + (".dir" if o.is_dir else "") for p, o in outs.items() if p != "voice_data"} == recorded
    assert outs[f"{run}/checkpoints"].is_dir and outs[f"{run}/checkpoints"].cached
    assert not outs[f"{run}/logs"].cached and not outs[f"{run}/metrics.json"].cached  # `cache: false`: git's
    assert outs["voice_data"].cached and outs["voice_data"].nfiles == 3
    assert {o.path: o for o in dvcrepo.workspace_outs(project.root)} == outs


def test_outs_at_an_older_revision_are_that_revisions(project, trained):
    before = gitrepo.commit_of(gitrepo.open_git(project.root), "HEAD~1")
    assert [o.path for o in dvcrepo.outs_at(gitrepo.open_git(project.root), before)] == ["voice_data"]


def test_object_path_prefers_dvc3s_layout_and_finds_dvc2s(tmp_path):
    out = Out("model.pth", "ab" + "c" * 30, False)
    assert dvcrepo.object_path(tmp_path, out) == tmp_path / "files" / "md5" / "ab" / ("c" * 30)
    legacy = tmp_path / "ab" / ("c" * 30)
    legacy.parent.mkdir()
    legacy.write_text("old")
    assert dvcrepo.object_path(tmp_path, out) == legacy
    assert dvcrepo.object_path(tmp_path, Out("d", out.md5, True)).name == "c" * 30 + ".dir"


def test_missing_objects_names_an_output_whose_file_left_the_cache(project, trained):
    cache = dvcrepo.cache_dir(project.root)
    assert cache == project.root / ".dvc" / "cache"
    outs = dvcrepo.workspace_outs(project.root)
    assert dvcrepo.missing_objects(cache, outs) == []
    checkpoint = project.run_dir(trained) / "checkpoints" / "checkpoint_500.pth"
    dvcrepo.object_path(cache, Out("", md5_file(checkpoint), False)).unlink()
    assert dvcrepo.missing_objects(cache, outs) == [f"training_runs/{trained}/checkpoints"]


def test_status_is_clean_after_repro_and_require_clean_refuses_a_changed_input(project, trained):
    assert dvcrepo.status(project.root) == {}
    dvcrepo.require_clean(project.root)
    (project.root / "voice_data" / "metadata.csv").write_text("clip1|Changed.|Changed.\n")
    with pytest.raises(NotReady, match=r"dvc status is not clean \(.*voice_data.*\): run `dvc repro`"):
        dvcrepo.require_clean(project.root)


def test_checkout_brings_outputs_back_and_names_what_the_cache_lacks(project, trained):
    checkpoints = project.run_dir(trained) / "checkpoints"
    before = {p.name: md5_file(p) for p in checkpoints.iterdir()}
    shutil.rmtree(checkpoints)
    dvcrepo.checkout(project.root)
    assert {p.name: md5_file(p) for p in checkpoints.iterdir()} == before

    shutil.rmtree(checkpoints)
    shutil.rmtree(dvcrepo.cache_dir(project.root) / "files")
    with pytest.raises(NotReady, match="the DVC cache lacks data for .*run again with --pull"):
        dvcrepo.checkout(project.root)


def test_push_sends_what_the_remote_lacks_and_pull_brings_it_back(project, trained):
    assert dvcrepo.push(project.root) > 0
    assert dvcrepo.push(project.root) == 0  # all there already
    checkpoints = project.run_dir(trained) / "checkpoints"
    before = {p.name: md5_file(p) for p in checkpoints.iterdir()}
    shutil.rmtree(checkpoints)
    shutil.rmtree(dvcrepo.cache_dir(project.root) / "files")

    dvcrepo.pull(project.root, targets=[f"training_runs/{trained}/checkpoints"])

    assert {p.name: md5_file(p) for p in checkpoints.iterdir()} == before


def test_a_push_stopped_by_a_short_listing_is_damaged_listing_and_push_mending_mends_it(project, tmp_path):
    assert dvcrepo.push(project.root) > 0
    [listing] = (tmp_path / "dvc-remote").rglob("*.dir")  # voice_data's
    whole = listing.read_bytes()
    listing.write_bytes(whole[:10])
    with pytest.raises(dvcrepo.DamagedListing, match=r"^dvc push failed: object .*\.dir is corrupted"):
        dvcrepo.push(project.root)
    assert dvcstore.push_mending(project.root) == 1
    assert listing.read_bytes() == whole


def test_a_pull_from_a_remote_that_is_not_there_is_one_henryvc_error(project, tmp_path):
    shutil.rmtree(tmp_path / "dvc-remote")
    shutil.rmtree(dvcrepo.cache_dir(project.root) / "files")
    with pytest.raises(HenryvcError, match="^dvc pull failed: "):
        dvcrepo.pull(project.root)


def test_add_tracks_a_folder_and_a_missing_path_is_one_error(project):
    (project.root / "extra").mkdir()
    (project.root / "extra" / "x.txt").write_text("x\n")
    dvcrepo.add(project.root, ["extra"])
    assert [p.name for p in dvcrepo.dvcfiles(project.root)] == ["extra.dvc", "voice_data.dvc"]
    assert "/extra" in (project.root / ".gitignore").read_text()
    with pytest.raises(HenryvcError, match="^dvc add failed: "):
        dvcrepo.add(project.root, ["nothing_here"])


def test_the_run_check_runs_before_dvc_reads_params_yaml(project):
    (project.root / "params.yaml").write_text("run: ../../etc\nfake:\n  seed: 1\n")
    with pytest.raises(BadInput):
        dvcrepo.open_repo(project.root)


def test_a_dvc_config_dvc_refuses_is_bad_input_naming_its_line(project):
    config = project.root / ".dvc" / "config"
    config.write_text(config.read_text().replace("[core]\n", "[core]\n    no_such_option = 1\n"))
    line = config.read_text().splitlines().index("    no_such_option = 1") + 1
    with pytest.raises(BadInput, match=rf"^\.dvc/config, line {line}: DVC refuses it \(extra keys not allowed"):
        dvcrepo.open_repo(project.root)


def test_check_files_refuses_a_broken_dvc_lock_naming_it(project, trained):
    (project.root / "dvc.lock").write_text("stages:\n  train: [\n")
    with pytest.raises(BadInput, match=r"^dvc.lock, line \d+: not valid YAML"):
        dvcrepo.check_files(project.root)


HOLD = ("import sys, time\nfrom dvc.repo import Repo, lock_repo\nwith lock_repo(Repo(sys.argv[1])):\n"
        "    print('held', flush=True)\n    time.sleep(60)\n")


def test_dvcs_repo_lock_held_by_another_process_is_seen_busy_and_not_taken(project):
    assert not dvcrepo.is_busy(project.root)
    with dvcrepo.lock_if_free(dvcrepo.open_repo(project.root)) as got:
        assert got is True
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(project.root)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert dvcrepo.is_busy(project.root)
        with dvcrepo.lock_if_free(dvcrepo.open_repo(project.root)) as got:
            assert got is False
    finally:
        holder.kill()
        holder.wait()
    assert not dvcrepo.is_busy(project.root)


TORN = '{"read": {}, "write": {"/p/training_runs/r/checkpoints": {"pid": 4242, "cm'


def test_a_stage_lock_table_a_kill_tore_is_dropped_so_dvc_works_again(project):
    table = project.root / ".dvc" / "tmp" / "rwlock"
    table.parent.mkdir(exist_ok=True)
    table.write_text(TORN)
    refused = subprocess.run([sys.executable, "-m", "dvc", "status"], cwd=project.root, capture_output=True, text=True)
    assert refused.returncode != 0 and "JSON structure is corrupted" in refused.stderr  # DVC alone refuses
    assert any(stage.endswith("dvc.yaml:train") for stage in dvcrepo.status(project.root))  # not trained yet
    assert "4242" not in table.read_text() and json.loads(table.read_text())  # the fresh table DVC wrote
    table.write_text('{"read": {}, "write": {}}')  # a table that parses is DVC's, left as it is
    assert dvcrepo.drop_torn_rwlock(project.root) is False
    assert table.read_text() == '{"read": {}, "write": {}}'
    table.write_text(TORN)
    assert dvcrepo.drop_torn_rwlock(project.root) is True
    assert not table.exists()


GUARD = ("import sys, time\nfrom dvc.lock import make_lock\nwith make_lock(sys.argv[1]):\n"
         "    print('held', flush=True)\n    time.sleep(60)\n")


def test_a_torn_table_is_left_while_another_process_holds_its_guard(project):
    table = project.root / ".dvc" / "tmp" / "rwlock"
    table.parent.mkdir(exist_ok=True)
    table.write_text(TORN)
    holder = subprocess.Popen([sys.executable, "-c", GUARD, str(table.with_name("rwlock.lock"))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert dvcrepo.drop_torn_rwlock(project.root) is False
        assert table.read_text() == TORN
    finally:
        holder.kill()
        holder.wait()
    assert dvcrepo.drop_torn_rwlock(project.root) is True


def test_cache_types_are_links_only_and_the_probe_leaves_nothing(tmp_path):
    folder = tmp_path / "cache"
    assert dvcrepo.cache_types(folder) in (dvcrepo.REFLINK_TYPES, dvcrepo.LINK_TYPES)
    assert "copy" not in dvcrepo.cache_types(folder)
    assert list(folder.iterdir()) == []


def test_known_hashes_are_the_md5s_dvcs_state_holds_for_unchanged_files(project):
    wavs = sorted((project.root / "voice_data" / "wavs").iterdir())
    dvcrepo.status(project.root)  # DVC hashes the work tree and keeps what it found
    known = dvcrepo.known_hashes(project.root, wavs)
    assert known == {p: md5_file(p) for p in wavs}
    wavs[0].write_bytes(b"changed")
    assert wavs[0] not in dvcrepo.known_hashes(project.root, wavs)


def test_remote_failures_are_dvcs_and_os_errors_not_bugs_elsewhere():
    from dvc.exceptions import DvcException

    assert dvcrepo.is_remote_failure(OSError("connection refused"))
    assert dvcrepo.is_remote_failure(DvcException("failed to push"))
    try:
        json.loads("{")
    except ValueError as exc:
        assert not dvcrepo.is_remote_failure(exc)  # raised in json, not in a remote's transport
    assert dvcrepo.remote_failure_text(ValueError("Can't create any SFTP connections!")).startswith(
        "ValueError: Can't create any SFTP connections! (the SSH server answers but serves no SFTP")
