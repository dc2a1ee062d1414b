"""A thin adapter over GitPython so the rest of henryvc speaks in commits and tags."""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from henryvc.adapters.gitlocks import clear_stale_locks
from henryvc.errors import HenryvcError, NotReady, RunExists

if TYPE_CHECKING:
    import io

    import git

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


def open_repo(root: Path) -> git.Repo:
    """The GitPython Repo at ROOT."""
    import git

    try:
        return git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise HenryvcError(f"{root} is not a git work tree") from None


def git_version() -> str | None:
    """The installed git's version ("2.39.5"), None without git."""
    import git

    try:
        return ".".join(map(str, git.Git().version_info))
    except (OSError, git.GitCommandNotFound):
        return None


def init(root: Path) -> git.Repo:
    """Open the repository at ROOT, creating it (branch main) when absent."""
    import git

    if (Path(root) / ".git").exists():
        return open_repo(root)
    return git.Repo.init(root, initial_branch="main")


def head(repo: git.Repo) -> str | None:
    """The HEAD commit's sha, or None in a repository without commits."""
    try:
        return repo.head.commit.hexsha
    except ValueError:
        return None


def is_dirty(repo: git.Repo) -> bool:
    """True when tracked files have uncommitted changes (untracked files do not count)."""
    return repo.is_dirty(index=True, working_tree=True, untracked_files=False)


def tag_exists(repo: git.Repo, name: str) -> bool:
    """True when refs/tags/NAME exists."""
    return bool(repo.git.tag("--list", name))


def read_tags(repo: git.Repo | Path, pattern: str) -> list[TagInfo]:
    """Every tag matching PATTERN with its commit, date and message body, in one git call.

    REPO is a GitPython Repo or the path of a work tree (read commands pass the path: no GitPython import).
    """
    return list(iter_tags(repo, pattern))


def iter_tags(repo: git.Repo | Path, *patterns: str) -> Iterator[TagInfo]:
    """read_tags, streamed (tags matching any of PATTERNS): each tag is yielded as git's output is read."""
    import subprocess

    root = root_of(repo)
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


def tag_oids(repo: git.Repo | Path, pattern: str) -> dict[str, str]:
    """Tag name -> the object id its ref holds, for tags matching PATTERN: git reads refs only, no objects."""
    import subprocess

    proc = subprocess.run(["git", "for-each-ref", "--format=%(objectname) %(refname:strip=2)", f"refs/tags/{pattern}"],
                          cwd=root_of(repo), capture_output=True, text=True, encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        raise HenryvcError(f"git for-each-ref failed in {root_of(repo)}: {proc.stderr.strip()}")
    # A ref name cannot contain a space (git check-ref-format).
    return {name: oid for oid, name in (line.split(" ", 1) for line in proc.stdout.splitlines())}


def root_of(repo: git.Repo | Path) -> str | Path:
    """The folder to run git in: REPO is a GitPython Repo or a path."""
    if isinstance(repo, (str, os.PathLike)):
        return repo
    return str(repo.working_tree_dir or repo.git_dir)


def show(repo: git.Repo, rev: str, path: str) -> str | None:
    """Text of PATH at REV, or None when it is not there."""
    try:
        data: bytes = (repo.commit(rev).tree / path).data_stream.read()
        return data.decode("utf-8")
    except (KeyError, ValueError):
        return None


def ls_tree(repo: git.Repo, rev: str) -> list[str]:
    """Every file path at REV."""
    listing: str = repo.git.ls_tree("-r", "--name-only", rev)
    return listing.splitlines()


def commit_paths(repo: git.Repo, paths: list[str], message: str) -> str | None:
    """Stage the existing PATHS and commit them and nothing else; None when they did not change.

    Only these paths: whatever else the user has staged stays staged, out of henryvc's commit.
    """
    import git

    clear_stale_locks(repo)
    root = Path(root_of(repo))
    present = [p for p in paths if (root / p).exists()]
    if not present:
        return None
    repo.git.add("--", *present)
    if head(repo) is not None:
        try:
            repo.git.diff("--cached", "--quiet", "HEAD", "--", *present)
            return None  # exit 0: nothing of these paths differs from HEAD
        except git.GitCommandError:
            pass
    repo.git.commit("-m", message, "--no-verify", "--quiet", "--", *present)
    return head(repo)


def create_tag(repo: git.Repo, name: str, commit: str, message: str) -> None:
    """Create the annotated tag NAME on COMMIT; never moves an existing tag."""
    import git

    if tag_exists(repo, name):
        raise RunExists(f"tag {name} already exists; henryvc never moves or overwrites a tag")
    clear_stale_locks(repo)
    try:
        repo.create_tag(name, ref=commit, message=message)
    except git.GitCommandError as exc:
        raise HenryvcError(f"git could not create tag {name}: {exc.stderr.strip()}") from None


def push_tag(repo: git.Repo, name: str, remote: str = "origin") -> None:
    """Push refs/tags/NAME to REMOTE (NotReady when there is no such remote)."""
    push_tags(repo, [name], remote, required=True)


def push_tags(repo: git.Repo, names: list[str], remote: str = "origin", required: bool = False) -> bool:
    """Push tags NAMES to REMOTE (tags never move, so this never overwrites one); whether anything was pushed.

    Without REMOTE configured: NotReady when REQUIRED, else nothing is pushed (False).
    """
    import git

    if remote not in [r.name for r in repo.remotes]:
        if required:
            raise NotReady(f"no git remote named {remote!r}: add one with `git remote add {remote} URL`")
        return False
    if not names:
        return False
    try:
        repo.git.push(remote, *(f"refs/tags/{n}:refs/tags/{n}" for n in names))
    except git.GitCommandError as exc:
        what = f"tag {names[0]}" if len(names) == 1 else "tags"
        raise HenryvcError(f"git push of {what} to {remote} failed: {exc.stderr.strip()}") from None
    return True


def fetch_tags(repo: git.Repo, remote: str = "origin") -> None:
    """Fetch all tags from REMOTE when it exists."""
    if remote in [r.name for r in repo.remotes]:
        repo.git.fetch(remote, "--tags", "--quiet")


def worktree_add(repo: git.Repo, path: Path, rev: str) -> None:
    """Add a detached worktree of REV at PATH."""
    clear_stale_locks(repo)
    repo.git.worktree("add", "--detach", "--quiet", str(path), rev)


def worktree_remove(repo: git.Repo, path: Path) -> None:
    """Remove the worktree at PATH (untracked files too) and forget it."""
    clear_stale_locks(repo)
    if str(path) in worktrees(repo):
        repo.git.worktree("remove", "--force", "--force", str(path))
    elif path.exists():
        import shutil

        shutil.rmtree(path)
    repo.git.worktree("prune")


def complete_worktree(path: Path) -> list[str]:
    """Finish the checkout of the worktree at PATH after an interrupted `git worktree add`; returns what came back.

    A kill mid-checkout leaves the worktree registered but with files missing and its index.lock behind.
    Git writes the worktree's index only once every file is written, and it creates each file before
    writing it: with no index, the checkout never finished, every tracked file there is git's own and
    one may be empty or short (a truncated dvc.lock made every re-run of `restore --pull` fail), so all
    are checked out again. With an index, files missing are checked out again; files there (edited or
    not) stay.
    """
    worktree = open_repo(path)
    interrupted = not (Path(worktree.git_dir) / "index").exists()
    clear_stale_locks(worktree)  # its index.lock lives in .git/worktrees/<id>/, the worktree's git dir
    if interrupted:
        worktree.git.reset("--hard", "--quiet")  # untracked files (DVC's data) stay
        return [p for p in worktree.git.ls_files("-z").split("\0") if p]
    worktree.git.reset("--quiet")  # the index as of HEAD when the interrupted add never wrote one
    missing = [p for p in worktree.git.ls_files("--deleted", "-z").split("\0") if p]
    if missing:
        worktree.git.checkout("--", *missing)
    return missing


def worktrees(repo: git.Repo) -> dict[str, str]:
    """Path → HEAD sha of each worktree of REPO."""
    found, current = {}, None
    for line in repo.git.worktree("list", "--porcelain").splitlines():
        if line.startswith("worktree "):
            current = line[len("worktree "):]
        elif line.startswith("HEAD ") and current:
            found[current] = line[len("HEAD "):]
    return found


def commit_of(repo: git.Repo, rev: str) -> str:
    """The commit sha REV (a tag, branch or sha) points at."""
    return repo.commit(rev).hexsha


def tag_message(repo: git.Repo, name: str) -> str:
    """The message of annotated tag NAME."""
    tag = repo.tag(name).tag
    if tag is None:
        raise HenryvcError(f"tag {name} is not an annotated tag")
    return tag.message


def checkout_detached(repo: git.Repo, commit: str) -> None:
    """Check COMMIT out in the work tree, HEAD detached."""
    repo.git.checkout("--detach", "--quiet", commit)


def blobs(repo: git.Repo, rev: str, prefix: str) -> dict[str, tuple[str, str, int]]:
    """Every file under PREFIX/ at REV: path -> (mode, blob sha, size)."""
    found = {}
    for line in repo.git.ls_tree("-r", "-l", "-z", rev, "--", prefix + "/").split("\0"):
        meta, _, path = line.partition("\t")
        parts = meta.split()
        if len(parts) == 4 and parts[1] == "blob":
            found[path] = (parts[0], parts[2], int(parts[3]))
    return found


def kept_commits(repo: git.Repo, keep_tags: set[str]) -> list[str]:
    """The commits of KEEP_TAGS, of every branch and of every DVC experiment (one git call)."""
    out = repo.git.for_each_ref("--format=%(refname)%00%(objectname)%00%(*objectname)",
                                "refs/heads", "refs/exps", "refs/tags")
    commits = set()
    for line in out.splitlines():
        ref, obj, peeled = line.split("\0")
        if not ref.startswith("refs/tags/") or ref[len("refs/tags/"):] in keep_tags:
            commits.add(peeled or obj)
    return sorted(commits)


def ignored(repo: git.Repo, paths: list[str]) -> set[str]:
    """Those of PATHS that .gitignore rules ignore (tracked or not)."""
    import git

    if not paths:
        return set()
    try:
        return set(repo.git.check_ignore("--no-index", "--", *paths).splitlines())
    except git.GitCommandError:  # exit 1: none is ignored
        return set()


def changed_files(repo: git.Repo) -> list[str]:
    """Files `git add -A` would take: untracked and not ignored, or modified."""
    return sorted({p for p in repo.git.ls_files("-z", "--others", "--modified", "--exclude-standard").split("\0") if p})


def has_staged_changes(repo: git.Repo) -> bool:
    """True when the index differs from HEAD, or there is no commit yet."""
    return head(repo) is None or bool(repo.index.diff("HEAD"))


def missing_identity(repo: git.Repo) -> list[str]:
    """The keys of user.name and user.email that git's configuration lacks."""
    reader = repo.config_reader()
    return [key for key in ("name", "email") if not reader.get_value("user", key, default="")]


def describe_head(root: Path) -> str:
    """HEAD of ROOT, with "-dirty" when tracked files differ from it; "unknown" outside git."""
    import git

    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return "unknown"
    commit = head(repo)
    return "unknown" if commit is None else commit + ("-dirty" if is_dirty(repo) else "")


def common_dir(root: Path) -> Path | None:
    """The absolute git common directory of the work tree at ROOT (a worktree's main .git), None outside git."""
    import git

    try:
        return Path(git.Repo(root, search_parent_directories=True).common_dir).resolve()
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


# --- writes of henryvc's own paths (archive, cleanup, reset) -------------------------------------------

def tracked(git_repo: git.Repo, paths: list[str]) -> list[str]:
    """The files under PATHS that git tracks, in its index or at HEAD (after a kill they can differ)."""
    if not paths:
        return []
    found = set(git_repo.git.ls_files("-z", "--", *paths).split("\0"))
    if head(git_repo):
        found |= set(git_repo.git.ls_tree("-r", "-z", "--name-only", "HEAD", "--", *paths).split("\0"))
    return sorted(p for p in found if p)


def require_branch(git_repo: git.Repo, what: str) -> None:
    """NotReady when HEAD is detached: a commit made there (WHAT it records) would be lost."""
    if git_repo.head.is_detached:
        raise NotReady(f"HEAD is detached (after `henryvc restore --in-place`?), so the commit {what} would "
                       "be lost: `git checkout main` first")


def commit_only(git_repo: git.Repo, paths: list[str], message: str) -> str | None:
    """Commit what is staged for PATHS only (other staged changes stay staged); None when nothing changed."""
    if not paths or not git_repo.git.status("--porcelain", "--", *paths):
        return None
    write(git_repo, "commit", "--quiet", "--no-verify", "-m", message, "--", *paths)
    return head(git_repo)


def write(git_repo: git.Repo, command: str, *args: str) -> str:
    """Run a git command that writes (after clearing locks a killed git left); failures are HenryvcError."""
    import git

    clear_stale_locks(git_repo)
    try:
        output: str = getattr(git_repo.git, command.replace("-", "_"))(*args)
        return output
    except git.GitCommandError as exc:
        raise HenryvcError(f"git {command} failed: {(exc.stderr or str(exc)).strip()}") from None


# --- refs (the review notes: henryvc.adapters.gitnotes) -------------------------------------------------------

def push_ref(repo: git.Repo, ref: str, remote: str = "origin") -> bool:
    """Push REF to REMOTE when both exist; False when there is nothing to push or no such remote."""
    import git

    if remote not in [r.name for r in repo.remotes]:
        return False
    try:
        repo.git.rev_parse("--verify", "--quiet", ref)
    except git.GitCommandError:
        return False
    try:
        repo.git.push(remote, f"{ref}:{ref}")
    except git.GitCommandError as exc:
        raise HenryvcError(f"git push of {ref} to {remote} failed: {exc.stderr.strip()}") from None
    return True


def fetch_ref(repo: git.Repo, ref: str, remote: str = "origin") -> None:
    """Fetch REF from REMOTE into the same ref here, merging nothing (notes: the remote's wins when ours
    is an ancestor; otherwise ours stays and the fetch is skipped)."""
    import git

    if remote in [r.name for r in repo.remotes]:
        try:
            repo.git.fetch(remote, f"{ref}:{ref}", "--quiet")
        except git.GitCommandError:
            pass  # no such ref there, or ours diverged: what is here still shows
def describe(root: Path) -> dict[str, str | bool]:
    """`git describe --always --tags --dirty`, the HEAD commit and whether tracked files differ from it."""
    import git

    repo = open_repo(root)
    try:
        return {"describe": repo.git.describe("--always", "--tags", "--dirty"), "commit": repo.head.commit.hexsha,
                "dirty": repo.is_dirty(untracked_files=False)}
    except (git.GitCommandError, ValueError):
        return {"describe": "unknown", "commit": "", "dirty": False}
