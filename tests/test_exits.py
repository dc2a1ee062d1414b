"""henryvc.exits: the one mapping from an error to an exit code and a line, for `henryvc` and for every
`python -m henryvc.<module>` / `python -m henryvc_training.<stage>` entry point.

Each entry point runs as the real module in a child process (as dvc.yaml, the container and the batch step run
them); the set of modules is read from the source, so a new `if __name__ == "__main__":` is checked too."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from henryvc import exits

ROOT = Path(__file__).resolve().parent.parent
SOURCE_ROOTS = (ROOT / "cli", ROOT / "training")
MISSING = "/nonexistent-henryvc-test"


def entry_modules() -> dict[str, Path]:
    """Dotted name -> file of every module of both packages with an `if __name__ == "__main__":` block."""
    found = {}
    for root in SOURCE_ROOTS:
        for path in sorted(root.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if any(isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) for node in tree.body):
                found[".".join(path.relative_to(root).with_suffix("").parts)] = path
    return found


def mapped(path: Path) -> bool:
    """True when the module's `main` is decorated with exits.entry_point, or hands its arguments to henryvc's own
    command line (the seed's scripts/train_henry_*.py template)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    mains = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "main"]
    return bool(mains) and (any(ast.unparse(d).startswith("entry_point(") for d in mains[0].decorator_list)
                            or "from henryvc.main import cli" in ast.unparse(mains[0]))


def test_every_module_entry_point_goes_through_the_one_mapping():
    modules = entry_modules()
    assert {"henryvc.main", "henryvc.core.stagecode", "henryvc.core.environment", "henryvc.core.recreation",
            "henryvc.ops.jobstep", "henryvc_training.train",
            "henryvc_training.prepare", "henryvc_training.evaluate", "henryvc_training.sample_data",
            "henryvc_training.exactness", "henryvc.templates.scripts.train_henry"} <= set(modules)
    # henryvc.main: the click group's invoke asks exits.outcome (henryvc/__main__.py calls its entry()).
    invoke = ast.unparse(next(node for node in ast.walk(ast.parse(modules.pop("henryvc.main").read_text()))
                              if isinstance(node, ast.FunctionDef) and node.name == "invoke"))
    assert "exits.outcome(exc)" in invoke
    unmapped = {name for name, path in modules.items() if not mapped(path)}
    assert unmapped == set(), f"`main` not decorated with henryvc.exits.entry_point in: {sorted(unmapped)}"
    # ... and nobody else words an error line of their own.
    wording = [str(p.relative_to(ROOT)) for root in SOURCE_ROOTS for p in root.rglob("*.py")
               if "unexpected error:" in p.read_text(encoding="utf-8") and p.name != "exits.py"]
    assert wording == []


BAD_INPUT = {
    "stagecode, no such folder": ("henryvc.core.stagecode", [MISSING], "henryvc: error: "),
    "stagecode, two roots": ("henryvc.core.stagecode", ["a", "b"], "henryvc: error: usage: "),
    "recreation, no such run folder": ("henryvc.core.recreation", ["--check", MISSING], "henryvc: error: "),
    "recreation, unknown option": ("henryvc.core.recreation", ["--bogus"], "henryvc: error: usage: "),
    "environment, unknown option": ("henryvc.core.environment", ["--bogus"], "henryvc: error: usage: "),
    "jobstep, not a run name": ("henryvc.ops.jobstep", ["--project", MISSING, "not-a-run"],
                                "henryvc: error: not a run name"),
    "prepare, no project": ("henryvc_training.prepare", ["--root", MISSING], "prepare: error: "),
    "train, no project": ("henryvc_training.train", ["--root", MISSING], "train: error: "),
    "evaluate, no project": ("henryvc_training.evaluate", ["--root", MISSING], "evaluate: error: "),
    "sample_data, no clips": ("henryvc_training.sample_data", ["--clips", "0", "--out", "voice"],
                              "sample_data: error: "),
    "exactness, no run folder": ("henryvc_training.exactness", [MISSING, MISSING], "exactness: error: "),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_to_a_module_is_exit_2_and_one_line(case, tmp_path):
    module, args, starts = BAD_INPUT[case]
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(starts), done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_a_broken_environment_json_is_bad_input_naming_the_file(tmp_path):
    (tmp_path / "environment.lock").write_text("numpy==2.3.5\n")
    (tmp_path / "environment.json").write_text('{"python": "3.11.7",\n')
    done = subprocess.run([sys.executable, "-m", "henryvc.core.recreation", "--check", str(tmp_path)], capture_output=True,
                          text=True)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"henryvc: error: {tmp_path / 'environment.json'}: not valid JSON")
    assert "Traceback" not in done.stderr


# A bug (and a Ctrl-C) planted in what a real module's main calls: exit 3 with one line, --traceback shows the
# traceback instead (Python's own exit 1), Ctrl-C is 130: as `henryvc` does (tests/cli/test_user_files.py).
PLANTED = ("import sys, henryvc.core.stagecode as module\n"
           "def link(root, dirs=None):\n    raise {error}\n"
           "module.link = link\nsys.exit(module.main())\n")


def test_an_unexpected_error_in_a_module_is_exit_3_and_traceback_shows_it(tmp_path):
    script = PLANTED.format(error="RuntimeError('planted bug')")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    assert done.stderr.strip() == ("henryvc: unexpected error: RuntimeError: planted bug "
                                   "(run again with --traceback and report it)")
    shown = subprocess.run([sys.executable, "-c", script, "--traceback", str(tmp_path)], capture_output=True,
                           text=True)
    assert shown.returncode == 1, shown.stderr
    assert "Traceback (most recent call last)" in shown.stderr and 'File "<string>", line 3, in link' in shown.stderr
    assert shown.stderr.rstrip().endswith("RuntimeError: planted bug") and "unexpected error" not in shown.stderr


def test_ctrl_c_in_a_module_is_exit_130_and_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-c", PLANTED.format(error="KeyboardInterrupt"), str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 130 and done.stderr.strip() == "henryvc: interrupted", done.stderr


# Third-party noise: known warnings stay off the terminal, henryvc's own stay on it.
MINE = "import warnings; warnings.warn('henryvc says this', UserWarning)"


def python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_asyncssh_prints_the_dsa_deprecation_without_the_filter():
    """The noise is real with the locked cryptography/asyncssh: without this test the filter could rot."""
    done = python("import asyncssh")
    assert "DSA is deprecated" in done.stderr


def test_the_filter_silences_it_in_this_process_and_keeps_ours():
    done = python(f"from henryvc import exits; exits.silence_third_party(); import asyncssh; {MINE}")
    assert "DSA is deprecated" not in done.stderr
    assert "henryvc says this" in done.stderr


def test_children_get_the_same_filter_and_the_users_own_setting_after_it():
    env = exits.child_env({"PATH": "/usr/bin:/bin", "PYTHONWARNINGS": "error::DeprecationWarning"})
    assert env["PYTHONWARNINGS"].endswith(",error::DeprecationWarning")
    done = python(f"import asyncssh; {MINE}", env=env)
    assert done.returncode == 0, done.stderr
    assert "DSA is deprecated" not in done.stderr and "henryvc says this" in done.stderr


def test_an_entry_point_starts_with_the_filter():
    """Every `python -m` entry point (entry_point) installs it before its main runs: the stages included."""
    code = ("from henryvc.exits import entry_point\n@entry_point('x')\ndef main(argv=None):\n    import asyncssh\n"
            f"    {MINE}\n    return 0\nraise SystemExit(main([]))")
    done = python(code)
    assert done.returncode == 0, done.stderr
    assert "DSA is deprecated" not in done.stderr and "henryvc says this" in done.stderr


def test_henryvc_starts_with_the_filter():
    """entry() installs the filter before any command runs (the SSH tier checks real SSH commands' stderr)."""
    code = "from henryvc import main; main.cli = lambda **kw: None; main.entry(); import asyncssh"
    done = python(code)
    assert done.returncode == 0, done.stderr
    assert "DSA is deprecated" not in done.stderr
