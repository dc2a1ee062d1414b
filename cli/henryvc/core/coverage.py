"""Coverage: is every file of a run folder held by some tag, in git or as DVC data (reset, cleanup-failed),
and which DVC objects a set of tags needs (backup, tag-run --push)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from henryvc.adapters import dvcrepo, dvcstore, gitrepo
from henryvc.adapters.dvcrepo import Out
from henryvc.core.runfolder import HENRYVC_FILES, walk_files
from henryvc.hashing import md5_file

if TYPE_CHECKING:
    from henryvc.adapters.gitrepo import GitRepo


@dataclass
class Source:
    """One git revision that may hold a run folder: where the folder was then, its git files and DVC outputs."""

    rev: str
    prefix: str
    blobs: dict[str, tuple[str, str, int]]  # path → (mode, sha, size)
    outs: list[Out]


def source_at(git_repo: GitRepo, rev: str, prefix: str) -> Source:
    """The git files under PREFIX and the DVC outputs under PREFIX at REV."""
    blobs = gitrepo.blobs(git_repo, rev, prefix)
    outs = [o for o in dvcrepo.outs_at(git_repo, rev) if o.cached and o.path.startswith(prefix + "/")]
    return Source(rev, prefix, blobs, outs)


def _git_blob(path: Path) -> str:
    data = os.fsencode(os.readlink(path)) if path.is_symlink() else path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _in_git(source: Source, path: Path, rel: str) -> bool:
    entry = source.blobs.get(f"{source.prefix}/{rel}")
    if entry is None:
        return False
    mode, sha, size = entry
    link = path.is_symlink()
    if link != (mode == "120000") or not (link or path.is_file()):  # a FIFO or device is never read
        return False
    try:
        return (link or path.lstat().st_size == size) and _git_blob(path) == sha
    except OSError:
        return False


def same_content(path: Path, md5: str, cache: Path) -> bool:
    """True when PATH holds object MD5: the cache's inode, a symlink to it, or the same bytes (re-hashed)."""
    obj = dvcrepo.object_path(cache, Out("", md5, False))
    if path.is_symlink():
        return os.path.realpath(path) == os.path.realpath(obj)  # link targets only: nothing is read through
    if not path.is_file():
        return False
    try:
        if obj.is_file():
            if os.path.samefile(obj, path):
                return True
            if obj.stat().st_size != path.stat().st_size:
                return False
        return md5_file(path) == md5
    except OSError:  # unreadable: cannot be shown to match
        return False


@dataclass
class Coverage:
    """Files of a run folder that no source holds, and the DVC objects the others need."""

    uncovered: list[str] = field(default_factory=list)
    oids: set[str] = field(default_factory=set)


def coverage(folder: Path, sources: list[Source], cache: Path, odb=None, subdir: str | None = None) -> Coverage:
    """Check every file under FOLDER (or FOLDER/SUBDIR) against the git files and DVC outputs of SOURCES."""
    outs = []  # (out, its path inside the run folder, relpath → md5)
    for source in sources:
        for out in source.outs:
            files = dvcstore.out_files(cache, odb, out)
            if files is not None:
                outs.append((out, out.path[len(source.prefix) + 1:], files))
    result = Coverage()
    top = folder / subdir if subdir else folder
    for path in walk_files(top) if top.is_dir() or top.is_symlink() else []:
        rel = path.relative_to(folder).as_posix()
        if rel in HENRYVC_FILES or any(_in_git(source, path, rel) for source in sources):
            continue
        needed = _dvc_cover(path, rel, outs, cache)
        if needed is None:
            result.uncovered.append(rel)
        else:
            result.oids |= needed
    return result


def _dvc_cover(path: Path, rel: str, outs: list, cache: Path) -> set[str] | None:
    """The objects that hold PATH (at REL in its run folder) in one of OUTS, or None."""
    for out, out_rel, files in outs:
        if out.is_dir and rel.startswith(out_rel + "/"):
            md5 = files.get(rel[len(out_rel) + 1:])
        elif not out.is_dir and rel == out_rel:
            md5 = out.md5
        else:
            continue
        if md5 and same_content(path, md5, cache):
            return {md5, out.md5 + ".dir"} if out.is_dir else {md5}
    return None


def tag_objects(git_repo: GitRepo, tags: list[str], cache: Path, odb) -> dict[str, tuple[str, str]]:
    """oid → (tag, path) of its first user, for every object the DVC outputs of TAGS need."""
    wanted: dict[str, tuple[str, str]] = {}
    for tag in tags:
        for out in dvcstore.cached_outs_at(git_repo, tag):
            if out.is_dir:
                wanted.setdefault(out.md5 + ".dir", (tag, out.path))
            for rel, md5 in (dvcstore.out_files(cache, odb, out) or {}).items():
                wanted.setdefault(md5, (tag, f"{out.path}/{rel}" if rel else out.path))
    return wanted
