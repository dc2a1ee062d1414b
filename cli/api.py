"""One plain function per registry command; the Click layer calls these and formats what they return."""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from henryvc import gitrepo, project as projects, record as records, registry, runname
from henryvc.errors import BadInput, Busy, HenryvcError, RunExists
from henryvc.project import Project

if TYPE_CHECKING:
    from henryvc import config as configs, snapshot

# cli.config (the config lints), henryvc.snapshot (hashing, DVC) and tempfile are imported by the commands
# that use them: `henryvc list` and `show` must not pay for them at start-up.

COLLISION_RETRIES = 3


def init(root: Path, remote: str | None = None) -> dict[str, Any]:
    """`henryvc init`: make ROOT a project (idempotent)."""
    return projects.init(root, remote)


def validate(paths: list[Path]) -> list[configs.Finding]:
    """`henryvc validate`: every finding in every config file."""
    from henryvc import config as configs

    return [finding for path in paths for finding in configs.validate_file(Path(path))]


def active_run(project: Project) -> str:
    """The run params.yaml points at (what `dvc repro` trains)."""
    import yaml

    if not project.params.exists():
        raise BadInput(f"{project.params} does not exist: name the run, or create one with `henryvc new-run`")
    name = (yaml.safe_load(project.params.read_text()) or {}).get("run")
    if not name:
        raise BadInput("params.yaml names no run: name the run, or create one with `henryvc new-run`")
    return str(runname.parse(str(name)))


def set_active_run(project: Project, name: str) -> None:
    """Point params.yaml's `run` at NAME, keeping its comments and order; atomic."""
    from ruamel.yaml import YAML

    yaml = YAML()
    data = yaml.load(project.params.read_text()) if project.params.exists() else None
    data = data if data is not None else {}
    data["run"] = name
    from henryvc.atomic import write_atomic

    write_atomic(project.params, lambda handle: yaml.dump(data, handle))


def _readme(name: str, major: int, variant: str, description: str, created: str) -> str:
    return (f"# {name}\n\nHenry Voice v{major} ({variant}) training run, created {created}.\n\n"
            f"{description or 'No description.'}\n\n"
            "## Re-create\n\n```\n"
            f"henryvc restore {name}\ncd .henryvc/restore/{name} && dvc repro --force\n```\n\n"
            "## Evaluations\n\n")


def _reserve_name(project: Project, major: int, variant: str, now: Callable[[], datetime]) -> runname.RunName:
    """A name whose folder and tag are both free; two runs in one second get the next second."""
    repo = gitrepo.open_repo(project.root)
    for _ in range(COLLISION_RETRIES + 1):
        name = runname.generate(major, variant, now())
        if not project.run_dir(name).exists() and not gitrepo.tag_exists(repo, str(name)):
            return name
        time.sleep(1.0 - datetime.now().microsecond / 1e6)
    raise RunExists(f"run {name} already exists and no free name came up in {COLLISION_RETRIES} s")


def _refuse_while_pipeline_runs(project: Project) -> None:
    """A `dvc repro` reads params.yaml's run at each stage: re-pointing it mid-pipeline would mix two runs."""
    from henryvc import dvcrepo, pipelock

    if (message := pipelock.busy_message(project)) is not None:
        raise Busy(message)
    if dvcrepo.is_busy(project.root):
        raise Busy("a DVC command (`dvc repro`?) is running in this project and params.yaml must keep naming "
                   "its run until it ends: try again then, or create the run in another clone")
    try:
        current = active_run(project)
    except BadInput:
        return
    if records.is_training(project.run_dir(current)):
        raise Busy(f"run {current} is training and params.yaml names it: try again when it has finished")


def new_run(project: Project, major: int, variant: str, config_path: Path | None = None,
            description: str = "", now: Callable[[], datetime] = datetime.now) -> records.RunRecord:
    """`henryvc new-run`: name, validate, create the run folder (atomically) and point params.yaml at it."""
    from henryvc import config as configs

    runname.check_major(major)
    runname.check_variant(variant)
    source = Path(config_path) if config_path else configs.template_path(project.root, major, variant)
    template = configs.load_template(source, major, variant)
    with project.lock():
        _refuse_while_pipeline_runs(project)
        from henryvc import stagecode

        stagecode.ensure(project.root)  # dvc.yaml's stages depend on the code that will run them
        name = _reserve_name(project, major, variant, now)
        config_text = configs.dumps(configs.render(template, str(name), description))
        repo = gitrepo.open_repo(project.root)
        created = name.stamp.isoformat()
        record = records.RunRecord(
            name=str(name), major=major, variant=variant, created=created,
            config_hash=configs.digest(config_text), source_commit=gitrepo.head(repo),
            description=description or template.get("run_description", ""), seed=template.get("seed"),
            extra={"config_source": str(source.resolve().relative_to(project.root))
                   if project.root in source.resolve().parents else source.name})
        project.runs.mkdir(exist_ok=True)
        import tempfile

        staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=project.runs))
        try:
            (staging / "config.json").write_text(config_text)
            (staging / "README.md").write_text(_readme(str(name), major, variant, record.description, created))
            records.save(staging, record)
            os.rename(staging, project.run_dir(name))  # atomic: the folder appears whole or not at all
        except BaseException:
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
            raise
        set_active_run(project, str(name))
    return record


def tag_run(project: Project, name: str | None = None, push: bool = False) -> snapshot.TagResult:
    """`henryvc tag-run`: one commit and one annotated tag for the run (default: params.yaml's run)."""
    from henryvc import environment, snapshot  # importlib.metadata, platform, socket: only tag-run needs them

    name = str(runname.parse(name)) if name else active_run(project)
    with project.lock():
        return snapshot.tag_run(project, name, environment.capture(), push=push)


def list_runs(project: Project, major: int | None = None, variant: str | None = None,
              status: str | None = None) -> registry.Listing:
    """`henryvc list`."""
    if variant is not None:
        runname.check_variant(variant)
    if status is not None and status not in records.STATUSES:
        raise BadInput(f"status must be one of {', '.join(records.STATUSES)}; got {status!r}")
    return registry.list_runs(project, major, variant, status)


def show(project: Project, name: str) -> registry.RunInfo:
    """`henryvc show`."""
    from henryvc import envlock

    info = registry.show(project, str(runname.parse(name)))
    found = envlock.of_run(project, info.name, info.tagged)
    info.environment = envlock.summary(*found) if found else {}
    return info


def diff(project: Project, a: str, b: str) -> dict[str, Any]:
    """`henryvc diff`."""
    from henryvc import envlock

    result = registry.diff(project, str(runname.parse(a)), str(runname.parse(b)))
    tagged = {run: registry.show(project, run).tagged for run in (result["a"], result["b"])}
    result["environment"] = envlock.changes(envlock.of_run(project, result["a"], tagged[result["a"]]),
                                            envlock.of_run(project, result["b"], tagged[result["b"]]))
    return result


def restore(project: Project, name: str, into: Path | None = None, in_place: bool = False,
            pull: bool = False, progress: snapshot.Progress | None = None) -> snapshot.RestoreResult:
    """`henryvc restore`."""
    from henryvc import snapshot

    name = str(runname.parse(name))
    if into is not None and in_place:
        raise BadInput("--into and --in-place exclude each other")
    with project.lock():
        return snapshot.restore(project, name, into, in_place, pull, progress)


def verify(project: Project, name: str, path: Path | None = None,
           progress: snapshot.Progress | None = None, fast: bool = False) -> snapshot.CheckResult:
    """`henryvc verify`."""
    from henryvc import snapshot

    return snapshot.verify(project, str(runname.parse(name)), path, progress, fast)


def require_project(start: Path | None = None) -> Project:
    """The project around START, for commands that need one."""
    return projects.find(start)


__all__ = ["HenryvcError"]
