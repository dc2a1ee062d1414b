"""`henryvc new-run`: a run's name, folder (config, record, README, made atomically) and params.yaml pointing at it."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.adapters import dvcrepo, gitrepo
from henryvc.core import params, runname
from henryvc.core import record as records
from henryvc.errors import BadInput, Busy, RunExists, RunNotFound

if TYPE_CHECKING:
    from henryvc.core.project import Project

COLLISION_RETRIES = 3


def _readme(name: str, major: int, variant: str, description: str, created: str) -> str:
    return (f"# {name}\n\nHenry Voice v{major} ({variant}) training run, created {created}.\n\n"
            f"{description or 'No description.'}\n\n"
            "## Re-create\n\n```\n"
            f"henryvc restore {name}\ncd .henryvc/restore/{name} && dvc repro --force\n```\n\n"
            "## Evaluations\n\n")


def _reserve_name(project: Project, major: int, variant: str, now: Callable[[], datetime]) -> runname.RunName:
    """A name whose folder and tag are both free; two runs in one second get the next second."""
    repo = gitrepo.open_git(project.root)
    for _ in range(COLLISION_RETRIES + 1):
        name = runname.generate(major, variant, now())
        if not project.run_dir(name).exists() and not gitrepo.tag_exists(repo, str(name)):
            return name
        time.sleep(1.0 - datetime.now().microsecond / 1e6)
    raise RunExists(f"run {name} already exists and no free name came up in {COLLISION_RETRIES} s")


def _refuse_while_pipeline_runs(project: Project) -> None:
    """A `dvc repro` reads params.yaml's run at each stage: re-pointing it mid-pipeline would mix two runs."""
    from henryvc.adapters import dvcrepo
    from henryvc.core import pipelock

    if (message := pipelock.busy_message(project)) is not None:
        raise Busy(message)
    if dvcrepo.is_busy(project.root):
        raise Busy("a DVC command (`dvc repro`?) is running in this project and params.yaml must keep naming "
                   "its run until it ends: try again then, or create the run in another clone")
    try:
        current = params.active_run(project.root)
    except BadInput:
        return
    if records.is_training(project.run_dir(current)):
        raise Busy(f"run {current} is training and params.yaml names it: try again when it has finished")


@dataclass(frozen=True)
class Origin:
    """Where a new run's config comes from: a template file or a tagged run's config, with `-S` overrides."""

    source: str  # what run.json records as config_source: a path in the project, a file name, or tag:<TAG>
    template: dict[str, Any]
    parent: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


def check_request(project: Project, major: int, variant: str, config_path: Path | None = None,
                  parent: str | None = None, sets: tuple[str, ...] = ()) -> Origin:
    """The config a new run of MAJOR/VARIANT would start from; BadInput (writing nothing) when the name's
    parts, the config, the parent tag (`--from`) or an override (`-S key=value`) is wrong. `henryvc run` and
    `henryvc submit` ask this before they take any lock."""
    from henryvc.core import config as configs

    runname.check_major(major)
    runname.check_variant(variant)
    dvcrepo.check_files(project.root)  # a voice_data.dvc DVC cannot read would fail the run after it was made
    if parent is not None:
        if config_path is not None:
            raise BadInput("--from and --config both name the config to start from: give one of them")
        tag = str(runname.parse(parent))
        repo = gitrepo.open_git(project.root)
        if not gitrepo.tag_exists(repo, tag):
            raise RunNotFound(f"--from {tag}: no such tag; list tagged runs with `henryvc list`")
        text = gitrepo.show(repo, tag, f"{project.run_rel(tag)}/config.json")
        if text is None:
            raise BadInput(f"--from {tag}: the tag holds no {project.run_rel(tag)}/config.json")
        template = json.loads(text)
        template["output_path"] = str(template.get("output_path", "")).replace(tag, configs.RUN_PLACEHOLDER)
        source = f"tag:{tag}"
    else:
        path = Path(config_path) if config_path else configs.template_path(project.root, major, variant)
        template = configs.load_template(path, major, variant)
        source = (str(path.resolve().relative_to(project.root)) if project.root in path.resolve().parents
                  else path.name)
        tag = None
    overrides = configs.parse_overrides(sets, template)
    return Origin(source, configs.apply_overrides(template, overrides), tag, overrides)


def new_run(project: Project, major: int, variant: str, config_path: Path | None = None,
            description: str = "", now: Callable[[], datetime] = datetime.now, parent: str | None = None,
            sets: tuple[str, ...] = ()) -> records.RunRecord:
    """`henryvc new-run`: name, validate, create the run folder (atomically) and point params.yaml at it."""
    from henryvc.core import config as configs

    origin = check_request(project, major, variant, config_path, parent, sets)
    template = origin.template
    with project.lock():
        _refuse_while_pipeline_runs(project)
        from henryvc.core import stagecode

        stagecode.ensure(project.root)  # dvc.yaml's stages depend on the code that will run them
        name = _reserve_name(project, major, variant, now)
        config_text = configs.dumps(configs.render(template, str(name), description))
        repo = gitrepo.open_git(project.root)
        created = name.stamp.isoformat()
        record = records.RunRecord(
            name=str(name), major=major, variant=variant, created=created,
            config_hash=configs.digest(config_text), source_commit=gitrepo.head(repo),
            description=description or template.get("run_description", ""), seed=template.get("seed"),
            extra={"config_source": origin.source,
                   **({"parent": origin.parent} if origin.parent else {}),
                   **({"overrides": origin.overrides} if origin.overrides else {})})
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
        params.set_active_run(project.root, str(name))
    return record
