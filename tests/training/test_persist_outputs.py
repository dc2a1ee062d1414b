"""What the train stage relies on from DVC: `dvc repro` unprotects a persisted output before it runs the stage.

A committed checkpoint in a project with a hardlink cache *is* the cache's object, and Coqui rewrites
best_model.pth in place when a run continues. The stage no longer calls DVC itself (it stands on henryvc.core
alone): this test pins the DVC behaviour that keeps the cache whole, on real DVC and git.
"""

from __future__ import annotations

import hashlib
import os

from tests.helpers.project import dvc, sh

WRITE = "import pathlib\np = pathlib.Path('out/model.pth')\nwith open(p, 'r+b') as f:\n    f.write(b'rewritten in place')\n"
STAGE = """stages:
  train:
    cmd: python write.py
    outs:
      - out:
          persist: true
"""


def _md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def committed_output(tmp_path):
    """A project with a hardlink cache whose stage output out/model.pth is committed: (root, its md5, the
    cache's object), the work tree file and the object being one file."""
    root = tmp_path / "project"
    root.mkdir()
    sh(root, "git", "init", "-q")
    dvc(root, "init", "-q")
    dvc(root, "config", "cache.type", "hardlink")
    (root / "dvc.yaml").write_text(STAGE)
    (root / "write.py").write_text(WRITE)  # opens the file for update, as Coqui's best_model.pth is rewritten
    (root / "out").mkdir()
    (root / "out" / "model.pth").write_bytes(b"the checkpoint as committed, " * 100)
    dvc(root, "commit", "-f", "-q", "train")  # the output goes into the cache; the work tree file becomes a link
    committed = _md5(root / "out" / "model.pth")
    obj = root / ".dvc" / "cache" / "files" / "md5" / committed[:2] / committed[2:]
    assert obj.is_file() and os.stat(root / "out" / "model.pth").st_ino == os.stat(obj).st_ino  # a hard link
    return root, committed, obj


def test_dvc_repro_unprotects_a_persisted_output_before_the_stage_writes_in_place(tmp_path):
    root, committed, obj = committed_output(tmp_path)
    (root / "dvc.yaml").write_text(STAGE + "# changed: the stage must run again\n")
    dvc(root, "repro", "-q", "--force", "train")
    assert (root / "out" / "model.pth").read_bytes().startswith(b"rewritten in place")  # written in place
    assert _md5(obj) == committed  # ... and the cache's object is untouched: DVC gave the stage a private copy


def test_without_dvc_repro_the_same_write_lands_in_the_cache(tmp_path):
    # The control: the stage's command run by hand over a committed output writes into the cache's object,
    # so the test above would see it if DVC did not unprotect first.
    root, committed, obj = committed_output(tmp_path)
    os.chmod(obj, 0o644)  # DVC leaves cache objects read-only; root writes through that anyway, others need this
    sh(root, "python", "write.py")
    assert _md5(obj) != committed
