"""Code identity and stage_code/: the import closure, dvc.yaml's code dependencies, `dvc status` on a code edit."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from henryvc import api
from henryvc.core import codeid, stagecode
from henryvc.core.project import Project

REPO = Path(__file__).resolve().parents[2]


def _dvc(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True, text=True, check=check)


@pytest.mark.parametrize("stage", codeid.STAGES)
def test_template_pipeline_lists_exactly_the_import_closure(stage):
    spec = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"][stage]
    listed = [d for d in spec["deps"] if d.startswith(f"{stagecode.FOLDER}/")]
    assert listed == stagecode.stage_deps(stage), (
        "a stage imports other henryvc modules now: run `python -m henryvc.core.stagecode --sync .` and commit dvc.yaml")


@pytest.mark.parametrize("stage", codeid.STAGES)
def test_closure_holds_every_henryvc_module_the_stage_really_imports(stage):
    # What Python loads when the stage module is imported (its top-level imports) must all be listed;
    # the ast closure also holds the modules imported inside functions.
    code = (f"import sys, json, henryvc_training.{stage}; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('henryvc', 'henryvc_training'))))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                       check=True).stdout)
    closure = codeid.closure(f"henryvc_training.{stage}")
    assert set(loaded) <= set(closure), set(loaded) - set(closure)


def test_closure_follows_lazy_relative_and_from_imports(tmp_path):
    pkg = tmp_path / "henryvc"
    train = tmp_path / "henryvc_training"
    for folder in (pkg, train):
        folder.mkdir()
        (folder / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from henryvc.c import thing\n")
    (pkg / "c.py").write_text("thing = 1\n")
    (pkg / "d.py").write_text("")
    (pkg / "e.py").write_text("")
    (pkg / "unused.py").write_text("import henryvc.a\n")
    (train / "train.py").write_text(
        '"""Docs: import henryvc.unused is prose here, and does not parse alone."""\n'
        "import os\nfrom henryvc import a\nfrom .helper import x\n"
        "class K:\n    def m(self):\n        from henryvc import (\n            d,  # parenthesised\n        )\n"
        "        import henryvc.e as \\\n            e\n")
    (train / "helper.py").write_text("x = 1\n")
    dirs = {"henryvc": pkg, "henryvc_training": train}
    assert list(codeid.closure("henryvc_training.train", dirs)) == [
        "henryvc", "henryvc.a", "henryvc.b", "henryvc.c", "henryvc.d", "henryvc.e", "henryvc_training",
        "henryvc_training.helper", "henryvc_training.train"]


def test_identity_hashes_every_file_and_changes_with_one_byte(tmp_path):
    dirs = {name: tmp_path / name for name in codeid.PACKAGES}
    for name, folder in codeid.package_dirs().items():
        shutil.copytree(folder, dirs[name], ignore=shutil.ignore_patterns("__pycache__"))
    before = codeid.identity(dirs)
    assert set(before["files"]) == {f for s in codeid.STAGES for f in codeid.stage_files(s, dirs)}
    # A file one stage imports and another does not: only the first stage's digest moves.
    files = {stage: set(codeid.stage_files(stage, dirs)) for stage in codeid.STAGES}
    edited, inside, outside = next((f, a, b) for a in codeid.STAGES for b in codeid.STAGES
                                   for f in sorted(files[a] - files[b]))
    top, _, rest = edited.partition("/")
    with (dirs[top] / rest).open("a") as handle:
        handle.write("# edited\n")
    after = codeid.identity(dirs)
    assert after["stages"][inside] != before["stages"][inside]
    assert after["stages"][outside] == before["stages"][outside]
    assert after["digest"] != before["digest"] and after["files"][edited] != before["files"][edited]


def test_code_edit_makes_dvc_status_report_the_stage_in_an_init_project(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    api.init(root, str(tmp_path / "remote"))
    project = Project(root.resolve())
    # init made the links (git-ignored, not DVC-ignored) and the template pipeline lists the code.
    assert (root / "stage_code" / "henryvc_training").resolve() == codeid.package_dirs()["henryvc_training"]
    assert "stage_code" not in subprocess.run(["git", "status", "--porcelain", "--ignored=no"], cwd=root,
                                              capture_output=True, text=True, check=True).stdout
    assert stagecode.ensure(root) == []  # in place already: nothing changes
    # A prepare stage that ran: its outputs exist and dvc.lock records its dependencies, code included.
    (root / "voice_data").mkdir()
    (root / "voice_data" / "metadata.csv").write_text("clip1|Hi.|Hi.\n")
    name = api.new_run(project, 2, "debug").name
    data = root / "training_runs" / name / "data"
    data.mkdir()
    for out in ("train.csv", "eval.csv", "manifest.json"):
        (data / out).write_text("{}\n" if out.endswith(".json") else "clip1|Hi.\n")
    _dvc(root, "commit", "-f", "-q", "prepare")
    assert "stage_code/henryvc_training/prepare.py" in (root / "dvc.lock").read_text()
    assert "prepare" not in _dvc(root, "status", "prepare").stdout.replace("Data and pipelines are up to date.", "")
    # The installed stage code changes (another henryvc): point the link at a copy with one edit.
    edited = tmp_path / "edited" / "henryvc_training"
    shutil.copytree(codeid.package_dirs()["henryvc_training"], edited, ignore=shutil.ignore_patterns("__pycache__"))
    with (edited / "prepare.py").open("a") as handle:
        handle.write("# a change in the stage code\n")
    stagecode.link(root, {"henryvc_training": edited})
    status = _dvc(root, "status", "prepare").stdout
    assert "changed deps" in status and "stage_code/henryvc_training/prepare.py" in status


def test_init_upgrades_an_old_pipeline_to_list_the_stage_code(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    spec = yaml.safe_load((REPO / "dvc.yaml").read_text())
    for stage in spec["stages"].values():
        stage["deps"] = [d for d in stage["deps"] if not d.startswith("stage_code/")]
        stage["cmd"] = stage["cmd"].replace("henryvc_training.", "training.")
    (root / "dvc.yaml").write_text("# my pipeline\n" + yaml.safe_dump(spec, sort_keys=False))
    api.init(root, str(tmp_path / "remote"))
    text = (root / "dvc.yaml").read_text()
    assert text.startswith("# my pipeline\n")
    upgraded = yaml.safe_load(text)["stages"]
    for stage in codeid.STAGES:
        assert [d for d in upgraded[stage]["deps"] if d.startswith("stage_code/")] == stagecode.stage_deps(stage)
    assert subprocess.run(["git", "status", "--porcelain", "dvc.yaml"], cwd=root, capture_output=True,
                          text=True).stdout == ""  # committed by init
    api.init(root, str(tmp_path / "remote"))  # idempotent
    assert (root / "dvc.yaml").read_text() == text


FLAT = ("adapters/", "core/", "ops/")  # the layer folders: before them every module sat in henryvc/ itself


def _flat(dep: str) -> str:
    for layer in FLAT:
        dep = dep.replace(f"stage_code/henryvc/{layer}", "stage_code/henryvc/")
    return dep


@pytest.mark.parametrize("upgrade", ["new-run", "init"])
def test_a_project_made_before_the_layer_folders_is_brought_up_to_date(tmp_path, upgrade):
    # A project from before the layers: its dvc.yaml lists flat module files (stage_code/henryvc/record.py),
    # which the installed henryvc no longer has, and its links point at that older henryvc's folders.
    root = tmp_path / "old"
    root.mkdir()
    api.init(root, str(tmp_path / "remote"))
    spec = yaml.safe_load((root / "dvc.yaml").read_text())
    for stage in spec["stages"].values():
        stage["deps"] = list(dict.fromkeys(_flat(d) for d in stage["deps"] if d != "stage_code/henryvc/adapters/__init__.py"
                                           and d != "stage_code/henryvc/core/__init__.py"))
    (root / "dvc.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    old = tmp_path / "older-henryvc"
    (old / "henryvc").mkdir(parents=True)
    (old / "henryvc" / "record.py").write_text("# the flat layout\n")
    stagecode.link(root, {"henryvc": old / "henryvc"})
    subprocess.run(["git", "commit", "-qam", "a project from an older henryvc"], cwd=root, check=True)
    assert "stage_code/henryvc/record.py" in (root / "dvc.yaml").read_text()
    project = Project(root.resolve())
    if upgrade == "new-run":
        api.new_run(project, 2, "debug")
    else:
        api.init(root, str(tmp_path / "remote"))
    upgraded = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    for stage in codeid.STAGES:
        listed = [d for d in upgraded[stage]["deps"] if d.startswith("stage_code/")]
        assert listed == stagecode.stage_deps(stage)
        assert all((root / d).is_file() for d in listed), [d for d in listed if not (root / d).is_file()]
    assert "stage_code/henryvc/core/record.py" in upgraded["train"]["deps"]
    assert (root / "stage_code" / "henryvc").resolve() == codeid.package_dirs()["henryvc"]
