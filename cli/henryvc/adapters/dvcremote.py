"""The DVC adapter's remote: one noun, `Remote`: which remote, its URL (and the rest of its configuration),
the cache folder whose objects go there, and the set-up that writes it into a DVC config (`henryvc init`,
a restore's or a job's worktree). The only code that reads or writes `remote` and `core.remote` there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.adapters import dvcfiles as userfiles
from henryvc.adapters.dvcrepo import cache_of, cache_types, open_repo
from henryvc.errors import HenryvcError

if TYPE_CHECKING:
    from dvc.repo import Repo
    from dvc_data.hashfile.db import HashFileDB

REMOTE_NAME = "storage"  # the remote `henryvc init` sets up


@dataclass(frozen=True)
class Remote:
    """One DVC remote and the cache that feeds it. NAME None: no remote is configured (DVC's default then)."""

    name: str | None
    cache: Path
    config: dict[str, Any] = field(default_factory=dict)  # url, and keyfile, port, ... as DVC's config has them

    @property
    def url(self) -> str:
        return str(self.config.get("url", ""))

    @classmethod
    def of(cls, dvc_repo: Repo, name: str | None = None) -> Remote:
        """Remote NAME of an open DVC repo (None: its default remote, if any), with that repo's cache."""
        name = name or default_remote(dvc_repo)
        return cls(name, cache_of(dvc_repo), dict(remotes(dvc_repo).get(name, {})) if name else {})

    def odb(self, dvc_repo: Repo) -> HashFileDB:
        """Its object database (through DVC_REPO, the repo it was read from)."""
        odb: HashFileDB = dvc_repo.cloud.get_remote_odb(self.name, "status")
        return odb

    def problem(self, dvc_repo: Repo) -> str | None:
        """None when it answers and its folder exists, else why not (anything the transport raises)."""
        try:
            remote = dvc_repo.cloud.get_remote(self.name, "doctor")
            return None if remote.fs.exists(remote.path) else f"{remote.path} does not exist"
        except Exception as exc:  # any transport error means "not reachable"
            return f"{type(exc).__name__}: {exc}"

    def write(self, conf: Any, cache: bool = False) -> None:
        """Set it up, as the default remote, in CONF (an open `config.edit(...)`); CACHE: the cache folder too."""
        if cache:
            conf["cache"]["dir"] = str(self.cache)
        if self.name:
            conf["remote"][self.name] = dict(self.config)
            conf["core"]["remote"] = self.name


def default_remote(dvc_repo: Repo) -> str | None:
    """The default DVC remote's name: the one `henryvc restore` pulls from."""
    remote: str | None = dvc_repo.config.get("core", {}).get("remote")
    return remote


def checked_default(dvc_repo: Repo, root: Path) -> Remote:
    """The default remote; BadInput naming the config line when no remote of its name is configured."""
    from dvc.config import ConfigError

    remote = Remote.of(dvc_repo)
    if remote.name and remote.name not in dvc_repo.config["remote"]:
        raise userfiles.config_error(ConfigError(f"remote '{remote.name}' doesn't exist"), Path(root))
    return remote


def remotes(dvc_repo: Repo) -> dict[str, dict[str, Any]]:
    """Every configured DVC remote: name -> its configuration (url, ...)."""
    return dict(dvc_repo.config.get("remote", {}))


def configure(root: Path, url: str | None, default: Path) -> tuple[str, str]:
    """Set link-only cache types and the default remote (URL, else DEFAULT if none is set).

    Returns the remote URL and the cache types.
    """
    repo = open_repo(root)
    types = cache_types(cache_of(repo))
    with repo.config.edit("repo") as conf:
        conf["cache"]["type"] = types
        current = conf["core"].get("remote")  # this config file's own, not one from the user's global config
        if url is None and current:
            return str(conf["remote"][current]["url"]), types
        url = url or str(default)
        if "://" not in url:
            url = str(Path(url).expanduser().resolve())
            Path(url).mkdir(parents=True, exist_ok=True)
        Remote(REMOTE_NAME, cache_of(repo), {"url": url}).write(conf)
    return url, types


def share_cache(worktree: Path, main_root: Path, main: Repo | None = None) -> Path:
    """Point the DVC in WORKTREE at MAIN_ROOT's cache and default remote (local config, never committed);
    returns that cache folder. MAIN: MAIN_ROOT's DVC repo, when the caller opened it already."""
    from dvc.config import Config

    remote = checked_default(main or open_repo(main_root), main_root)
    # DVC's Config of the worktree alone: a whole Repo there (git, index) costs a restore ~60 ms more.
    try:
        config = Config(dvc_dir=str(worktree / ".dvc"))
    except Exception as exc:  # the tag's own .dvc/config does not parse (exit 1: the worktree is made)
        found = userfiles.user_error(exc, worktree)
        if found is None:
            raise
        raise HenryvcError(str(found)) from None
    with config.edit("local") as conf:
        remote.write(conf, cache=True)
    return remote.cache
