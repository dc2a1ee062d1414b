"""git notes (reviews attached to a run tag's commit, never moving the tag): part of the git adapter."""

from __future__ import annotations

from pathlib import Path

from henryvc.adapters import gitlocks, gitrepo
from henryvc.errors import HenryvcError


def notes(repo: gitrepo.Repository | Path, ref: str) -> dict[str, str]:
    """Annotated commit -> note text of every note under REF (REPO: a Repo or the work tree's path).

    `list` runs this for every listing: no GitPython Repo, no process at all when the ref is plainly
    absent, else one `git notes list` and one `git cat-file --batch`.
    """
    import subprocess

    root = Path(str(gitrepo.root_of(repo)))
    if _ref_absent(root, ref):
        return {}
    done = subprocess.run(["git", "notes", "--ref", ref, "list"], cwd=root, capture_output=True, text=True)
    pairs = [line.split() for line in done.stdout.splitlines() if line.strip()] if done.returncode == 0 else []
    if not pairs:
        return {}
    blobs = _cat_blobs(root, [blob for blob, _ in pairs])
    return {commit: blobs.get(blob, "") for blob, commit in pairs}


def _ref_absent(root: Path, ref: str) -> bool:
    """True when REF is neither a loose ref nor in packed-refs of ROOT's .git folder (False when unsure)."""
    git_dir = root / ".git"
    if not git_dir.is_dir():
        return False  # a worktree or submodule (.git is a file): let git answer
    if (git_dir / ref).exists():
        return False
    try:
        packed = (git_dir / "packed-refs").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return f" {ref}\n" not in packed and not packed.endswith(f" {ref}")


def _cat_blobs(root: Path, oids: list[str]) -> dict[str, str]:
    """The text of each blob OID, read through one `git cat-file --batch`."""
    import subprocess

    out = subprocess.run(["git", "cat-file", "--batch"], cwd=root,
                         input=("\n".join(oids) + "\n").encode(),
                         capture_output=True, check=True).stdout
    found: dict[str, str] = {}
    pos = 0
    for oid in oids:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        found[oid] = out[pos:pos + size].decode("utf-8", "replace")
        pos += size + 1
    return found


def note(repo: gitrepo.Repository, ref: str, commit: str) -> str | None:
    """The note under REF on COMMIT, None when there is none."""
    repo = gitrepo.raw(repo)
    import git

    try:
        return str(repo.git.notes("--ref", ref, "show", commit))
    except git.GitCommandError:
        return None


def set_note(repo: gitrepo.Repository, ref: str, commit: str, text: str) -> None:
    """Write TEXT as the note under REF on COMMIT (replacing the previous one: a new notes commit)."""
    repo = gitrepo.raw(repo)
    import subprocess

    gitlocks.clear_stale_locks(repo)
    done = subprocess.run(["git", "notes", "--ref", ref, "add", "--force", "--file=-", commit],
                          cwd=gitrepo.root_of(repo),
                          input=text.encode(), capture_output=True)
    if done.returncode:
        raise HenryvcError(f"git notes add failed: {done.stderr.decode(errors='replace').strip()}")


def merge_remote_notes(repo: gitrepo.Repository, ref: str, remote: str = "origin") -> None:
    """Fetch REMOTE's notes REF and merge them into ours (`git notes merge -s union`); nothing when it has none."""
    repo = gitrepo.raw(repo)
    import git

    if not gitrepo.has_remote(repo, remote):
        return
    incoming = f"{ref}-incoming"
    try:
        repo.git.fetch(remote, f"+{ref}:{incoming}", "--quiet")
    except git.GitCommandError:
        return  # the remote has no such notes yet
    try:
        if not _has_ref(repo, ref):
            gitrepo.write(repo, "update-ref", ref, incoming)
        else:
            gitrepo.write(repo, "notes", "--ref", ref, "merge", "--quiet", "-s", "union", incoming)
    finally:
        gitrepo.write(repo, "update-ref", "-d", incoming)


def _has_ref(repo: gitrepo.Repository, ref: str) -> bool:
    repo = gitrepo.raw(repo)
    import git

    try:
        repo.git.rev_parse("--verify", "--quiet", ref)
        return True
    except git.GitCommandError:
        return False
