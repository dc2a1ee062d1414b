"""The README stays short and true; the command reference is generated from --help and cannot drift."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from henryvc.commands import COMMAND_MODULES

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_the_command_reference_matches_the_code():
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "command_reference.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_readme_is_short_and_names_every_command():
    assert len(README.splitlines()) <= 150
    table = {m.group(1) for m in re.finditer(r"^\| `henryvc ([a-z-]+)", README, re.M)}
    assert table == set(COMMAND_MODULES), f"README table vs commands: {sorted(table ^ set(COMMAND_MODULES))}"


def test_every_readme_link_is_inside_the_repository_and_exists():
    links = re.findall(r"\]\(([^)#]+)", README)
    assert links, "the README links to its docs"
    for link in links:
        assert "://" not in link, f"link outside the repository: {link}"
        assert (REPO / link).exists(), f"broken link: {link}"
