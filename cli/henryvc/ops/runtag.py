"""`henryvc tag-run`: a run's commit and annotated tag (with its summary), and pushing them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.adapters import dvcrepo, gitrepo
from henryvc.core import params
from henryvc.core import record as records
from henryvc.core import summary as summaries
from henryvc.core.runfolder import run_outs, run_path
from henryvc.errors import NotReady, RunExists, RunNotFound
from henryvc.ops.backup import push_tag_data

if TYPE_CHECKING:
    from henryvc.adapters.gitrepo import GitRepo
    from henryvc.core.project import Project


@dataclass
class TagResult:
    """The commit and tag made for a run."""

    name: str
    commit: str
    status: str
    pushed: bool
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def commit_subject(name: str) -> str:
    """The subject of a run's commit."""
    return f"henryvc: run {name}"


def _run_commit(project: Project, git_repo: GitRepo, name: str, status: str) -> str:
    """Commit the run's git-side files; after a kill between commit and tag, reuse that commit."""
    from henryvc.core import published

    published.publish(project.root, project.run_dir(name))  # its metrics and plots at DVC's stable paths
    paths = [run_path(name), "dvc.lock", params.PARAMS_FILE, "dvc.yaml", ".gitignore", *published.PATHS,
             *(p.name for p in dvcrepo.dvcfiles(project.root))]
    made = gitrepo.commit_paths(git_repo, paths, f"{commit_subject(name)} ({status})")
    if made:
        return made
    if gitrepo.show(git_repo, "HEAD", run_path(name, records.RECORD_FILE)) is None:
        raise NotReady(f"nothing of run {name} could be committed: is {run_path(name)} ignored by git?")
    head = gitrepo.head(git_repo)
    assert head is not None  # the run's run.json is committed at HEAD (checked just above)
    return head


def tag(project: Project, name: str | None = None, push: bool = False) -> TagResult:
    """`henryvc tag-run`: under the project lock, tag run NAME (default: the run params.yaml points at)."""
    from henryvc.core import environment  # importlib.metadata, platform, socket: only tag-run needs them

    name = name or params.active_run(project.root)
    with project.lock():
        return tag_run(project, name, {**environment.capture(), "git": gitrepo.git_version()}, push=push)


def tag_run(project: Project, name: str, environment: dict[str, Any], push: bool = False) -> TagResult:
    """Commit run NAME (record, config, metrics, README, dvc.lock, params) and tag it NAME, annotated."""
    git_repo = gitrepo.open_git(project.root)
    if gitrepo.tag_exists(git_repo, name):
        if not push:
            raise RunExists(f"run {name} is already tagged at {gitrepo.commit_of(git_repo, name)[:10]}; "
                            "tags are never moved (use --push to push it)")
        return _push(project, git_repo, name, summaries.parse_message(gitrepo.tag_message(git_repo, name)) or {})
    run_dir = project.run_dir(name)
    if not run_dir.is_dir():
        raise RunNotFound(f"no run folder {run_dir.relative_to(project.root)}: see `henryvc list`")
    record = records.load(run_dir)
    if records.is_training(run_dir):
        raise NotReady(f"run {name} is still training; tag it when it has finished")
    outs = dvcrepo.workspace_outs(project.root)
    if not run_outs(outs, name):
        raise NotReady(f"dvc.lock records no outputs of {name}: point params.yaml's run at it and run `dvc repro`")
    dvcrepo.require_clean(project.root)
    missing = dvcrepo.missing_objects(dvcrepo.cache_dir(project.root), outs)
    if missing:
        raise NotReady(f"not in the DVC cache: {', '.join(missing[:5])}: run `dvc commit` first")
    metrics_file = run_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    if records.live_status(run_dir, record) != record.status:  # a killed trainer's "training" is incomplete
        record = records.update(run_dir, status="incomplete")
    from henryvc.core import review
    from henryvc.ops import review as reviews

    # production: an approving review
    review.require_for_tag(name, record.status, params.read(project.root) or {}, run_dir)
    record = _add_source_commit(run_dir, record)
    summary = summaries.build(name, record.to_dict(), metrics, outs, environment)
    commit = _run_commit(project, git_repo, name, record.status)
    gitrepo.create_tag(git_repo, name, commit, summaries.message(summary))
    reviews.note_at_tag(project.root, name, commit, run_dir)  # reviews made before tagging
    if push:
        return _push(project, git_repo, name, summary)
    return TagResult(name, commit, record.status, False, summary)


def _add_source_commit(run_dir: Path, record: records.RunRecord) -> records.RunRecord:
    """An editable henryvc's git commit, added to the code identity the train stage recorded (run.json and
    environment.json): the stage asks no git (it stands on core alone), tag-run does. The commit describes
    the run's code only where the stage files are still the ones it trained with (same digest); otherwise
    the record says the commit is unknown, and `henryvc env build` warns."""
    from henryvc.core import codeid, environment
    from henryvc.paths import SOURCE_ROOT

    code = dict(record.extra.get("code") or {})
    source = dict(code.get("henryvc") or {})
    if source.get("kind") != "editable" or "commit" in source or "unknown" in source:
        return record
    if (SOURCE_ROOT / ".git").exists() and codeid.identity()["digest"] == code.get("digest"):
        facts: dict[str, Any] = gitrepo.describe(SOURCE_ROOT)
    else:
        facts = {"unknown": "the henryvc source changed between training and tagging: no commit is known"}
    if (run_dir / environment.INFO_FILE).exists():
        environment.add_source(run_dir, facts)
    return records.update(run_dir, code={**code, "henryvc": {**source, **facts}})


def _push(project: Project, git_repo: GitRepo, name: str, summary: dict[str, Any]) -> TagResult:
    # Data first, tag second: a tag that reached the remote always has its data there.
    if gitrepo.commit_of(git_repo, name) != gitrepo.head(git_repo):
        raise NotReady(f"the work tree is not at {name}: `henryvc restore {name} --in-place` first, then push")
    push_tag_data(project, git_repo, name)
    gitrepo.push_tag(git_repo, name)
    from henryvc.ops import review

    review.push(project.root)  # the reviews' notes travel with the tag
    return TagResult(name, gitrepo.commit_of(git_repo, name), summary.get("status", "?"), True, summary)
