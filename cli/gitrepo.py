"""A thin adapter over GitPython so the rest of henryvc speaks in commits and tags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cli.errors import HenryvcError, NotReady, RunExists

_FIELD, _RECORD = "\x00", "\x01"


@dataclass(frozen=True)
class TagInfo:
    """One annotated (or lightweight) tag as read by for-each-ref."""

    name: str
    kind: str  # "tag" for annotated, "commit" for lightweight
    commit: str
    date: str
    body: str


def open_repo(root: Path):
    """The GitPython Repo at ROOT."""
    import git

    try:
        return git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise HenryvcError(f"{root} is not a git work tree") from None


def init(root: Path):
    """Open the repository at ROOT, creating it (branch main) when absent."""
    import git

    if (Path(root) / ".git").exists():
        return open_repo(root)
    return git.Repo.init(root, initial_branch="main")


def head(repo) -> str | None:
    """The HEAD commit's sha, or None in a repository without commits."""
    try:
        return repo.head.commit.hexsha
    except ValueError:
        return None


def is_dirty(repo) -> bool:
    """True when tracked files have uncommitted changes (untracked files do not count)."""
    return repo.is_dirty(index=True, working_tree=True, untracked_files=False)


def tag_exists(repo, name: str) -> bool:
    """True when refs/tags/NAME exists."""
    return bool(repo.git.tag("--list", name))


def read_tags(repo, pattern: str) -> list[TagInfo]:
    """Every tag matching PATTERN with its commit, date and message body, in one git call.

    REPO is a GitPython Repo or the path of a work tree (read commands pass the path: no GitPython import).
    """
    import subprocess

    root = getattr(repo, "working_tree_dir", None) or getattr(repo, "git_dir", None) or repo
    # %00 and %01 are git's own escapes; NUL cannot travel in an argument.
    fmt = "%00".join(["%(refname:strip=2)", "%(objecttype)", "%(*objectname)", "%(objectname)",
                       "%(creatordate:iso-strict)", "%(contents:body)"]) + "%01"
    # A plain subprocess, not GitPython: importing GitPython costs `henryvc list` more than git itself.
    proc = subprocess.run(["git", "for-each-ref", f"--format={fmt}", f"refs/tags/{pattern}"], cwd=root,
                          capture_output=True, text=True, encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        raise HenryvcError(f"git for-each-ref failed in {root}: {proc.stderr.strip()}")
    out = proc.stdout
    tags = []
    for record in out.split(_RECORD):
        record = record.lstrip("\n")
        if not record:
            continue
        name, kind, peeled, obj, date, body = record.split(_FIELD, 5)
        tags.append(TagInfo(name, kind, peeled or obj, date, body))
    return tags


def show(repo, rev: str, path: str) -> str | None:
    """Text of PATH at REV, or None when it is not there."""
    try:
        return (repo.commit(rev).tree / path).data_stream.read().decode("utf-8")
    except (KeyError, ValueError):
        return None


def ls_tree(repo, rev: str) -> list[str]:
    """Every file path at REV."""
    return repo.git.ls_tree("-r", "--name-only", rev).splitlines()


def commit_paths(repo, paths: list[str], message: str) -> str | None:
    """Stage the existing PATHS and commit them; None when nothing changed."""
    root = Path(repo.working_tree_dir)
    present = [p for p in paths if (root / p).exists()]
    if present:
        repo.git.add("--", *present)
    if head(repo) is not None and not repo.index.diff("HEAD"):
        return None
    if head(repo) is None and not present:
        return None
    repo.git.commit("-m", message, "--no-verify", "--quiet")
    return head(repo)


def create_tag(repo, name: str, commit: str, message: str) -> None:
    """Create the annotated tag NAME on COMMIT; never moves an existing tag."""
    import git

    if tag_exists(repo, name):
        raise RunExists(f"tag {name} already exists; henryvc never moves or overwrites a tag")
    try:
        repo.create_tag(name, ref=commit, message=message)
    except git.GitCommandError as exc:
        raise HenryvcError(f"git could not create tag {name}: {exc.stderr.strip()}") from None


def push_tag(repo, name: str, remote: str = "origin") -> None:
    """Push refs/tags/NAME to REMOTE."""
    import git

    if remote not in [r.name for r in repo.remotes]:
        raise NotReady(f"no git remote named {remote!r}: add one with `git remote add {remote} URL`")
    try:
        repo.git.push(remote, f"refs/tags/{name}:refs/tags/{name}")
    except git.GitCommandError as exc:
        raise HenryvcError(f"git push of tag {name} to {remote} failed: {exc.stderr.strip()}") from None


def fetch_tags(repo, remote: str = "origin") -> None:
    """Fetch all tags from REMOTE when it exists."""
    if remote in [r.name for r in repo.remotes]:
        repo.git.fetch(remote, "--tags", "--quiet")


def worktree_add(repo, path: Path, rev: str) -> None:
    """Add a detached worktree of REV at PATH."""
    repo.git.worktree("add", "--detach", "--quiet", str(path), rev)


def worktrees(repo) -> dict[str, str]:
    """Path → HEAD sha of each worktree of REPO."""
    found, current = {}, None
    for line in repo.git.worktree("list", "--porcelain").splitlines():
        if line.startswith("worktree "):
            current = line[len("worktree "):]
        elif line.startswith("HEAD ") and current:
            found[current] = line[len("HEAD "):]
    return found
