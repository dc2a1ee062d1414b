"""The DVC adapter's object side: the cache and remote object stores (listings, what a remote holds, sending
what it lacks, DVC's gc). With henryvc.adapters.dvcrepo (the repository: config, outputs, status, push and pull) the
only code that speaks to DVC's and dvc_data's APIs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.adapters.dvcrepo import EMPTY_MD5, DamagedListing, Out, cache_of, object_path, open_repo, outs_at, push
from henryvc.errors import HenryvcError
from henryvc.hashing import md5_bytes, md5_file, md5_stream

if TYPE_CHECKING:
    from dvc.repo import Repo
    from dvc_data.hashfile.db import HashFileDB

    from henryvc.adapters.gitrepo import Repository


def remote_sizes(odb: HashFileDB, oids: Iterable[str]) -> dict[str, int]:
    """oid → size of those of OIDS the remote has a file for, asked of the remote itself (DVC's remote
    index is not trusted)."""
    oids = sorted(set(oids))
    if not oids:
        return {}
    try:
        infos = odb.fs.info([odb.oid_to_path(oid) for oid in oids], return_exceptions=True)
    except Exception as exc:  # ssh, permissions, network: all mean "cannot tell"
        raise HenryvcError(f"cannot reach the DVC remote at {odb.path}: {type(exc).__name__}: {exc}") from None
    found = {}
    for oid, info in zip(oids, infos):
        if isinstance(info, FileNotFoundError):
            continue
        if isinstance(info, Exception):
            raise HenryvcError(f"cannot read the DVC remote at {odb.path}: {type(info).__name__}: {info}")
        found[oid] = int(info.get("size") or 0)
    return found


def remote_problems(odb: HashFileDB, oids: Iterable[str], cache: Path, content: bool = False,
                    read: dict[str, float] | None = None) -> dict[str, str]:
    """oid → what is wrong with it on the remote (missing, not the size of the good copy, or with CONTENT:
    bytes that do not hash to its name); the rest are fine. READ, when given, gets "bytes" and "seconds"
    of the content check.

    Sizes matter: a push killed at the wrong moment can leave an empty file under an object's name (DVC
    tries a reflink at the final path first), which DVC then takes as present forever. Content matters
    too: a flipped byte keeps the size, and only reading the object back tells.
    """
    oids = set(oids)
    sizes = remote_sizes(odb, oids)
    problems = {}
    for oid in oids:
        local = object_path(cache, Out("", oid.removesuffix(".dir"), oid.endswith(".dir")))
        want = local.stat().st_size if local.is_file() else None
        if oid not in sizes:
            problems[oid] = "missing"
        elif (want is not None and sizes[oid] != want) or (want is None and sizes[oid] == 0 and oid != EMPTY_MD5):
            problems[oid] = f"damaged: {sizes[oid]} bytes on the remote" + (f", {want} in the cache" if want else "")
    if content:
        problems.update(remote_content_problems(odb, sorted(o for o in oids if o not in problems), read))
    return problems


def remote_content_problems(odb: HashFileDB, oids: Iterable[str], read: dict[str, float] | None = None) -> dict[str, str]:
    """oid → "damaged: ..." for each of OIDS whose bytes on the remote do not hash to its name (read back
    through the remote's own file system: local, ssh, ...)."""
    import time

    problems: dict[str, str] = {}
    started, total = time.monotonic(), 0
    for oid in oids:
        try:
            with odb.fs.open(odb.oid_to_path(oid), "rb") as handle:
                md5, size = md5_stream(handle)
        except Exception as exc:  # ssh, permissions, network: cannot read it back is a problem too
            problems[oid] = f"unreadable on the remote: {type(exc).__name__}: {exc}"
            continue
        total += size
        if md5 != oid.removesuffix(".dir"):
            problems[oid] = f"damaged: its content hashes to {md5} on the remote"
    if read is not None:
        read["bytes"] = read.get("bytes", 0) + total
        read["seconds"] = read.get("seconds", 0.0) + time.monotonic() - started
    return problems


def cache_copy_good(cache: Path, oid: str) -> bool:
    """True when the cache holds OID and its bytes hash to its name (a copy fit to repair the remote with)."""
    path = object_path(cache, Out("", oid.removesuffix(".dir"), oid.endswith(".dir")))
    return path.is_file() and md5_file(path) == oid.removesuffix(".dir")


def push_mending(root: Path, remote: str | None = None, all_tags: bool = False, dvc_repo: Repo | None = None) -> int:
    """dvcrepo.push (the work tree's outputs; ALL_TAGS: every tag's too) to REMOTE; how many objects went.
    When DVC stops on a folder listing the remote holds damaged, the damaged listings are dropped
    (drop_damaged_listings) and it pushes once more; a listing damaged in the cache stops it for good."""
    dvc_repo = dvc_repo or open_repo(root)
    try:
        return push(root, remote, all_tags=all_tags, dvc_repo=dvc_repo)
    except DamagedListing:
        drop_damaged_listings(dvc_repo.cloud.get_remote_odb(remote, "push"), cache_of(dvc_repo))
        return push(root, remote, all_tags=all_tags, dvc_repo=dvc_repo)


def drop_damaged_listings(odb: HashFileDB, cache: Path) -> list[str]:
    """Remove from the remote each folder listing (.dir object) the cache holds whole and the remote holds
    damaged (empty, short, or bytes that do not hash to its name); the oids removed.

    `dvc push` reads a listing back from the remote when the remote has one, and stops on one a killed push
    left short ("object ... is corrupted"), every push after it too. Removed, the listing is missing, and
    DVC sends it again with its files. Nothing is sent here: a listing on the remote without its files
    would make DVC take the folder for complete there.
    """
    base = Path(cache) / "files" / "md5"
    listings = {path.parent.name + path.name for path in base.glob("??/*.dir")} if base.is_dir() else set()
    problems = remote_problems(odb, listings, cache, content=True)
    damaged = sorted(oid for oid, problem in problems.items() if problem != "missing" and cache_copy_good(cache, oid))
    if damaged:
        odb.fs.remove([odb.oid_to_path(oid) for oid in damaged])
    return damaged


def on_remote(odb: HashFileDB, oids: Iterable[str], cache: Path) -> set[str]:
    """Those of OIDS the remote holds whole."""
    oids = set(oids)
    return oids - set(remote_problems(odb, oids, cache))


def cached_outs_at(git_repo: Repository, rev: str) -> list[Out]:
    """The DVC outputs at REV whose data is in DVC's cache (`cache: false` ones are git's)."""
    return [out for out in outs_at(git_repo, rev) if out.cached]


def in_cache(cache: Path, oid: str) -> bool:
    """True when object OID (a file md5, or md5.dir) is in CACHE."""
    return object_path(cache, Out("", oid.removesuffix(".dir"), oid.endswith(".dir"))).is_file()


def read_listing(cache: Path, odb: HashFileDB | None, out: Out) -> list[dict[str, str]] | None:
    """The entries of directory output OUT, from the cache, else from the remote ODB; None if neither has it."""
    local = object_path(cache, out)
    try:
        if local.is_file():
            data = local.read_bytes()
        elif odb is not None:
            data = odb.fs.cat_file(odb.oid_to_path(out.md5 + ".dir"))
        else:
            return None
    except Exception:  # absent or unreachable: both mean "cannot read it"
        return None
    return json.loads(data) if md5_bytes(data) == out.md5 else None


def out_files(cache: Path, odb: HashFileDB | None, out: Out) -> dict[str, str] | None:
    """relpath → md5 of OUT's files ({"": md5} for a file output); None when its listing cannot be read."""
    if not out.is_dir:
        return {"": out.md5}
    entries = read_listing(cache, odb, out)
    return None if entries is None else {e["relpath"]: e["md5"] for e in entries}


def out_oids(cache: Path, odb: HashFileDB | None, out: Out) -> set[str]:
    """Every object OUT needs: its files, and its listing for a directory (only the listing if unreadable)."""
    files = out_files(cache, odb, out) or {}
    return set(files.values()) | ({out.md5 + ".dir"} if out.is_dir else set())


def fill_holes(dvc_repo: Repo, name: str | None, odb: HashFileDB, wanted: Iterable[str], cache: Path, content: bool = False,
               read: dict[str, float] | None = None) -> tuple[int, dict[str, str]]:
    """Push those WANTED objects the remote lacks (asked of it directly) from the cache.

    DVC's own push takes a directory whose listing is on the remote as complete, and trusts its remote
    index; so holes (a file deleted there, a half-finished transfer) are sent one object at a time,
    with that index cleared. Returns how many went, and oid -> problem for what neither the cache nor
    the remote has whole.
    """
    from contextlib import closing

    from dvc_data.hashfile.db import get_index
    from dvc_data.hashfile.hash_info import HashInfo

    holes = remote_problems(odb, wanted, cache, content=content, read=read)
    # Only a cache copy that itself hashes right replaces a damaged remote object.
    sendable = sorted(oid for oid in holes if (in_cache(cache, oid) if holes[oid] == "missing"
                                               else cache_copy_good(cache, oid)))
    if sendable:
        damaged = [odb.oid_to_path(oid) for oid in sendable if holes[oid] != "missing"]
        if damaged:  # DVC never overwrites an object it sees: the good copy replaces the damaged one
            odb.fs.remove(damaged)
        with closing(get_index(odb)) as index:
            index.clear()
        result = dvc_repo.cloud.push([HashInfo("md5", oid) for oid in sendable], remote=name)
        if result.failed:
            raise HenryvcError(f"{len(result.failed)} object(s) could not be pushed to {name}; run the backup again")
    return len(sendable), {oid: holes[oid] for oid in holes if oid not in sendable}


def gc_plan(dvc_repo: Repo, used_values: set[str]) -> list[tuple[Any, set[Any], list[Path]]]:
    """(cache ODB, used hash infos, paths gc would remove) per cache ODB; USED_VALUES are kept under either
    hash name (md5 and DVC 2's md5-dos2unix), so nothing is dropped for a naming difference."""
    from dvc_data.hashfile.hash_info import HashInfo

    used = {HashInfo(name, value) for value in used_values for name in ("md5", "md5-dos2unix")}
    scopes, seen = [], set()
    for _scheme, odb in dvc_repo.cache.by_scheme():
        if odb and odb.path not in seen:
            seen.add(odb.path)
            scopes.append((odb, used, [Path(odb.oid_to_path(oid)) for oid in odb.all() if oid not in used_values]))
    return scopes


def gc(scopes: list[tuple[Any, set[Any], list[Path]]]) -> None:
    """Run dvc_data's gc over each cache ODB of SCOPES (gc_plan), keeping its used objects."""
    from dvc_data.hashfile.gc import gc as dvc_gc

    for odb, used, _ in scopes:
        dvc_gc(odb, used)
