"""henryvc.paths: the source tree and the shipped templates are where the code says."""

from __future__ import annotations

from pathlib import Path

from henryvc import paths

REPO = Path(__file__).resolve().parents[1]


def test_the_source_root_is_the_tree_that_holds_both_packages():
    assert paths.SOURCE_ROOT == REPO
    assert (paths.SOURCE_ROOT / "cli" / "henryvc" / "paths.py").is_file()
    assert (paths.SOURCE_ROOT / "training" / "henryvc_training").is_dir()


def test_the_templates_init_copies_are_there():
    assert paths.TEMPLATES.is_dir() and paths.TEMPLATES.parent.name == "henryvc"
    assert (paths.TEMPLATES / "scripts" / "train_henry.py").is_file()
    assert list(paths.TEMPLATES.glob("*.yaml")), "the pipeline templates"
    assert list((paths.TEMPLATES / "configs").glob("*.json")), "the config templates"
