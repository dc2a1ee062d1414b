"""cli/henryvc/container.py and `henryvc docker`: a fast tier that runs everywhere, and an engine tier
(`-m engine`) on a real engine: the real Dockerfile built, commands run inside, and a tiny pipeline
trained, tagged, restored and re-created in the container."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from henryvc.adapters import container
from henryvc.core import recreation
from henryvc.errors import BadInput
from henryvc.ops import dockerrun
from tests.helpers.cli import run_cli
from tests.helpers.container import BASE_IMAGE, REPO, TEST_TAG, chown_tree, henryvc, owner_ids, root_owned


def cli_subprocess(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """The real entry point in a child process: real exit code, real stderr."""
    return run_cli(cwd, *args, process=True, env=env, timeout=120)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def small_project(root: Path) -> Path:
    """A git + DVC project (no pipeline): enough for mounting and running commands."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=root, check=True)
    (root / "README.md").write_text("test project\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    return root


# ---------------------------------------------------------------- fast tier: no engine needed

@pytest.mark.parametrize("verb", [["run", "--", "true"], ["build"]])
def test_no_engine_is_one_clear_line_and_exit_1(tmp_path, verb):
    project = small_project(tmp_path / "p")
    missing = tmp_path / "no-such-dir" / "docker.sock"
    done = cli_subprocess(["docker", *verb], project, DOCKER_HOST=f"unix://{missing}")
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"no container engine at unix://{missing}" in lines[0]
    assert "start Docker, or run scripts/container_engine.sh" in lines[0]
    assert "Traceback" not in done.stderr


def test_recreate_without_engine_writes_nothing(tmp_path):
    project = small_project(tmp_path / "p")
    done = cli_subprocess(["docker", "recreate", "henry_v2_debug_20250101_120000"], project,
                          DOCKER_HOST=f"unix://{tmp_path}/none.sock")
    assert done.returncode == 1 and "no container engine" in done.stderr
    assert not (project / ".henryvc" / "restore").exists()


def test_bad_gpus_value_is_bad_input():
    with pytest.raises(BadInput, match="--gpus"):
        container.device_requests("some")
    assert container.device_requests("none") == []
    (request,) = container.device_requests("all")
    assert request["Count"] == -1 and request["Capabilities"] == [["gpu"]]


def test_passthrough_env_keeps_the_runs_settings_only():
    environ = {"HENRYVC_SEED": "1", "DVC_NO_ANALYTICS": "1", "CUDA_VISIBLE_DEVICES": "0,1", "OMP_NUM_THREADS": "2",
               "HOME": "/root", "PATH": "/usr/bin", "AWS_SECRET_ACCESS_KEY": "x", "SSH_AUTH_SOCK": "/tmp/s"}
    assert container.passthrough_env(environ) == {"HENRYVC_SEED": "1", "DVC_NO_ANALYTICS": "1",
                                                  "CUDA_VISIBLE_DEVICES": "0,1", "OMP_NUM_THREADS": "2"}


def test_build_context_keeps_data_runs_and_cache_out(tmp_path):
    root = tmp_path / "ctx"
    files = {"Dockerfile": "FROM scratch\n", "pyproject.toml": "", "cli/henryvc/x.py": "", "training/henryvc_training/t.py": "",
             "voice_data/wavs/a.wav": "RIFF", "training_runs/henry_v2_debug_20250101_120000/checkpoint_1.pth": "w",
             ".dvc/cache/files/md5/ab/cdef": "blob", ".dvc/config": "", ".git/HEAD": "ref",
             "cli/henryvc/__pycache__/x.cpython-311.pyc": ""}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / ".dockerignore").write_text((REPO / ".dockerignore").read_text())
    bundle = tmp_path / "proxy-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    with tarfile.open(fileobj=container.build_context(root, bundle)) as tar:
        names = set(tar.getnames())
        pem = tar.extractfile(container.CA_BUNDLE_NAME).read().decode()
    assert {"Dockerfile", "pyproject.toml", "cli/henryvc/x.py", "training/henryvc_training/t.py", ".dvc/config"} <= names
    leaked = [n for n in names if n.startswith(("voice_data", "training_runs", ".dvc/cache", ".git/"))
              or n.endswith(".pyc")]
    assert leaked == []
    assert pem == bundle.read_text()


def test_build_args_record_the_commit_and_drop_empty_values(tmp_path):
    project = small_project(tmp_path / "p")
    head = git(project, "rev-parse", "HEAD")
    args = container.build_args_for(project, "debian:12", {"PIP_INDEX_URL": "", "PIP_TRUSTED_HOST": "mirror"})
    assert args == {"GIT_COMMIT": head, "BASE_IMAGE": "debian:12", "PIP_TRUSTED_HOST": "mirror"}
    (project / "README.md").write_text("changed\n")
    assert container.build_args_for(project, None)["GIT_COMMIT"] == head + "-dirty"


def test_mounts_reach_a_worktrees_git_and_an_outside_dvc_cache(tmp_path):
    main = small_project(tmp_path / "main")
    cache = tmp_path / "shared-cache"
    subprocess.run([sys.executable, "-m", "dvc", "cache", "dir", str(cache)], cwd=main, check=True)
    cache.mkdir()
    git(main, "worktree", "add", "-q", "--detach", str(tmp_path / "wt"))
    worktree = tmp_path / "wt"
    subprocess.run([sys.executable, "-m", "dvc", "cache", "dir", "--local", str(cache)], cwd=worktree, check=True)
    mounts = {m["Target"]: m["Source"] for m in container.mounts_for(worktree)}
    assert mounts == {"/project": str(worktree.resolve()), str((main / ".git").resolve()): str((main / ".git").resolve()),
                      str(cache.resolve()): str(cache.resolve())}
    # A plain project with its cache inside needs nothing but /project.
    assert [m["Target"] for m in container.mounts_for(small_project(tmp_path / "plain"))] == ["/project"]


def test_owner_is_the_projects_owner(tmp_path):
    project = small_project(tmp_path / "p")
    st = project.stat()
    assert container.owner(project) == f"{st.st_uid}:{st.st_gid}"


def test_compare_metrics_and_the_verdict():
    changes = recreation.compare_metrics({"loss": 1.0, "align_error": 0.05, "note": "a"},
                                        {"loss": 1.0000001, "align_error": 0.07, "extra": 3})
    by_key = {c.key: c for c in changes}
    assert not by_key["loss"].same and not by_key["align_error"].same  # on CPU only equal is the same
    cuda = {c.key: c for c in recreation.compare_metrics({"loss": 1.0}, {"loss": 1.0000001},
                                                        recreation.CUDA_TOLERANCE["metrics_rtol"])}
    assert cuda["loss"].same  # the one tolerance, where the run trained on CUDA
    assert by_key["align_error"].delta == pytest.approx(0.02)
    assert by_key["note"].recreated is None and not by_key["note"].same
    assert by_key["extra"].tagged is None and not by_key["extra"].same
    same = recreation.Recreation("n", "/w", "img", 0, True, recreation.compare_metrics({"loss": 1.0}, {"loss": 1.0}))
    assert same.matches and same.to_dict()["matches"] is True
    trained_apart = recreation.Recreation("n", "/w", "img", 0, True, same.metrics, identical=False)
    assert not trained_apart.matches  # equal metrics, but a step loss or a tensor differs
    close = recreation.Recreation("n", "/w", "img", 0, True, same.metrics, identical=False,
                                 tolerance=recreation.CUDA_TOLERANCE, within_tolerance=True)
    assert close.matches and close.to_dict()["tolerance"]["atol"] == recreation.CUDA_TOLERANCE["atol"]
    assert not recreation.Recreation("n", "/w", "img", 0, False, same.metrics).matches  # stages did not rewrite
    assert not recreation.Recreation("n", "/w", "img", 2, True, same.metrics).matches
    timed = {c.key: c for c in recreation.compare_metrics({"eval_asr_seconds": 3.5, "short_text_seconds": 0.3},
                                                         {"eval_asr_seconds": 7.1, "short_text_seconds": 0.4})}
    assert timed["eval_asr_seconds"].same  # how long scoring took is not a result
    assert not timed["short_text_seconds"].same  # how long the audio is, is


def test_context_root_falls_back_to_the_henryvc_source(tmp_path):
    assert container.context_root(tmp_path) == REPO
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    assert container.context_root(tmp_path) == tmp_path


def test_dockerfile_defaults():
    text = (REPO / "Dockerfile").read_text()
    assert f"ARG BASE_IMAGE={container.DEFAULT_BASE_IMAGE}\n" in text
    assert 'CMD ["dvc", "repro"]' in text and "\nUSER henry\n" in text
    # The dependency layers see pyproject.toml only, so source changes do not reinstall torch; the builder
    # stage (same base) makes the wheels the index lacks, the runtime stage installs binaries only.
    source_copy = text.index("COPY . ")
    base = text.index("FROM ${BASE_IMAGE} AS base")  # the environment and OS packages, once for every stage
    pins, builder = text.index("FROM base AS pins"), text.index("FROM base AS builder")
    assert base < pins and text.count("FROM ${BASE_IMAGE}") == 1 and "\nFROM base\n" in text
    assert pins < text.index("COPY pyproject.toml requirements.lock scripts/image_wheels.py") < builder
    assert builder < text.index("COPY --from=pins /pins/requirements.txt")  # the pins, not the whole file
    runtime = text.index("COPY --from=builder /wheels")
    install = text.index("pip install --only-binary :all: --find-links $w -c $w/constraints.txt")
    assert text.index("COPY pyproject.toml") < runtime < install < source_copy
    assert "COPY . " not in text[:runtime] and "apt-get install" not in text[runtime:].replace(
        "apt-get install -y --no-install-recommends $missing", "")  # the runtime stage installs no compiler


# ---------------------------------------------------------------- engine tier

engine_tier = pytest.mark.engine


@engine_tier
def test_image_records_its_build_info(engine, image, built_commit):
    attrs = engine.images.get(image).attrs
    assert attrs["Config"]["Cmd"] == ["dvc", "repro"]
    assert attrs["Config"]["User"] == "henry"
    def inside(script: str) -> dict:
        output: list[str] = []
        code = dockerrun.run(REPO, TEST_TAG, ["sh", "-c", script], on_output=output.append, client=engine)
        assert code == 0, "".join(output)
        return json.loads("".join(output))

    build_info = inside("cat /etc/henryvc/build-info.json")
    seen_by_run = inside("python -c 'import json; from henryvc.core import environment; "
                         "print(json.dumps(environment.container_info()))'")
    assert build_info["git_commit"] == built_commit
    git(REPO, "cat-file", "-e", built_commit.removesuffix("-dirty") + "^{commit}")  # a real commit of the repo
    assert build_info["base_image"] == BASE_IMAGE
    assert build_info["arch"] == platform.machine()
    assert build_info["torch"] == "2.11.0" and build_info["build_date"]
    # What the builder stage had to build from source for this arch (pure-Python sdists on amd64).
    assert build_info["built_from_source"] and all("==" in pin for pin in build_info["built_from_source"])
    assert seen_by_run["image_id"] == image and seen_by_run["git_commit"] == build_info["git_commit"]


@engine_tier
def test_run_streams_output_and_returns_the_exit_code(image, owned_dir):
    project = small_project(owned_dir / "p")
    chown_tree(project, *owner_ids())
    done = henryvc("docker", "run", "--image", TEST_TAG, "--", "sh", "-c",
                   "echo to-stdout; echo to-stderr >&2; exit 7", cwd=project, home=owned_dir / "home")
    assert done.returncode == 7, done.stderr
    assert "to-stdout" in done.stdout and "to-stderr" in done.stdout


@engine_tier
def test_run_as_the_owner_with_the_runs_environment(image, owned_dir):
    project = small_project(owned_dir / "p")
    uid, gid = owner_ids()
    chown_tree(project, uid, gid)
    script = ("id -u; id -g; printenv HENRYVC_PROBE; printenv HENRYVC_IMAGE_ID; pwd; "
              "df -k /dev/shm | tail -1; git -C /project log --format=%s -1; "
              "mkdir -p training_runs/x && echo made > training_runs/x/file.txt && "
              "dvc add -q training_runs/x >&2")
    done = henryvc("docker", "run", "--image", TEST_TAG, "--", "sh", "-c", script, cwd=project,
                   home=owned_dir / "home", HENRYVC_PROBE="probe-42")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[:5] == [str(uid), str(gid), "probe-42", image, "/project"]
    assert int(lines[5].split()[1]) >= 4 * 1024 * 1024  # shm in KiB: at least 4 GiB, not Docker's 64 MB
    assert lines[6] == "init"
    made = project / "training_runs" / "x" / "file.txt"
    assert made.read_text() == "made\n" and made.stat().st_uid == uid and made.stat().st_gid == gid
    assert list((project / ".dvc" / "cache").rglob("*.dir")), "dvc add inside wrote no cache object"
    assert root_owned(project) == []


@engine_tier
@pytest.mark.slow
def test_tiny_pipeline_in_the_container_tagged_restored_and_recreated(image, owned_dir, tmp_path_factory):
    """The design card: any tagged run re-created from its snapshot inside the image."""
    from tests.helpers import training as tf

    if not (REPO / "dvc.yaml").exists():
        pytest.fail("the repository has no dvc.yaml: the training pipeline is missing")
    data = tf.sample_data(tmp_path_factory.mktemp("voice"))
    project = tf.make_project(owned_dir / "project", data)
    home = owned_dir / "home"
    # Host and container act as the same user here (the host side cannot drop root in CI, see
    # container_fixtures); test_run_as_the_owner_with_the_runs_environment covers a non-root owner.
    uid = os.getuid()

    trained = henryvc("docker", "run", "--image", TEST_TAG, "--", "dvc", "repro", cwd=project, home=home)
    assert trained.returncode == 0, trained.stdout[-4000:] + trained.stderr[-2000:]
    assert "Running stage 'train'" in trained.stdout  # streamed from inside the container
    metrics_file = project / "training_runs" / tf.RUN / "metrics.json"
    assert metrics_file.exists()
    record = json.loads((project / "training_runs" / tf.RUN / "run.json").read_text())
    assert record["environment"]["container"]["image_id"] == image  # the run record knows its image

    tagged = henryvc("tag-run", cwd=project, home=home)
    assert tagged.returncode == 0, tagged.stdout + tagged.stderr

    recreated = henryvc("docker", "recreate", tf.RUN, "--image", TEST_TAG, "--json", cwd=project, home=home)
    report = json.loads(recreated.stdout)
    assert report["exit_code"] == 0, recreated.stderr[-4000:]
    assert report["metrics_rewritten"], "the stages did not run again inside the container"
    tag_file = json.loads(git(project, "show", f"{tf.RUN}:training_runs/{tf.RUN}/metrics.json"))
    tag_metrics = {k for k, v in tag_file.items() if not isinstance(v, (list, dict))}  # what the tag records
    assert tag_metrics and {m["key"].split(".")[0] for m in report["metrics"]} >= tag_metrics
    worktree = Path(report["worktree"])
    assert worktree != project and (worktree / "training_runs" / tf.RUN / "metrics.json").exists()
    different = [m for m in report["metrics"] if not m["same"]]
    assert report["matches"] and recreated.returncode == 0, f"metrics differ from the tag's: {different}"
    foreign = [str(p) for p in [project, *project.rglob("*")] if p.lstat().st_uid != uid]
    assert foreign == []


def test_a_containers_trailing_non_json_line_is_skipped_and_no_json_is_none():
    """docker recreate reads the last JSON line of a container's output; a warning printed after it (or a
    line that is not JSON at all) is not a bug: the JSON before it counts, and none at all is None."""
    from henryvc.ops import recreate

    assert recreate.last_json('{"identical": true}\nwarning: a trailing line\n') == {"identical": True}
    assert recreate.last_json("[1, 2]\n\n  \nnot json {\n") == [1, 2]
    assert recreate.last_json("only noise\nmore noise") is None
