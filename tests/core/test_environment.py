"""The environment lock: its format, the drift check against a real other numpy, a venv built back from a lock."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from henryvc.adapters import gitrepo
from henryvc.core import environment, recreation
from tests.helpers.cli import run_cli
from tests.helpers.project import trained_run
from tests.helpers.venvs import layered_venv, record_environment

OTHER_NUMPY = "2.3.5"  # any release other than the venv's own (pyproject pins none: coqui-tts chooses)
PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==\S+$")


def test_lock_is_a_complete_pip_requirements_file():
    packages = environment.freeze()
    text = environment.lock_text(packages)
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert all(PIN.match(line) for line in lines), [line for line in lines if not PIN.match(line)]
    assert packages["numpy"] == metadata.version("numpy")
    assert packages["torch"] == metadata.version("torch")
    assert "henryvc" not in packages  # which henryvc ran is the code identity
    assert len(packages) > 100
    assert environment.parse_lock(text) == packages


def test_freeze_reads_folder_names_as_metadata_says():
    first: dict[str, str] = {}
    for dist in metadata.distributions():  # the slow way: every METADATA file parsed
        first.setdefault(environment.normalize(dist.metadata["Name"]), dist.version)
    first.pop("henryvc")
    assert environment.freeze() == dict(sorted(first.items()))


def test_drift_names_each_difference_once():
    info, pins = environment.current()
    other = json.loads(json.dumps(info))
    other["arch"] = "aarch64"
    first = next(iter(other["code"]["files"]))
    other["code"]["files"][first] = "0" * 64
    other_pins = {**pins, "numpy": "1.0", "extra-pkg": "2"}
    del other_pins["six"]
    lines = [d.line() for d in recreation.drift(info, pins, other, other_pins)]
    assert f"package numpy: {pins['numpy']} at the tag, 1.0 here" in lines
    assert "package extra-pkg: absent at the tag, 2 here" in lines
    assert f"package six: {pins['six']} at the tag, absent here" in lines
    assert f"arch: {info['arch']} at the tag, aarch64 here" in lines
    assert any(line.startswith(f"code {first}: sha256 ") for line in lines)
    assert len(lines) == 5
    assert recreation.drift(info, pins, info, pins) == []


def test_imported_maps_modules_to_distributions_without_stdlib_startup_or_henryvc():
    modules = ["numpy.linalg", "json", "typing", "_distutils_hack", "henryvc.api", "henryvc_training"]
    assert environment.imported(modules, startup=["_distutils_hack"]) == ["numpy"]
    assert environment.imported(["_distutils_hack"], startup=[]) == ["setuptools"]  # counted unless at start-up
    import numpy  # noqa: F401  (imported here, so this process has imported it)

    here = environment.imported()  # this process: pytest imported, the stdlib's `typing` not the `typing` backport
    assert "pytest" in here and "numpy" in here and "typing" not in here and "henryvc" not in here


def test_only_packages_the_training_imported_block():
    info, pins = environment.current()
    info = {**info, environment.IMPORTED: ["numpy"]}
    other_pins = {**pins, "numpy": "1.0", "six": "0.1", "extra-pkg": "2"}
    found = {d.name: d for d in recreation.drift(info, pins, info, other_pins)}
    assert found["numpy"].blocks and not found["six"].blocks and not found["extra-pkg"].blocks
    assert recreation.blocking(list(found.values())) == [found["numpy"]]
    assert found["six"].line() == f"package six: {pins['six']} at the tag, 0.1 here (not imported by the stages)"
    del info[environment.IMPORTED]  # a run trained before the list was kept: every package blocks
    assert all(d.blocks for d in recreation.drift(info, pins, info, other_pins))


def test_record_imported_adds_to_the_run_environment(tmp_path):
    environment.write(tmp_path)
    assert environment.record_imported(tmp_path, ["numpy"]) == ["numpy"]
    assert environment.record_imported(tmp_path, ["yaml"]) == ["numpy", "pyyaml"]  # a resumed session adds
    assert json.loads((tmp_path / environment.INFO_FILE).read_text())[environment.IMPORTED] == ["numpy", "pyyaml"]


@pytest.fixture
def locked_run(project):
    """A tagged run (fake stage) whose folder holds the lock and environment.json of this interpreter, and
    the distributions a stand-in training that imports numpy imported."""
    name = trained_run(project)
    run_dir = project.run_dir(name)
    record_environment(sys.executable, run_dir)  # what the train stage records (it imports numpy)
    subprocess.run(["git", "add", f"training_runs/{name}"], cwd=project.root, check=True)
    result = run_cli(project.root, "tag-run", name)
    assert result.exit_code == 0, result.output
    return project, name


def _layered_venv(base: Path, numpy_version: str) -> Path:
    """A venv over this one (its site-packages through a .pth line) with another numpy installed into it."""
    return layered_venv(base, f"numpy=={numpy_version}")


def test_other_numpy_is_refused_with_one_line_naming_it(locked_run, tmp_path):
    project, name = locked_run
    python = _layered_venv(tmp_path, OTHER_NUMPY)
    seen = subprocess.run([str(python), "-c", "import numpy; print(numpy.__version__)"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert seen == OTHER_NUMPY != metadata.version("numpy")
    proc = run_cli(project.root, "recreate", name, process=True, python=python)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert "was made in another environment (1 difference(s))" in lines[0]
    assert lines[1:] == [f"  package numpy: {metadata.version('numpy')} at the tag, {OTHER_NUMPY} here"]
    assert not (project.state / "recreate").exists()  # refused before anything was written
    same = run_cli(project.root, "recreate", name, "--check", process=True)
    assert same.returncode == 0, same.stderr


def test_show_and_diff_report_the_environment(locked_run):
    project, name = locked_run
    shown = run_cli(project.root, "show", name).output
    assert f"numpy {metadata.version('numpy')}" in shown
    assert "code:    henryvc " in shown
    other = trained_run(project, seed=2)
    run_dir = project.run_dir(other)
    (run_dir / environment.LOCK_FILE).write_text(
        environment.lock_text({**environment.freeze(), "numpy": OTHER_NUMPY}))
    info, _ = environment.current()
    (run_dir / environment.INFO_FILE).write_text(json.dumps(info))
    result = run_cli(project.root, "diff", name, other)
    assert f"environment: package numpy: {metadata.version('numpy')} -> {OTHER_NUMPY}" in result.output


def test_env_build_installs_a_lock_and_henryvc_at_a_commit(tmp_path):
    from henryvc.ops import envbuild
    from henryvc.paths import SOURCE_ROOT

    lock = "# a small real lock\nsix==1.16.0\nidna==3.7\n"
    commit = gitrepo.head(gitrepo.open_repo(SOURCE_ROOT))
    # henryvc itself from a git repository at a recorded commit (the spec env build uses for a run).
    spec = envbuild.henryvc_spec({"henryvc": {"commit": commit}}, str(SOURCE_ROOT))
    venv = tmp_path / "env"
    built = envbuild.build_venv(lock, venv, henryvc_spec=spec)
    assert built.henryvc == spec and built.packages == 2
    got = json.loads(subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "inspect"], capture_output=True,
                                    text=True, check=True).stdout)["installed"]
    versions = {d["metadata"]["name"].lower(): d["metadata"]["version"] for d in got}
    assert versions["six"] == "1.16.0" and versions["idna"] == "3.7"
    henry = next(d for d in got if d["metadata"]["name"] == "henryvc")
    assert henry["direct_url"]["vcs_info"]["commit_id"] == commit
    assert (venv / environment.LOCK_FILE).read_text() == lock


def test_env_build_refuses_a_folder_in_use(tmp_path):
    lock = tmp_path / "l.lock"
    lock.write_text("six==1.16.0\n")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("")
    result = run_cli(tmp_path, "env", "build", "--lock", str(lock), "--venv", str(tmp_path / "used"))
    assert result.exit_code == 2 and "not empty" in result.output
