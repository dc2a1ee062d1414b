"""henryvc.core.quiet: known third-party warnings stay off the terminal, henryvc's own stay on it."""

from __future__ import annotations

import subprocess
import sys

from henryvc.core import quiet

MINE = "import warnings; warnings.warn('henryvc says this', UserWarning)"


def python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_asyncssh_prints_the_dsa_deprecation_without_the_filter():
    """The noise is real with the locked cryptography/asyncssh: without this test the filter could rot."""
    done = python("import asyncssh")
    assert "DSA is deprecated" in done.stderr


def test_the_filter_silences_it_in_this_process_and_keeps_ours():
    done = python(f"from henryvc.core import quiet; quiet.silence_third_party(); import asyncssh; {MINE}")
    assert "DSA is deprecated" not in done.stderr
    assert "henryvc says this" in done.stderr


def test_children_get_the_same_filter_and_the_users_own_setting_after_it():
    env = quiet.child_env({"PATH": "/usr/bin:/bin", "PYTHONWARNINGS": "error::DeprecationWarning"})
    assert env["PYTHONWARNINGS"].endswith(",error::DeprecationWarning")
    done = python(f"import asyncssh; {MINE}", env=env)
    assert done.returncode == 0, done.stderr
    assert "DSA is deprecated" not in done.stderr and "henryvc says this" in done.stderr


def test_henryvc_starts_with_the_filter():
    """entry() installs the filter before any command runs (the SSH tier checks real SSH commands' stderr)."""
    code = "from henryvc import main; main.cli = lambda **kw: None; main.entry(); import asyncssh"
    done = python(code)
    assert done.returncode == 0, done.stderr
    assert "DSA is deprecated" not in done.stderr
