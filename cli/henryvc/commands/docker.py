"""`henryvc docker build|run`: the training image, driven through the Docker API (henryvc.adapters.container)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from henryvc.commands._common import emit_json, json_option, run_name_argument
from henryvc.errors import BadInput, Reported


def _echo(text: str) -> None:
    # Container output arrives in arbitrary chunks: write them as they come, no added newlines.
    sys.stdout.write(text)
    sys.stdout.flush()


def _parse_build_args(pairs: tuple[str, ...]) -> dict[str, str]:
    args = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadInput(f"--build-arg takes KEY=VALUE, got {pair!r}")
        args[key] = value
    return args


def _project_root() -> Path:
    from henryvc import api

    return api.require_project().root


@click.group("docker")
def docker_group() -> None:
    """Build the training image and run the pipeline inside it (Docker or Podman's Docker API).

    Example: henryvc docker build && henryvc docker run --gpus all
    """


@docker_group.command("build")
@click.option("--platform", default=None, metavar="P",
              help="Target platform, e.g. linux/arm64 or linux/amd64 (default: the engine's own).")
@click.option("--base-image", default=None, metavar="IMG",
              help="BASE_IMAGE build arg (default: the Dockerfile's CUDA 13 cuDNN runtime image).")
@click.option("--tag", default="henryvc:latest", show_default=True, metavar="T", help="Image tag.")
@click.option("--pip-index-url", envvar="PIP_INDEX_URL", default=None,
              help="pip index inside the build (default: $PIP_INDEX_URL).")
@click.option("--pip-extra-index-url", default=None, help="An extra pip index inside the build.")
@click.option("--torch-index-url", default=None,
              help="Index for torch/torchaudio/torchcodec only (Jetson wheels).")
@click.option("--ca-bundle", envvar="PIP_CERT", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="PEM bundle pip trusts inside the build, for proxies (default: $PIP_CERT).")
@click.option("--build-arg", "build_args", multiple=True, metavar="KEY=VALUE", help="Any other build arg.")
@click.option("--save", is_flag=True,
              help="Also save the image into the project as images/<id>.tar tracked by DVC (opt-in: gigabytes), so "
                   "`docker recreate` can load it where the engine lacks it.")
@click.option("--target", default=None, metavar="STAGE",
              help="Stop after this Dockerfile stage, e.g. builder (the wheels, without the runtime image).")
def build_command(platform: str | None, base_image: str | None, tag: str, pip_index_url: str | None,
                  pip_extra_index_url: str | None, torch_index_url: str | None, ca_bundle: Path | None,
                  build_args: tuple[str, ...], save: bool, target: str | None) -> None:
    """Build the project's Dockerfile into an image, streaming the build log.

    Example: henryvc docker build --platform linux/arm64 --tag henryvc:arm64
    """
    from henryvc import api

    args = {"PIP_INDEX_URL": pip_index_url or "", "PIP_EXTRA_INDEX_URL": pip_extra_index_url or "",
            "TORCH_INDEX_URL": torch_index_url or "", **_parse_build_args(build_args)}
    result = api.docker_build(_project_root(), tag, platform, base_image, args, ca_bundle, on_output=_echo,
                              target=target)
    size_gb = result.size_bytes / 1e9
    click.echo(f"built {result.tag} {result.image_id[:19]} ({size_gb:.1f} GB) "
               f"from commit {result.build_args['GIT_COMMIT'][:12]}")
    if save:
        stored = api.docker_save(api.require_project(), result.image_id)
        click.echo(f"saved {stored.path} ({stored.size_bytes / 1e9:.2f} GB, {stored.seconds:.0f} s), tracked by DVC"
                   if stored.created else f"{stored.path} already stored")


@docker_group.command("run", context_settings={"ignore_unknown_options": True})
@click.option("--gpus", type=click.Choice(["all", "none"]), default="none", show_default=True,
              help="Give the container all GPUs, or none.")
@click.option("--image", default="henryvc:latest", show_default=True, help="Image to run.")
@click.option("--user", default=None, metavar="UID:GID",
              help="Run as this uid:gid (default: the project's owner, so no root-owned files appear).")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def run_command(gpus: str, image: str, user: str | None, command: tuple[str, ...]) -> None:
    """Run COMMAND (default: dvc repro) in the image with the project mounted at /project.

    The exit code is the container's.

    Example: henryvc docker run --gpus all -- dvc repro --force
    """
    from henryvc import api

    code = api.docker_run(_project_root(), image, list(command) or None, gpus, user, on_output=_echo)
    if code:
        raise Reported(exit_code=code)  # the container's exit code; its output said why


@docker_group.command("recreate")
@run_name_argument()
@click.option("--gpus", type=click.Choice(["all", "none"]), default="none", show_default=True,
              help="Give the container all GPUs, or none.")
@click.option("--image", default=None,
              help="Image to run (default: the one the run recorded, loaded from images/ via DVC when the engine "
                   "lacks it; else henryvc:latest).")
@click.option("--allow-drift", is_flag=True,
              help="Re-run even when the image's code, packages, python, arch or id differ from the tag's.")
@json_option
def recreate_command(name: str, gpus: str, image: str | None, allow_drift: bool, as_json: bool) -> None:
    """Restore a tagged run into a worktree, re-run its stages in the image, compare with the tag.

    Refuses before it writes anything, one line per difference, when the image's code, python, arch, id or
    a package the run's training imported is not the one the run recorded. Exit 0 when every per-step loss
    and model tensor is bit-identical to the tag's and every metric is equal; with --gpus all (or a run
    trained on CUDA) a tolerance applies instead, which the output names. Else 1.

    Example: henryvc docker recreate henry_v2_debug_20261124_101500 --gpus all
    """
    from henryvc import api

    def to_stderr(text: str) -> None:
        sys.stderr.write(text)

    out = to_stderr if as_json else _echo  # keep stdout pure JSON
    result = api.docker_recreate(api.require_project(), name, image, gpus, on_output=out, allow_drift=allow_drift)
    if as_json:
        emit_json(result.to_dict())
    else:
        from henryvc.commands.recreate import print_recreation

        print_recreation(result)
    if not result.matches:
        raise Reported()


COMMANDS = [docker_group]
