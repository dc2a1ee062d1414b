"""Fixtures for the engine tier: a real engine (Docker, or Podman's Docker API), the real image, and
folders owned by a non-root user so that "no root-owned files" is a check that can fail.

Commands on the host run as the test's own user; only the project changes hands. (Dropping root for
the host side too is not possible everywhere: CI's interpreter lives under /root, mode 700.)

Set up the engine with `bash scripts/container_engine.sh` and export the DOCKER_HOST it prints. Without
an engine these tests skip and say why, except where CI=true or HENRYVC_REQUIRE_ENGINE=1: there they fail.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEST_TAG = os.environ.get("HENRYVC_TEST_IMAGE", "henryvc:test")
BASE_IMAGE = os.environ.get("HENRYVC_TEST_BASE_IMAGE", "localhost/henryvc-base:bookworm")
ARM64_BASE = "localhost/henryvc-base:bookworm-arm64"
ARM64_SETUP = "bash scripts/container_engine.sh --arch arm64"
BINFMT = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
# Running as root (CI), the project is handed to this uid so root-owned files stand out.
OTHER_UID = 4242


def engine_required() -> bool:
    """True where a missing engine must fail the run rather than skip (CI)."""
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("HENRYVC_REQUIRE_ENGINE") == "1"


def unavailable(reason: str) -> None:
    """Skip with REASON, or fail with it where the engine is required."""
    reason += " (set it up with `bash scripts/container_engine.sh` and export the DOCKER_HOST it prints)"
    if engine_required():
        pytest.fail(f"engine required (CI=true or HENRYVC_REQUIRE_ENGINE=1) but: {reason}", pytrace=False)
    pytest.skip(reason)


def ca_bundle() -> str | None:
    """The CA bundle pip needs inside the build (proxies), if this machine has one."""
    for candidate in (os.environ.get("HENRYVC_TEST_CA_BUNDLE"), os.environ.get("PIP_CERT"),
                      os.environ.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def owner_ids() -> tuple[int, int]:
    """uid, gid the test projects belong to: ours, or OTHER_UID when we are root."""
    return (OTHER_UID, OTHER_UID) if os.getuid() == 0 else (os.getuid(), os.getgid())


def chown_tree(root: Path, uid: int, gid: int) -> None:
    """Hand ROOT and everything below it to uid:gid (no-op unless we are root)."""
    if os.getuid() != 0:
        return
    for path in [root, *root.rglob("*")]:
        os.lchown(path, uid, gid)


def root_owned(root: Path) -> list[str]:
    """Paths under ROOT owned by uid 0."""
    return [str(p.relative_to(root)) for p in [root, *root.rglob("*")] if p.lstat().st_uid == 0]


def owner_env(home: Path) -> dict[str, str]:
    """Environment for commands run as the owner: own HOME, git identity, DVC site cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "DVC_"))}
    env.update({"HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"), "GIT_CONFIG_NOSYSTEM": "1",
                "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(home / "dvc-site"),
                "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")})
    return env


def host(args: list[str], cwd: Path, home: Path, timeout: float = 1800, **extra_env: str):
    """Run ARGS in CWD on the host with HOME's git identity; text output captured."""
    return subprocess.run(args, cwd=cwd, env={**owner_env(home), **extra_env}, capture_output=True,
                          text=True, timeout=timeout)


def henryvc(*args: str, cwd: Path, home: Path, **extra_env: str):
    """The real henryvc command line in a child process."""
    return host([sys.executable, "-m", "henryvc.main", *args], cwd, home, **extra_env)


@pytest.fixture(scope="session")
def engine():
    """A docker.DockerClient on a live engine; skips (or fails in CI) without one."""
    from henryvc.adapters import container
    from henryvc.errors import EngineUnavailable

    try:
        return container.connect()
    except EngineUnavailable as exc:
        unavailable(str(exc))


@pytest.fixture(scope="session")
def image(engine, tmp_path_factory) -> str:
    """The project's real Dockerfile built through `henryvc docker build` on BASE_IMAGE; its id."""
    import docker

    try:
        engine.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        unavailable(f"base image {BASE_IMAGE} is not in the engine")
    args = [sys.executable, "-m", "henryvc.main", "docker", "build", "--base-image", BASE_IMAGE, "--tag", TEST_TAG]
    if ca_bundle():
        args += ["--ca-bundle", ca_bundle()]
    log = tmp_path_factory.mktemp("build") / "build.log"
    with log.open("w") as handle:
        done = subprocess.run(args, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, text=True, timeout=3600)
    if done.returncode != 0:
        pytest.fail(f"henryvc docker build failed ({done.returncode}):\n{log.read_text()[-4000:]}", pytrace=False)
    return engine.images.get(TEST_TAG).id


@pytest.fixture(scope="session")
def arm64_engine(engine):
    """The engine, able to run arm64 images here (natively or through qemu-aarch64), with the arm64 base."""
    import docker

    native = platform.machine() in ("aarch64", "arm64")
    if not native and not (BINFMT.exists() and BINFMT.read_text().startswith("enabled")):
        unavailable(f"qemu-aarch64 is not registered with binfmt_misc ({ARM64_SETUP} registers it)")
    try:
        base = engine.images.get(ARM64_BASE)
    except docker.errors.ImageNotFound:
        unavailable(f"no arm64 base image {ARM64_BASE} ({ARM64_SETUP} makes it)")
    if base.attrs.get("Architecture") != "arm64":
        unavailable(f"{ARM64_BASE} is {base.attrs.get('Architecture')}, not arm64 ({ARM64_SETUP} rebuilds it)")
    return engine


@pytest.fixture(scope="session")
def built_commit(engine, image) -> str:
    """The commit `henryvc docker build` recorded (others may commit while the tests run)."""
    return engine.images.get(image).labels["org.opencontainers.image.revision"]


@pytest.fixture
def owned_dir():
    """A fresh folder the owner can reach and owns (pytest's tmp_path is private to root)."""
    uid, gid = owner_ids()
    path = Path(tempfile.mkdtemp(prefix="henryvc-engine-test-"))
    path.chmod(0o755)
    (path / "home").mkdir()
    (path / "home" / ".gitconfig").write_text(
        "[user]\n\tname = Henry Tester\n\temail = tester@henryvc.invalid\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        # root on the host reads projects handed to OTHER_UID
        "[safe]\n\tdirectory = *\n")
    chown_tree(path, uid, gid)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def henryvc_lite_image(engine, tmp_path):
    """The local base with henryvc's packages copied in (no dependencies: stagecode and environment need none)."""
    import docker

    from henryvc.core import codeid

    try:
        engine.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        unavailable(f"base image {BASE_IMAGE} is not in the engine")
    context = tmp_path / "context"
    for name, folder in codeid.package_dirs().items():
        shutil.copytree(folder, context / "pkgs" / name, ignore=shutil.ignore_patterns("__pycache__", "templates"))
    (context / "Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\nCOPY pkgs /opt/hv\nENV PYTHONPATH=/opt/hv\n"
        "RUN command -v python >/dev/null || ln -s \"$(command -v python3)\" /usr/local/bin/python\n")
    image, _ = engine.images.build(path=str(context), rm=True)
    yield image.id
    try:
        engine.images.remove(image.id, force=True)
    except docker.errors.APIError:
        pass
