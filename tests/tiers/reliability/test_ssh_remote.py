"""Beyond one machine: two training boxes that share only a git remote and a DVC remote over SSH.

The DVC remote is served by a real OpenSSH server on loopback (tests/sshd_fixtures.py), reached through
DVC's ssh plugin (dvc-ssh → sshfs → asyncssh), with a throwaway key that lives in each box's
.dvc/config.local, never in git.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from henryvc.core.project import Project
from tests.helpers.cli import run_cli
from tests.helpers.completeness import good_objects, needed
from tests.helpers.project import dvc, sh
from tests.helpers.reliability import big_project, md5, rehash_store, remote_tags, train
from tests.helpers.sshd import keygen

# Heavy: real kills, tmpfs, sshd and big checkpoints (make test runs them; make test-fast does not).
pytestmark = pytest.mark.reliability


def remotes(tmp_path: Path) -> tuple[Path, Path]:
    """The DVC remote's folder (only ever reached through sshd) and a bare git origin, in TMP_PATH."""
    store, origin = tmp_path / "ssh-store", tmp_path / "origin.git"
    store.mkdir()
    sh(tmp_path, "git", "init", "-q", "--bare", str(origin))
    return store, origin


def ssh_box(root: Path, url: str, keyfile: Path, origin: Path) -> Path:
    """A box whose DVC remote is URL (set with `henryvc init --remote`) and whose git remote is ORIGIN."""
    project = big_project(root, root.parent / f"{root.name}-unused-local-remote")
    done = run_cli(project.root, "init", "--remote", url, process=True)
    assert done.returncode == 0, done.stderr
    dvc(project.root, "remote", "modify", "--local", "storage", "keyfile", str(keyfile))
    sh(project.root, "git", "remote", "add", "origin", str(origin))
    sh(project.root, "git", "push", "-q", "origin", "main")
    return project.root


def test_push_on_one_box_restore_on_another_over_real_ssh(sshd, tmp_path):
    store, origin = remotes(tmp_path)
    url = sshd.url(store)
    box_a = ssh_box(tmp_path / "box-a", url, sshd.keyfile, origin)

    committed = sh(box_a, "git", "show", "HEAD:.dvc/config").stdout
    assert url in committed and "keyfile" not in committed  # the URL is shared, the key is per machine
    assert str(sshd.keyfile) in (box_a / ".dvc" / "config.local").read_text()
    assert sh(box_a, "git", "check-ignore", ".dvc/config.local", check=False).returncode == 0

    project = Project(box_a)
    name = train(project, seed=5, mb=2, files=2)
    logins = sshd.logins()
    done = run_cli(box_a, "tag-run", "--push", process=True)
    assert done.returncode == 0, done.stderr
    assert sshd.logins() > logins  # the data went through sshd, not around it
    assert "subsystem 'sftp'" in sshd.log_text()
    assert remote_tags(origin) == [name]
    pushed = rehash_store(store)
    assert not pushed.corrupt and not pushed.litter
    # As sets: the remote holds exactly the objects the tag needs (2 checkpoints, events, voice data, listings).
    assert good_objects(store) == set(needed(box_a, name, [box_a / ".dvc" / "cache"]))

    # Box B: a fresh clone of the git remote, its own key entry, an empty DVC cache.
    box_b = tmp_path / "box-b"
    sh(tmp_path, "git", "clone", "-q", str(origin), str(box_b))
    dvc(box_b, "remote", "modify", "--local", "storage", "keyfile", str(sshd.keyfile))
    assert not (box_b / ".dvc" / "cache").exists()
    done = run_cli(box_b, "restore", name, "--pull", "--json", process=True)
    assert done.returncode == 0, done.stderr
    restored = json.loads(done.stdout)
    assert restored["pulled"] is True and restored["checked_files"] >= 3
    where = Path(restored["path"])
    originals = sorted((project.run_dir(name) / "checkpoints").iterdir())
    assert len(originals) == 2
    for original in originals:
        copy = where / "training_runs" / name / "checkpoints" / original.name
        assert md5(copy) == md5(original)
    assert json.loads((where / "training_runs" / name / "run.json").read_text())["status"] == "success"
    assert run_cli(box_b, "verify", name, "--path", str(where), process=True).returncode == 0
    assert not rehash_store(box_b / ".dvc" / "cache").corrupt


def test_ssh_remote_refusing_the_key_fails_clearly_and_pushes_no_tag(sshd, tmp_path):
    store, origin = remotes(tmp_path)
    stranger = keygen(tmp_path / "not-authorized")
    box = ssh_box(tmp_path / "box", sshd.url(store), stranger, origin)
    name = train(Project(box), seed=2)

    done = run_cli(box, "tag-run", "--push", env={"HENRYVC_LOCK_TIMEOUT": "30"}, timeout=120, process=True)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("henryvc: error: dvc push failed") and len(done.stderr.splitlines()) == 1
    assert "Permission denied" in done.stderr
    assert remote_tags(origin) == []  # data first, tag second: no tag reached the remote without its data
    assert not any(store.iterdir())
    assert sh(box, "git", "tag", "--list").stdout.split() == [name]  # the local tag is kept

    # Fix the key, re-run the same command: it pushes the data, then the tag.
    dvc(box, "remote", "modify", "--local", "storage", "keyfile", str(sshd.keyfile))
    done = run_cli(box, "tag-run", name, "--push", process=True)
    assert done.returncode == 0, done.stderr
    assert remote_tags(origin) == [name]
    assert good_objects(store) == set(needed(box, name, [box / ".dvc" / "cache"]))  # every object, as sets


def test_ssh_server_down_fails_clearly(sshd, tmp_path):
    store, origin = remotes(tmp_path)
    box = ssh_box(tmp_path / "box", sshd.url(store), sshd.keyfile, origin)
    name = train(Project(box), seed=3)
    assert run_cli(box, "tag-run", name, "--push", process=True).returncode == 0
    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", str(origin), str(clone))
    dvc(clone, "remote", "modify", "--local", "storage", "keyfile", str(sshd.keyfile))

    sshd.stop()
    later = train(Project(box), seed=4)
    done = run_cli(box, "tag-run", later, "--push", timeout=120, process=True)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("henryvc: error: dvc push failed") and len(done.stderr.splitlines()) == 1
    assert "Connect call failed" in done.stderr
    assert remote_tags(origin) == [name]  # the new tag stays local until its data is pushed
    done = run_cli(clone, "restore", name, "--pull", timeout=120, process=True)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("henryvc: error: dvc pull failed") and len(done.stderr.splitlines()) == 1
    assert "failed to connect to ssh" in done.stderr and "Connect call failed" in done.stderr


def test_ssh_server_without_sftp_is_a_failed_operation_with_its_cause(sshd_without_sftp, tmp_path):
    """Issue 15, item 9: DVC's ssh remote raises ValueError("Can't create any SFTP connections!"), which was
    exit 3 "unexpected error"; it is the remote failing: exit 1, its cause and the next step, nothing pushed."""
    store, origin = remotes(tmp_path)
    box = ssh_box(tmp_path / "box", sshd_without_sftp.url(store), sshd_without_sftp.keyfile, origin)
    name = train(Project(box), seed=5)
    assert run_cli(box, "tag-run", name, process=True).returncode == 0
    for args in (["backup"], ["tag-run", name, "--push"]):
        done = run_cli(box, *args, timeout=180, process=True)
        assert done.returncode == 1, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "unexpected error" not in lines[0], (args, done.stderr)
        assert "SFTP" in lines[0] and "Subsystem sftp" in lines[0], (args, done.stderr)
    assert remote_tags(origin) == [] and not any(store.iterdir())


def test_backup_verify_deep_rehashes_every_object_over_ssh_and_finds_a_flipped_byte(sshd, tmp_path):
    """Over SSH, `backup --verify` checks sizes only (it says so); `--deep` reads every object back through sshd
    and re-hashes it: exactly the flipped object is reported damaged, `--repair` replaces it, and `--deep`
    then passes, having read back every byte the tag holds."""
    store, origin = remotes(tmp_path)
    box = ssh_box(tmp_path / "box", sshd.url(store), sshd.keyfile, origin)
    name = train(Project(box), seed=6, mb=2, files=2)
    assert run_cli(box, "tag-run", name, "--push", process=True).returncode == 0
    objects = {p.parent.name + p.name: p for p in (store / "files" / "md5").rglob("*") if p.is_file()}
    total = sum(p.stat().st_size for p in objects.values())

    checked = run_cli(box, "backup", "--verify", "--deep", "--json", timeout=300, process=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    assert report["content_checked"] is True and report["missing"] == []
    assert report["objects"] == len(objects) and report["read_bytes"] == total  # every object, every byte

    victim = max((p for p in objects.values() if not p.name.endswith(".dir")), key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x40  # bit rot: same size, same name
    victim.write_bytes(bytes(data))
    oid = victim.parent.name + victim.name

    shallow = run_cli(box, "backup", "--verify", "--json", timeout=300, process=True)  # sizes only over a network remote
    assert shallow.returncode == 0, shallow.stdout + shallow.stderr
    assert json.loads(shallow.stdout)["content_checked"] is False
    logins = sshd.logins()
    deep = run_cli(box, "backup", "--verify", "--deep", "--json", timeout=300, process=True)
    assert deep.returncode == 1, deep.stdout + deep.stderr
    assert sshd.logins() > logins  # read back through sshd, not around it
    found = json.loads(deep.stdout)["missing"]
    assert [(m["oid"], m["problem"]) for m in found] == [(oid, f"damaged: its content hashes to {md5(victim)} "
                                                                "on the remote")]
    text = run_cli(box, "backup", "--verify", "--deep", timeout=300, process=True)
    assert text.returncode == 1 and f"damaged: its content hashes to {md5(victim)} on the remote" in text.stdout
    assert "--repair" in text.stdout

    assert run_cli(box, "backup", "--repair", timeout=300, process=True).returncode == 0
    assert rehash_store(store).corrupt == []
    again = run_cli(box, "backup", "--verify", "--deep", "--json", timeout=300, process=True)
    assert again.returncode == 0 and json.loads(again.stdout)["read_bytes"] == total, again.stdout + again.stderr
