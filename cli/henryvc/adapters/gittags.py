"""Reading tags (the registry's and the summaries' source): one `git for-each-ref`, streamed, with no GitPython
import, so `henryvc list` stays quick."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from henryvc.adapters.gitrepo import Repository, root_of
from henryvc.errors import HenryvcError

if TYPE_CHECKING:
    import io

_FIELD, _RECORD = "\x00", "\x00\x01"
_READ_SIZE = 1 << 20


@dataclass(frozen=True)
class TagInfo:
    """One annotated (or lightweight) tag as read by for-each-ref."""

    name: str
    kind: str  # "tag" for annotated, "commit" for lightweight
    commit: str
    date: str
    body: str
    oid: str = ""  # the ref's own object: the tag object (annotated) or the commit (lightweight)


def read_tags(repo: Repository | Path, pattern: str) -> list[TagInfo]:
    """Every tag matching PATTERN with its commit, date and message body, in one git call.

    REPO is a GitPython Repo or the path of a work tree (read commands pass the path: no GitPython import).
    """
    return list(iter_tags(repo, pattern))


def iter_tags(repo: Repository | Path, *patterns: str) -> Iterator[TagInfo]:
    """read_tags, streamed (tags matching any of PATTERNS): each tag is yielded as git's output is read."""
    import subprocess
    import tempfile

    root = root_of(repo)
    # %00 and %01 are git's own escapes (NUL cannot travel in an argument); a record ends with NUL SOH,
    # which no tag message made with git's tools contains.
    fmt = "%00".join(["%(refname:strip=2)", "%(objecttype)", "%(*objectname)", "%(objectname)",
                       "%(creatordate:iso-strict)", "%(contents:body)"]) + "%00%01"
    # A plain subprocess, not GitPython: importing GitPython costs `henryvc list` more than git itself.
    # Errors go to a file: a repository with many broken refs could fill a stderr pipe nobody reads yet.
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(["git", "for-each-ref", f"--format={fmt}", *(f"refs/tags/{p}" for p in patterns)],
                                cwd=root, stdout=subprocess.PIPE, stderr=errors)
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        rest = ""
        # Popen's default buffering (bufsize=-1) makes stdout a BufferedReader, which has read1.
        stdout = cast("io.BufferedReader", proc.stdout)
        try:
            while chunk := stdout.read1(_READ_SIZE):
                records = (rest + decoder.decode(chunk)).split(_RECORD)
                rest = records.pop()
                yield from filter(None, map(_tag_info, records))
            rest += decoder.decode(b"", final=True)
            if proc.wait() != 0:
                errors.seek(0)
                raise HenryvcError(f"git for-each-ref failed in {root}: "
                                   f"{errors.read().decode('utf-8', 'replace').strip()}")
        finally:  # also when the caller stops early: git then ends on a closed pipe
            stdout.close()
            proc.wait()
    if rest.strip("\n") and (info := _tag_info(rest)):
        yield info


def _tag_info(record: str) -> TagInfo | None:
    """One for-each-ref record; None for one that does not split into its six fields (never a crash)."""
    fields = record.lstrip("\n").split(_FIELD, 5)
    if len(fields) != 6:
        return None
    name, kind, peeled, obj, date, body = fields
    return TagInfo(name, kind, peeled or obj, date, body, obj)


def tag_oids(repo: Repository | Path, pattern: str) -> dict[str, str]:
    """Tag name -> the object id its ref holds, for tags matching PATTERN: git reads refs only, no objects."""
    import subprocess

    proc = subprocess.run(["git", "for-each-ref", "--format=%(objectname) %(refname:strip=2)", f"refs/tags/{pattern}"],
                          cwd=root_of(repo), capture_output=True, text=True, encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        raise HenryvcError(f"git for-each-ref failed in {root_of(repo)}: {proc.stderr.strip()}")
    # A ref name cannot contain a space (git check-ref-format).
    return {name: oid for oid, name in (line.split(" ", 1) for line in proc.stdout.splitlines())}
