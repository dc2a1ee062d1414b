"""Is all of a tag's data there? The objects every tag needs, as sets, against what a DVC cache or remote holds.

Read straight from git and the store folders (yaml and md5, not henryvc's or DVC's code), so that the check
does not share a bug with what it checks: a tag needs the objects of every DVC output its commit records
(dvc.lock and `.dvc` files, less `cache: false` outputs, which git holds), a directory output its `.dir`
listing and every file the listing names. An object counts only when its bytes hash to its name.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.helpers.project import sh
from tests.helpers.reliability import md5

OBJECT = re.compile(r"\A[0-9a-f]{30}(\.dir)?\Z")


def good_objects(store: Path) -> set[str]:
    """The objects of a DVC cache or remote folder (files/md5 layout) whose bytes hash to their names."""
    base = Path(store) / "files" / "md5"
    found = set()
    for path in base.rglob("*") if base.is_dir() else []:
        if path.is_file() and len(path.parent.name) == 2 and OBJECT.match(path.name):
            oid = path.parent.name + path.name
            if md5(path) == oid.removesuffix(".dir"):
                found.add(oid)
    return found


def _object_path(store: Path, oid: str) -> Path:
    return Path(store) / "files" / "md5" / oid[:2] / oid[2:]


def tags(root: Path, pattern: str = "*") -> list[str]:
    """Tags of the git repository at ROOT (a work tree or a bare repository) matching PATTERN."""
    return sh(root, "git", "tag", "--list", pattern).stdout.split()


def _uncached(root: Path, rev: str) -> list[str]:
    """Glob patterns of the `cache: false` outputs of dvc.yaml at REV (`${...}` matches any name)."""
    text = sh(root, "git", "show", f"{rev}:dvc.yaml", check=False).stdout
    patterns = []
    for stage in ((yaml.safe_load(text) or {}).get("stages") or {}).values() if text else []:
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind) or []:
                if isinstance(entry, dict):
                    patterns += [re.sub(r"\$\{[^}]*\}", "*", p).rstrip("/") for p, o in entry.items()
                                 if isinstance(o, dict) and o.get("cache") is False]
    return patterns


def tag_outputs(root: Path, rev: str) -> dict[str, str]:
    """Cached DVC output path -> md5 (`.dir` for a folder) recorded at REV."""
    files = sh(root, "git", "ls-tree", "-r", "--name-only", rev).stdout.split("\n")
    outs: dict[str, str] = {}
    for name in files:
        if name == "dvc.lock" or name.endswith("/dvc.lock"):
            lock = yaml.safe_load(sh(root, "git", "show", f"{rev}:{name}").stdout) or {}
            for stage in (lock.get("stages") or {}).values():
                for out in stage.get("outs") or []:
                    outs[str(Path(name).parent / out["path"])] = out["md5"]
        elif name.endswith(".dvc") and not name.startswith(".dvc/"):
            data = yaml.safe_load(sh(root, "git", "show", f"{rev}:{name}").stdout) or {}
            for out in data.get("outs") or []:
                outs[str(Path(name).parent / out["path"])] = out["md5"]
    uncached = _uncached(root, rev)
    return {os.path.normpath(p): m for p, m in outs.items()
            if not any(fnmatch.fnmatchcase(os.path.normpath(p), u) for u in uncached)}


def needed(root: Path, rev: str, stores: list[Path]) -> dict[str, str]:
    """oid -> where, for every object tag REV needs; a listing is read from the first of STORES holding it
    intact (when none does, its files cannot be named: the listing itself is then what is missing)."""
    wanted: dict[str, str] = {}
    for path, oid in tag_outputs(root, rev).items():
        wanted[oid] = path
        if not oid.endswith(".dir"):
            continue
        for store in stores:
            listing = _object_path(store, oid)
            if listing.is_file() and md5(listing) == oid.removesuffix(".dir"):
                for entry in json.loads(listing.read_text()):
                    wanted.setdefault(entry["md5"], f"{path}/{entry['relpath']}")
                break
    return wanted


@dataclass
class Gaps:
    """What each tag needs but a store lacks (or holds damaged): tag -> {oid: path}."""

    store: str
    missing: dict[str, dict[str, str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return any(self.missing.values())

    def lines(self) -> list[str]:
        return [f"{self.store} lacks {oid} ({path}) that tag {tag} needs"
                for tag, gaps in sorted(self.missing.items()) for oid, path in sorted(gaps.items())]


def gaps(root: Path, tag_names: list[str], store: Path, also: list[Path] = (), good: set[str] | None = None,
         label: str | None = None) -> Gaps:
    """Every object TAG_NAMES (tags of the repository at ROOT) need that STORE does not hold intact. Listings
    may be read from ALSO too (a listing missing from STORE is then reported with its files)."""
    good = good_objects(store) if good is None else good
    found = Gaps(label or str(store))
    for tag in tag_names:
        want = needed(root, tag, [store, *also])
        found.missing[tag] = {oid: path for oid, path in want.items() if oid not in good}
    return found
