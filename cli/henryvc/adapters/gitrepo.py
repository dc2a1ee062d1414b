"""A thin adapter over GitPython so the rest of henryvc speaks in commits and tags.

The domain (ops, core) holds a `GitRepo` and passes it to this module's verbs; only the adapters reach the
GitPython object inside it (`raw`), as scmrepo hands DVC a `Git` and never a raw GitPython Repo. The verbs
take a raw Repo too, for the modules not moved yet (see docs/architecture.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Union

from henryvc.adapters.gitlocks import clear_stale_locks, drop_half_made_worktrees
from henryvc.errors import HenryvcError, NotReady, RunExists

if TYPE_CHECKING:
    import git


class GitRepo:
    """A git repository as henryvc's domain code holds it: a handle for this module's verbs, no GitPython API."""

    def __init__(self, repo: git.Repo) -> None:
        self.raw = repo  # adapters only

    @property
    def root(self) -> Path:
        """The work tree (the git folder of a bare repository)."""
        return Path(self.raw.working_tree_dir or self.raw.git_dir)


Repository = Union[GitRepo, "git.Repo"]  # what the verbs take: the domain's handle, or a raw Repo from an adapter


def raw(repo: Repository) -> git.Repo:
    """The GitPython Repo of REPO (for adapters)."""
    return repo.raw if isinstance(repo, GitRepo) else repo


def open_git(root: Path) -> GitRepo:
    """The repository at ROOT, as the domain holds it."""
    return GitRepo(open_repo(root))


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


def init(root: Path) -> GitRepo:
    """Open the repository at ROOT, creating it (branch main) when absent."""
    import git

    if (Path(root) / ".git").exists():
        return open_git(root)
    return GitRepo(git.Repo.init(root, initial_branch="main"))


def head(repo: Repository) -> str | None:
    """The HEAD commit's sha, or None in a repository without commits."""
    repo = raw(repo)
    try:
        return repo.head.commit.hexsha
    except ValueError:
        return None


def is_dirty(repo: Repository) -> bool:
    """True when tracked files have uncommitted changes (untracked files do not count)."""
    repo = raw(repo)
    return repo.is_dirty(index=True, working_tree=True, untracked_files=False)


def tag_exists(repo: Repository, name: str) -> bool:
    """True when refs/tags/NAME exists."""
    repo = raw(repo)
    return bool(repo.git.tag("--list", name))


def root_of(repo: Repository | Path) -> str | Path:
    """The folder to run git in: REPO is a GitRepo, a GitPython Repo or a path."""
    if isinstance(repo, (str, os.PathLike)):
        return repo
    repo = raw(repo)
    return str(repo.working_tree_dir or repo.git_dir)


def has_remote(repo: Repository, name: str) -> bool:
    """True when REPO has a git remote NAME."""
    return name in [r.name for r in raw(repo).remotes]


def show(repo: Repository, rev: str, path: str) -> str | None:
    """Text of PATH at REV, or None when it is not there."""
    repo = raw(repo)
    try:
        data: bytes = (repo.commit(rev).tree / path).data_stream.read()
        return data.decode("utf-8")
    except (KeyError, ValueError):
        return None


def ls_tree(repo: Repository, rev: str) -> list[str]:
    """Every file path at REV."""
    repo = raw(repo)
    listing: str = repo.git.ls_tree("-r", "--name-only", rev)
    return listing.splitlines()


def commit_paths(repo: Repository, paths: list[str], message: str) -> str | None:
    """Stage the existing PATHS and commit them and nothing else; None when they did not change.

    Only these paths: whatever else the user has staged stays staged, out of henryvc's commit.
    """
    repo = raw(repo)
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


def create_tag(repo: Repository, name: str, commit: str, message: str) -> None:
    """Create the annotated tag NAME on COMMIT; never moves an existing tag."""
    repo = raw(repo)
    import git

    if tag_exists(repo, name):
        raise RunExists(f"tag {name} already exists; henryvc never moves or overwrites a tag")
    clear_stale_locks(repo)
    try:
        repo.create_tag(name, ref=commit, message=message)
    except git.GitCommandError as exc:
        raise HenryvcError(f"git could not create tag {name}: {exc.stderr.strip()}") from None


def push_tag(repo: Repository, name: str, remote: str = "origin") -> None:
    """Push refs/tags/NAME to REMOTE (NotReady when there is no such remote)."""
    repo = raw(repo)
    push_tags(repo, [name], remote, required=True)


def push_tags(repo: Repository, names: list[str], remote: str = "origin", required: bool = False) -> bool:
    """Push tags NAMES to REMOTE (tags never move, so this never overwrites one); whether anything was pushed.

    Without REMOTE configured: NotReady when REQUIRED, else nothing is pushed (False).
    """
    repo = raw(repo)
    import git

    if not has_remote(repo, remote):
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


def fetch_tags(repo: Repository, remote: str = "origin") -> None:
    """Fetch all tags from REMOTE when it exists."""
    repo = raw(repo)
    if has_remote(repo, remote):
        repo.git.fetch(remote, "--tags", "--quiet")


def worktree_add(repo: Repository, path: Path, rev: str) -> None:
    """Add a detached worktree of REV at PATH."""
    repo = raw(repo)
    clear_stale_locks(repo)
    drop_half_made_worktrees(repo)
    repo.git.worktree("add", "--detach", "--quiet", str(path), rev)


def worktree_remove(repo: Repository, path: Path) -> None:
    """Remove the worktree at PATH (untracked files too) and forget it."""
    repo = raw(repo)
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


def worktrees(repo: Repository) -> dict[str, str]:
    """Path → HEAD sha of each worktree of REPO (entries a killed `git worktree add` left half made, which
    make `git worktree list` fail, dropped first: gitlocks.drop_half_made_worktrees)."""
    repo = raw(repo)
    drop_half_made_worktrees(repo)
    found, current = {}, None
    for line in repo.git.worktree("list", "--porcelain").splitlines():
        if line.startswith("worktree "):
            current = line[len("worktree "):]
        elif line.startswith("HEAD ") and current:
            found[current] = line[len("HEAD "):]
    return found


def commit_of(repo: Repository, rev: str) -> str:
    """The commit sha REV (a tag, branch or sha) points at."""
    repo = raw(repo)
    return repo.commit(rev).hexsha


def tag_message(repo: Repository, name: str) -> str:
    """The message of annotated tag NAME."""
    repo = raw(repo)
    tag = repo.tag(name).tag
    if tag is None:
        raise HenryvcError(f"tag {name} is not an annotated tag")
    return tag.message


def checkout_detached(repo: Repository, commit: str) -> None:
    """Check COMMIT out in the work tree, HEAD detached."""
    repo = raw(repo)
    repo.git.checkout("--detach", "--quiet", commit)


def blobs(repo: Repository, rev: str, prefix: str) -> dict[str, tuple[str, str, int]]:
    """Every file under PREFIX/ at REV: path -> (mode, blob sha, size)."""
    repo = raw(repo)
    found = {}
    for line in repo.git.ls_tree("-r", "-l", "-z", rev, "--", prefix + "/").split("\0"):
        meta, _, path = line.partition("\t")
        parts = meta.split()
        if len(parts) == 4 and parts[1] == "blob":
            found[path] = (parts[0], parts[2], int(parts[3]))
    return found


def kept_commits(repo: Repository, keep_tags: set[str]) -> list[str]:
    """The commits of KEEP_TAGS, of every branch and of every DVC experiment (one git call)."""
    repo = raw(repo)
    out = repo.git.for_each_ref("--format=%(refname)%00%(objectname)%00%(*objectname)",
                                "refs/heads", "refs/exps", "refs/tags")
    commits = set()
    for line in out.splitlines():
        ref, obj, peeled = line.split("\0")
        if not ref.startswith("refs/tags/") or ref[len("refs/tags/"):] in keep_tags:
            commits.add(peeled or obj)
    return sorted(commits)


def ignored(repo: Repository, paths: list[str]) -> set[str]:
    """Those of PATHS that .gitignore rules ignore (tracked or not)."""
    repo = raw(repo)
    import git

    if not paths:
        return set()
    try:
        return set(repo.git.check_ignore("--no-index", "--", *paths).splitlines())
    except git.GitCommandError:  # exit 1: none is ignored
        return set()


def changed_files(repo: Repository) -> list[str]:
    """Files `git add -A` would take: untracked and not ignored, or modified."""
    repo = raw(repo)
    return sorted({p for p in repo.git.ls_files("-z", "--others", "--modified", "--exclude-standard").split("\0") if p})


def has_staged_changes(repo: Repository) -> bool:
    """True when the index differs from HEAD, or there is no commit yet."""
    repo = raw(repo)
    return head(repo) is None or bool(repo.index.diff("HEAD"))


def _config(repo: Repository, key: str) -> str:
    """git's own `git config --get KEY` (GIT_CONFIG_GLOBAL, includes and the system file honoured, as in a
    commit); "" when it is unset."""
    import git

    try:
        return str(raw(repo).git.config("--get", key)).strip()
    except git.GitCommandError:
        return ""


def identity(repo: Repository) -> str:
    """Who commits here, as git sees it: `Name <email>` ("unknown" without a user.name)."""
    name = _config(repo, "user.name") or "unknown"
    email = _config(repo, "user.email")
    return f"{name} <{email}>" if email else name


def missing_identity(repo: Repository) -> list[str]:
    """The keys of user.name and user.email that git's configuration lacks."""
    return [key for key in ("name", "email") if not _config(repo, f"user.{key}")]


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

def tracked(git_repo: Repository, paths: list[str]) -> list[str]:
    """The files under PATHS that git tracks, in its index or at HEAD (after a kill they can differ)."""
    git_repo = raw(git_repo)
    if not paths:
        return []
    found = set(git_repo.git.ls_files("-z", "--", *paths).split("\0"))
    if head(git_repo):
        found |= set(git_repo.git.ls_tree("-r", "-z", "--name-only", "HEAD", "--", *paths).split("\0"))
    return sorted(p for p in found if p)


def require_branch(git_repo: Repository, what: str) -> None:
    """NotReady when HEAD is detached: a commit made there (WHAT it records) would be lost."""
    git_repo = raw(git_repo)
    if git_repo.head.is_detached:
        raise NotReady(f"HEAD is detached (after `henryvc restore --in-place`?), so the commit {what} would "
                       "be lost: `git checkout main` first")


def commit_only(git_repo: Repository, paths: list[str], message: str) -> str | None:
    """Commit what is staged for PATHS only (other staged changes stay staged); None when nothing changed."""
    git_repo = raw(git_repo)
    if not paths or not git_repo.git.status("--porcelain", "--", *paths):
        return None
    write(git_repo, "commit", "--quiet", "--no-verify", "-m", message, "--", *paths)
    return head(git_repo)


def write(git_repo: Repository, command: str, *args: str) -> str:
    """Run a git command that writes (after clearing locks a killed git left); failures are HenryvcError."""
    git_repo = raw(git_repo)
    import git

    clear_stale_locks(git_repo)
    try:
        output: str = getattr(git_repo.git, command.replace("-", "_"))(*args)
        return output
    except git.GitCommandError as exc:
        raise HenryvcError(f"git {command} failed: {(exc.stderr or str(exc)).strip()}") from None


# --- refs (the review notes: henryvc.adapters.gitnotes) -------------------------------------------------------

def push_ref(repo: Repository, ref: str, remote: str = "origin") -> bool:
    """Push REF to REMOTE when both exist; False when there is nothing to push or no such remote."""
    repo = raw(repo)
    import git

    if not has_remote(repo, remote):
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


def fetch_ref(repo: Repository, ref: str, remote: str = "origin") -> None:
    """Fetch REF from REMOTE into the same ref here, merging nothing (notes: the remote's wins when ours
    is an ancestor; otherwise ours stays and the fetch is skipped)."""
    repo = raw(repo)
    import git

    if has_remote(repo, remote):
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
