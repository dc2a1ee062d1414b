"""git notes (reviews attached to a run tag's commit, never moving the tag): part of the git adapter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from henryvc import gitrepo
from henryvc.errors import HenryvcError

if TYPE_CHECKING:
    import git


def notes(repo: git.Repo, ref: str) -> dict[str, str]:
    """Annotated commit -> note text of every note under REF (one `notes list`, one `cat-file --batch`)."""
    import git

    try:
        listing = repo.git.notes("--ref", ref, "list")
    except git.GitCommandError:
        return {}  # no such notes ref yet
    pairs = [line.split() for line in listing.splitlines() if line.strip()]
    if not pairs:
        return {}
    blobs = _cat_blobs(repo, [blob for blob, _ in pairs])
    return {commit: blobs.get(blob, "") for blob, commit in pairs}


def _cat_blobs(repo: git.Repo, oids: list[str]) -> dict[str, str]:
    """The text of each blob OID, read through one `git cat-file --batch`."""
    import subprocess

    out = subprocess.run(["git", "cat-file", "--batch"], cwd=gitrepo.root_of(repo),
                         input=("\n".join(oids) + "\n").encode(),
                         capture_output=True, check=True).stdout
    found, pos = {}, 0
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


def note(repo: git.Repo, ref: str, commit: str) -> str | None:
    """The note under REF on COMMIT, None when there is none."""
    import git

    try:
        return repo.git.notes("--ref", ref, "show", commit)
    except git.GitCommandError:
        return None


def set_note(repo: git.Repo, ref: str, commit: str, text: str) -> None:
    """Write TEXT as the note under REF on COMMIT (replacing the previous one: a new notes commit)."""
    import subprocess

    gitrepo.clear_stale_locks(repo)
    done = subprocess.run(["git", "notes", "--ref", ref, "add", "--force", "--file=-", commit],
                          cwd=gitrepo.root_of(repo),
                          input=text.encode(), capture_output=True)
    if done.returncode:
        raise HenryvcError(f"git notes add failed: {done.stderr.decode(errors='replace').strip()}")
