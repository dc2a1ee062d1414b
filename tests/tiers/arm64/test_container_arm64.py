"""The arm64 image, proven on an x86_64 machine under QEMU user emulation.

Two tiers, both through `henryvc docker build --platform linux/arm64` on the arm64 Debian base that
`bash scripts/container_engine.sh --arch arm64` prepares:

- `-m arm64_builder` (in `make test`, so CI runs it): the Dockerfile's builder stage only (`--target builder`):
  resolving the pinned set for aarch64 and building the wheels the index lacks there, above all
  monotonic-alignment-search's C extension, which stopped every arm64 build before the builder stage.
- `-m arm64` (`make test-arm64`, a scheduled job: tens of minutes emulated): the whole image, then inside
  it `henryvc --version`, the Tacotron2 model built from the debug config, one training step of the real
  train stage on a few clips, and the run record saying `arch: aarch64`; and a tag made on this amd64
  machine re-created in the arm64 image, with the architecture drift it shows.

Missing engine, emulation or arm64 base: skip with the reason, except under CI=true or
HENRYVC_REQUIRE_ENGINE=1, where it fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import training as tf
from tests.helpers.container import ARM64_BASE, REPO, ca_bundle, henryvc

ARM64_TAG = "henryvc:arm64-test"
BUILDER_TAG = "henryvc:arm64-builder-test"


def build(tmp_path_factory, tag: str, *extra: str) -> tuple[float, str]:
    """`henryvc docker build --platform linux/arm64` of the real Dockerfile; (wall seconds, log)."""
    args = [sys.executable, "-m", "henryvc.main", "docker", "build", "--platform", "linux/arm64",
            "--base-image", ARM64_BASE, "--tag", tag, *extra]
    if ca_bundle():
        args += ["--ca-bundle", ca_bundle()]
    log = tmp_path_factory.mktemp("arm64-build") / "build.log"
    started = time.monotonic()
    with log.open("w") as handle:
        done = subprocess.run(args, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, text=True, timeout=4 * 3600)
    elapsed = time.monotonic() - started
    text = log.read_text()
    if done.returncode != 0:
        pytest.fail(f"arm64 build failed ({done.returncode}) after {elapsed:.0f} s:\n{text[-6000:]}", pytrace=False)
    print(f"\narm64 build of {tag}: {elapsed:.0f} s")
    return elapsed, text


@pytest.fixture(scope="module")
def arm64_image(arm64_engine, tmp_path_factory) -> str:
    """The whole arm64 image, built from the real Dockerfile; its id."""
    build(tmp_path_factory, ARM64_TAG)
    image = arm64_engine.images.get(ARM64_TAG)
    assert image.attrs["Architecture"] == "arm64"
    return image.id


def inside(*command: str, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    return henryvc("docker", "run", "--image", ARM64_TAG, "--", *command, cwd=cwd, home=home)


@pytest.fixture(scope="module")
def project(arm64_image, tmp_path_factory) -> tuple[Path, Path]:
    """A real project with a debug run set up for exactly one training step (4 train clips, one batch of 4;
    Coqui keeps the last short batch, so a batch of 3 made two steps: measured in the arm64 image)."""
    root = tmp_path_factory.mktemp("arm64-project")
    home = root / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Henry Tester\n\temail = tester@henryvc.invalid\n"
                                     "[safe]\n\tdirectory = *\n")
    data = tf.sample_data(tmp_path_factory.mktemp("voice"), clips=6)
    config = tf.make_config(**{**tf.TINY, "epochs": 1, "save_step": 1, "batch_size": 4})
    params = {"evaluation": {**tf.TINY_PARAMS, "every_epochs": 1}, "data": {"eval_split_size": 2}}
    return tf.make_project(root / "p", data, config=config, params=params), home


# ---------------------------------------------------------------- CI: the builder stage


@pytest.mark.arm64_builder
def test_arm64_builder_stage_builds_the_wheels_pypi_lacks(arm64_engine, tmp_path_factory):
    elapsed, log = build(tmp_path_factory, BUILDER_TAG, "--target", "builder")
    image = arm64_engine.images.get(BUILDER_TAG)
    assert image.attrs["Architecture"] == "arm64"
    listing = arm64_engine.containers.run(BUILDER_TAG, ["sh", "-c", "uname -m; cat /wheels/sdists.txt; ls /wheels"],
                                          remove=True).decode()
    machine, *rest = listing.split()
    assert machine == "aarch64"
    sdists = [line for line in rest if "==" in line]
    wheels = [line for line in rest if line.endswith(".whl")]
    names = {s.split("==")[0].lower().replace("-", "_") for s in sdists}
    assert "monotonic_alignment_search" in names, sdists  # the gap that stopped the arm64 build
    assert any(w.startswith("monotonic_alignment_search-") and w.endswith("_aarch64.whl") for w in wheels), wheels
    built = {w.split("-")[0].lower() for w in wheels}
    assert names <= built, f"sdists without a wheel: {names - built}"
    print(f"only as source on aarch64: {', '.join(sdists)} (builder stage {elapsed:.0f} s)")


# ---------------------------------------------------------------- scheduled: the whole image


@pytest.mark.arm64
def test_arm64_image_version_model_and_build_info(arm64_image, project):
    root, home = project
    script = ("uname -m; henryvc --version; cat /etc/henryvc/build-info.json; python -c '"
              "import json; from henryvc_training import common; from TTS.tts.models.tacotron2 import Tacotron2; "
              "raw = json.load(open(\"training_runs/" + tf.RUN + "/config.json\")); "
              "model = Tacotron2.init_from_config(common.coqui_config(raw)); "
              "print(\"tacotron2 parameters\", sum(p.numel() for p in model.parameters()))'")
    started = time.monotonic()
    done = inside("sh", "-c", script, cwd=root, home=home)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "aarch64"
    assert lines[1].startswith("henryvc") and "0.1.0" in lines[1]
    start = lines.index("{")
    info = json.loads("\n".join(lines[start:lines.index("}", start) + 1]))
    assert info["arch"] == "aarch64" and info["platform"] == "linux/arm64" and info["torch"] == "2.11.0"
    assert any(p.startswith("monotonic-alignment-search==") or p.startswith("monotonic_alignment_search==")
               for p in info["built_from_source"])
    [params] = [int(line.split()[-1]) for line in lines if line.startswith("tacotron2 parameters")]
    assert params > 1_000_000
    print(f"\nversion, build info and Tacotron2 ({params} parameters) in the arm64 image: "
          f"{time.monotonic() - started:.0f} s")


@pytest.mark.arm64
def test_arm64_one_training_step_recorded_as_aarch64(arm64_image, project):
    root, home = project
    started = time.monotonic()
    done = inside("dvc", "repro", "train", cwd=root, home=home)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    record = json.loads((root / "training_runs" / tf.RUN / "run.json").read_text())
    env = record["environment"]
    assert env["arch"] == "aarch64"
    assert env["container"]["arch"] == "aarch64" and env["container"]["image_id"] == arm64_image
    assert record["training"]["steps"] == 1 and record["training"]["finished"], record["training"]
    print(f"\none training step (prepare + train stages) in the arm64 image: {elapsed:.0f} s")


@pytest.mark.arm64
def test_arm64_recreates_an_amd64_tag_and_shows_the_drift(arm64_image, project, tmp_path_factory):
    """A tag made on this x86_64 host, re-created inside the arm64 image: arch drift is expected."""
    _, home = project
    data = tf.sample_data(tmp_path_factory.mktemp("voice2"), clips=6)
    config = tf.make_config(**{**tf.TINY, "epochs": 1, "save_step": 1})
    params = {"evaluation": {**tf.TINY_PARAMS, "every_epochs": 1}, "data": {"eval_split_size": 2}}
    root = tf.make_project(tmp_path_factory.mktemp("amd64-tag") / "p", data, config=config, params=params)
    trained = tf.dvc("repro", cwd=root, check=False)
    assert trained.returncode == 0, trained.stdout[-4000:] + trained.stderr[-2000:]
    tagged = henryvc("tag-run", cwd=root, home=home)
    assert tagged.returncode == 0, tagged.stdout + tagged.stderr

    # recreate checks the image against the tag's environment first and refuses, one line per difference.
    refused = henryvc("docker", "recreate", tf.RUN, "--image", ARM64_TAG, cwd=root, home=home)
    assert refused.returncode != 0 and "aarch64" in refused.stderr and "x86_64" in refused.stderr, refused.stderr
    print(f"\nrecreate without --allow-drift refused:\n{refused.stderr.strip()}")

    started = time.monotonic()
    done = henryvc("docker", "recreate", tf.RUN, "--image", ARM64_TAG, "--allow-drift", "--json", cwd=root,
                   home=home)
    elapsed = time.monotonic() - started
    report = json.loads(done.stdout)
    assert report["exit_code"] == 0 and report["metrics_rewritten"], done.stderr[-4000:]
    worktree = Path(report["worktree"])
    tagged_env = json.loads((root / "training_runs" / tf.RUN / "run.json").read_text())["environment"]
    recreated_env = json.loads((worktree / "training_runs" / tf.RUN / "run.json").read_text())["environment"]
    assert tagged_env["arch"] == "x86_64" and recreated_env["arch"] == "aarch64"
    drift = {k: (tagged_env.get(k), recreated_env.get(k)) for k in ("arch", "device", "torch_threads", "torch")
             if tagged_env.get(k) != recreated_env.get(k)}
    print(f"\nrecreated {tf.RUN} (tagged on x86_64) in the arm64 image in {elapsed:.0f} s; "
          f"bit-identical training: {report['identical']}, metrics equal: {report['matches']}")
    print(f"environment drift: {drift}")
    for m in report["metrics"]:
        print(f"  {m['key']}: tagged {m['tagged']} recreated {m['recreated']} delta {m['delta']} same {m['same']}")
