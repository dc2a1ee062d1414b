"""henryvc.ops.pipeline with the stand-in stage under the real `dvc repro`: run makes, trains and tags a run, a stage
failing before training records the run failed with the stage's own error, bad input writes nothing, and resume
refuses what it cannot continue before anything runs. Real Coqui training, resumed, is tests/tiers/slow/
(test_training_run_command.py, test_training_resume.py, test_training_exact_resume.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from henryvc.core import params, runname
from henryvc.core import record as records
from henryvc.errors import BadInput, Busy, HenryvcError, NotReady, RunNotFound
from henryvc.ops import archive as archives
from henryvc.ops import pipeline
from tests.helpers.lifecycle import picture, run_with_status, training
from tests.helpers.project import gen, sh

FAILS_BEFORE_TRAINING = ("import sys\nprint('prepare: error: the voice data is not usable:')\n"
                         "print('  - wavs/clip1.wav: empty file (0 bytes)')\nsys.exit(1)\n")
HOLD_PIPELINE = ("import sys, time\nfrom pathlib import Path\nfrom henryvc.core import pipelock\n"
                 "from henryvc.core.project import Project\n"
                 "with pipelock.hold(Project(Path(sys.argv[1])), 'henryvc run', 'henry_v2_debug_20200101_000000'):\n"
                 "    print('locked', flush=True)\n    time.sleep(600)\n")


def test_run_makes_trains_and_tags_a_run(project):
    lines: list[str] = []
    result = pipeline.run(project, 2, "debug", description="through run", output=lines.append)
    assert runname.is_run_name(result.name) and result.status == "success"
    assert params.active_run(project.root) == result.name
    assert result.tag_commit == sh(project.root, "git", "rev-parse", f"{result.name}^{{commit}}").stdout.strip()
    assert records.load(project.run_dir(result.name)).description == "through run"
    assert any("train" in line for line in lines)  # dvc repro's own lines reached OUTPUT
    assert result.to_dict()["name"] == result.name

    untagged = pipeline.run(project, 2, "stable", tag=False)
    assert untagged.tag_commit is None and sh(project.root, "git", "tag", "-l", untagged.name).stdout == ""


def test_a_stage_failing_before_training_records_the_run_failed_with_its_error(project):
    gen(project, {"fake_train.py": FAILS_BEFORE_TRAINING}, commit="a stage that refuses the data")
    with pytest.raises(HenryvcError, match="failed before training") as raised:
        pipeline.run(project, 2, "debug")
    [run_dir] = [p for p in project.runs.iterdir() if runname.is_run_name(p.name)]
    assert "prepare: error: the voice data is not usable:; - wavs/clip1.wav: empty file (0 bytes)" in str(raised.value)
    rec = records.load(run_dir)
    assert rec.status == "failed" and rec.history[-1]["event"] == "pipeline-failed"
    assert "wavs/clip1.wav: empty file" in rec.verdict["reasons"][0]
    assert params.active_run(project.root) == run_dir.name  # fix the data, `dvc repro` retries this very run
    assert sh(project.root, "git", "tag", "-l", "henry_v*").stdout == ""


def test_a_run_that_failed_after_training_started_keeps_its_status(project):
    gen(project, {"fake_train.py": (project.root / "fake_train.py").read_text()
                  + "\nrecord('training')\nsys.exit('killed in the middle')\n"}, commit="a stage dying mid-training")
    with pytest.raises(HenryvcError, match="now incomplete; continue it with `henryvc resume") as raised:
        pipeline.run(project, 2, "debug")
    [run_dir] = [p for p in project.runs.iterdir() if runname.is_run_name(p.name)]
    assert "killed in the middle" in str(raised.value)
    assert records.load(run_dir).status == "training" and pipeline.run_status(run_dir) == "incomplete"


@pytest.mark.parametrize("kwargs", [{"variant": "nightly"}, {"gpus": 0}, {"sets": ("no_such_field=1",)},
                                    {"parent": "henry_v2_debug_20200101_000000"}])
def test_bad_input_writes_nothing_not_even_the_pipeline_lock(project, kwargs):
    before = picture(project.root)
    with pytest.raises(BadInput) as raised:
        pipeline.run(project, **{"major": 2, "variant": "debug", **kwargs})
    assert raised.value.exit_code == 2
    assert picture(project.root) == before


def test_run_is_refused_while_another_pipeline_holds_the_project(project):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_PIPELINE, str(project.root)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(Busy):
            pipeline.run(project, 2, "debug")
        assert not [p for p in project.runs.iterdir() if runname.is_run_name(p.name)]
    finally:
        holder.kill()
        holder.wait()


def test_dvc_repro_refuses_an_escaping_run_before_dvc_reads_it(project):
    project.params.write_text("run: ../../etc\nfake:\n  seed: 1\n")
    with pytest.raises(BadInput):
        pipeline.dvc_repro(project.root)


def test_dvc_repro_keeps_the_last_lines(project):
    run_with_status(project, "success", seed=1)  # params.yaml names a trained run: repro has nothing to do
    noisy = "".join(f"print('line {i}')\n" for i in range(40))
    gen(project, {"fake_train.py": noisy + (project.root / "fake_train.py").read_text()}, commit="a chatty stage")
    seen: list[str] = []
    code, tail = pipeline.dvc_repro(project.root, seen.append)
    assert code == 0 and len(tail) == pipeline.TAIL_LINES and tail == seen[-pipeline.TAIL_LINES:]
    assert "line 39" in seen and len(seen) > pipeline.TAIL_LINES


def test_dvc_repro_runs_over_a_stage_lock_table_a_killed_dvc_tore(project):
    run_with_status(project, "success", seed=1)
    table = project.root / ".dvc" / "tmp" / "rwlock"
    table.write_text('{"write": {"/p/training_runs": {"pid": 4242, "c')
    code, tail = pipeline.dvc_repro(project.root)
    assert code == 0, tail
    assert "4242" not in table.read_text()


def test_resume_refuses_what_it_cannot_continue_and_runs_nothing(project):
    done = run_with_status(project, "success", seed=1)
    with pytest.raises(NotReady, match="is success, not incomplete"):
        pipeline.resume(project, done)
    with pytest.raises(RunNotFound):
        pipeline.resume(project, "henry_v2_debug_20990101_000000")
    with pytest.raises(BadInput):
        pipeline.resume(project, "../etc")

    early = run_with_status(project, "incomplete", seed=2)
    for ckpt in (project.run_dir(early) / "checkpoints").glob("*.pth"):
        ckpt.unlink()
    before = picture(project.root)
    with pytest.raises(NotReady, match="before its first checkpoint"):
        pipeline.resume(project, early)
    busy = run_with_status(project, "training", seed=3)
    with training(project.run_dir(busy)), pytest.raises(NotReady, match="training right now"):
        pipeline.resume(project, busy)
    assert params.active_run(project.root) == busy  # nobody re-pointed params.yaml
    assert {k: v for k, v in picture(project.root).items() if early in k} == {
        k: v for k, v in before.items() if early in k}


def test_resume_of_an_archived_run_that_is_not_incomplete_moves_nothing(project):
    name = run_with_status(project, "failed", seed=1)
    archives.archive(project)
    before = picture(project.root)
    with pytest.raises(NotReady, match="archived in training_runs/archive/failed"):
        pipeline.resume(project, name)
    assert picture(project.root) == before
