"""henryvc.core.recreation: how a re-created run's metrics compare with its tag's (equal on CPU, a relative
tolerance only where one is given), when a re-creation matches, and which environment differences refuse one."""

from __future__ import annotations

import json
import subprocess
import sys

from henryvc.core import environment, recreation
from henryvc.core.recreation import Drift, MetricChange, Recreation


def test_compare_metrics_pairs_every_key_and_equal_means_equal_without_a_tolerance():
    changes = {c.key: c for c in recreation.compare_metrics(
        {"loss": 1.5, "steps": 1000, "verdict": "success", "only_tagged": 1},
        {"loss": 1.5000001, "steps": 1000, "verdict": "success", "only_here": 2})}
    assert sorted(changes) == ["loss", "only_here", "only_tagged", "steps", "verdict"]
    assert changes["steps"].same and changes["steps"].delta == 0
    assert not changes["loss"].same and abs(changes["loss"].delta - 1e-7) < 1e-12  # CPU: any difference counts
    assert changes["verdict"].same and changes["verdict"].delta is None  # not numbers: compared as they are
    assert changes["only_tagged"].recreated is None and not changes["only_tagged"].same
    assert not changes["only_here"].same


def test_a_relative_tolerance_and_the_evaluation_clock():
    within = MetricChange("loss", 1.0, 1.0005, 0.0005, rtol=1e-3)
    beyond = MetricChange("loss", 1.0, 1.002, 0.002, rtol=1e-3)
    assert within.same and not beyond.same
    assert MetricChange("eval_asr_seconds", 10.0, 99.0, 89.0).same  # how long evaluation took is never a difference


def _recreation(**overrides) -> Recreation:
    fields = {"name": "henry_v2_debug_20200101_000000", "worktree": "/tmp/w", "image": "", "exit_code": 0,
              "metrics_rewritten": True, "metrics": [MetricChange("loss", 1.0, 1.0, 0.0)], "identical": True}
    return Recreation(**{**fields, **overrides})


def test_matches_needs_a_good_exit_rewritten_metrics_equal_metrics_and_identical_training():
    assert _recreation().matches and _recreation(identical=None).matches  # nothing to compare is not a mismatch
    assert not _recreation(exit_code=1).matches
    assert not _recreation(metrics_rewritten=False).matches
    assert not _recreation(metrics=[MetricChange("loss", 1.0, 1.1, 0.1)]).matches
    assert not _recreation(identical=False).matches
    # On CUDA the tolerance decides, not bitwise identity.
    assert _recreation(identical=False, tolerance=recreation.CUDA_TOLERANCE, within_tolerance=True).matches
    assert not _recreation(tolerance=recreation.CUDA_TOLERANCE, within_tolerance=False).matches
    data = _recreation(metrics=[MetricChange("loss", 1.0, 1.1, 0.1)]).to_dict()
    assert data["matches"] is False and data["metrics"][0]["same"] is False
    json.dumps(data)  # what --json prints


def test_read_metrics_flattens_keeps_scalars_and_reads_a_broken_file_as_empty(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"loss": 1.5, "eval": {"wer": 0.1, "per_clip": [1, 2]}, "ok": True, "none": None}))
    assert recreation.read_metrics(path) == {"loss": 1.5, "eval.wer": 0.1, "ok": True, "none": None}
    path.write_text("{not json")
    assert recreation.read_metrics(path) == {}
    assert recreation.read_metrics(tmp_path / "absent.json") == {}


def test_drift_finds_code_package_python_and_image_and_only_imported_packages_block():
    recorded = {"python": "3.11.7", "implementation": "CPython", "arch": "x86_64", "imported": ["NumPy", "torch"],
                "code": {"files": {"henryvc/core/a.py": "a" * 64, "gone.py": "b" * 64}},
                "image": {"image_id": "sha256:" + "1" * 64}}
    here = {"python": "3.11.9", "implementation": "CPython", "arch": "x86_64",
            "code": {"files": {"henryvc/core/a.py": "c" * 64}}}
    found = recreation.drift(recorded, {"numpy": "2.0.0", "six": "1.16.0", "torch": "2.1.0"},
                             here, {"numpy": "2.1.0", "six": "1.17.0", "torch": "2.1.0"})
    kinds = {(d.kind, d.name): d for d in found}
    assert set(kinds) == {("code", "henryvc/core/a.py"), ("code", "gone.py"), ("package", "numpy"),
                          ("package", "six"), ("python", ""), ("image", "")}
    assert kinds[("package", "numpy")].blocks and not kinds[("package", "six")].blocks  # six: never imported
    assert [d.name for d in recreation.blocking(found) if d.kind == "package"] == ["numpy"]
    assert kinds[("code", "gone.py")].current is None and kinds[("image", "")].current == "no image"
    assert kinds[("python", "")].line() == "python: 3.11.7 at the tag, 3.11.9 here"
    assert kinds[("code", "gone.py")].line() == "code gone.py: sha256 bbbbbbbbbbbb at the tag, absent here"
    assert kinds[("package", "six")].line().endswith(f"({environment.NOT_IMPORTED})")
    # A run that recorded no `imported` list: every package difference blocks.
    old = recreation.drift({"python": "3.11.7"}, {"six": "1.16.0"}, {"python": "3.11.7"}, {"six": "1.17.0"})
    assert old == [Drift("package", "six", "1.16.0", "1.17.0", True)]


def test_changes_is_diffs_environment_section():
    assert recreation.changes(None, None) == []
    assert recreation.changes(({}, {}), None) == [{"kind": "lock", "name": "", "a": "recorded", "b": "none"}]
    assert recreation.changes(({"python": "3.11"}, {"a": "1"}), ({"python": "3.11"}, {"a": "2"})) == [
        {"kind": "package", "name": "a", "a": "1", "b": "2"}]
    assert recreation.package_changes({"a": "1", "b": "2"}, {"b": "2", "c": "3"}) == [("a", "1", None), ("c", None, "3")]


def _check(run_dir) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "henryvc.core.recreation", "--check", str(run_dir)],
                          capture_output=True, text=True, timeout=120)


def test_check_prints_the_drift_of_a_run_folder_as_one_json_line(tmp_path):
    done = _check(tmp_path)  # no lock recorded: null
    assert done.returncode == 0 and done.stdout == "null\n", done.stderr
    environment.write(tmp_path)  # recorded by this very interpreter: no drift
    done = _check(tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout) == [], done.stderr
    lock = tmp_path / environment.LOCK_FILE
    lock.write_text(lock.read_text() + "henryvc-not-installed==9.9\n")
    [drift] = json.loads(_check(tmp_path).stdout)
    assert (drift["kind"], drift["name"], drift["recorded"], drift["current"]) == (
        "package", "henryvc-not-installed", "9.9", None)
    assert recreation.main(["--check"]) == 2 and recreation.main(["--check", str(tmp_path / "absent")]) == 2
