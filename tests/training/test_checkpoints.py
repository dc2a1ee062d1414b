"""henryvc_training.checkpoints on real torch checkpoint files: which one a continued run starts from, what it
holds, what a kill cut off, when a run continues, and a restore that does not match is refused.
Real training and resuming: tests/tiers/slow/test_training_resume.py and test_training_exact_resume.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from henryvc.core import record
from henryvc.core.runfolder import RunPaths
from henryvc.errors import BadInput
from henryvc_training import checkpoints, resume

RUN = "henry_v2_debug_20250101_120000"


def save(path, step: int, epoch: int = 0, lr: float = 0.1, **extra) -> None:
    """A checkpoint as Coqui writes it: step, epoch, model and optimizer state dicts."""
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"step": step, "epoch": epoch, "model": model.state_dict(), "optimizer": [optimizer.state_dict()],
                **extra}, path)


def run_folder(root, status: str, training: dict | None) -> RunPaths:
    paths = RunPaths(root, RUN)
    paths.run_dir.mkdir(parents=True)
    rec = record.RunRecord(name=RUN, major=2, variant="debug", created="2025-01-01T12:00:00", config_hash="x",
                           source_commit=None, status=status)
    if training is not None:
        rec.extra["training"] = training
    record.save(paths.run_dir, rec)
    return paths


def test_truncated_newest_checkpoint_is_set_aside(tmp_path):
    state = {"step": 2, "epoch": 0, "optimizer": [{"param_groups": [{"lr": 0.1}]}], "model": {}}
    torch.save(state, tmp_path / "checkpoint_2.pth")
    torch.save({**state, "step": 4}, tmp_path / "checkpoint_4.pth")
    full = (tmp_path / "checkpoint_4.pth").read_bytes()
    (tmp_path / "checkpoint_4.pth").write_bytes(full[: len(full) // 2])  # a kill mid-save
    assert checkpoints.drop_unreadable_checkpoints(tmp_path) == ["checkpoint_4.pth"]
    assert checkpoints.last_checkpoint(tmp_path).name == "checkpoint_2.pth"
    assert (tmp_path / "checkpoint_4.pth.partial").exists()
    assert checkpoints.checkpoint_state(tmp_path / "checkpoint_2.pth") == {
        "checkpoint": "checkpoint_2.pth", "step": 2, "epoch": 0, "lr": [0.1]}


def test_last_checkpoint_is_the_highest_step_not_the_last_name(tmp_path):
    assert checkpoints.last_checkpoint(tmp_path) is None  # an empty folder
    (tmp_path / "config.json").write_text("{}")
    assert checkpoints.last_checkpoint(tmp_path) is None  # no *.pth at all
    for step in (2, 10, 9):
        save(tmp_path / f"checkpoint_{step}.pth", step)
    assert checkpoints.last_checkpoint(tmp_path).name == "checkpoint_10.pth"  # 10 > 9, though "9" sorts after
    save(tmp_path / "best_model_12.pth", 12)
    assert checkpoints.last_checkpoint(tmp_path).name == "best_model_12.pth"  # a newer best model wins, as in Coqui


def test_every_checkpoint_unreadable_leaves_none(tmp_path):
    (tmp_path / "checkpoint_3.pth").write_bytes(b"PK\x03\x04 cut off")
    (tmp_path / "checkpoint_5.pth").write_bytes(b"")
    assert checkpoints.drop_unreadable_checkpoints(tmp_path) == ["checkpoint_5.pth", "checkpoint_3.pth"]
    assert checkpoints.last_checkpoint(tmp_path) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_3.pth.partial", "checkpoint_5.pth.partial"]
    assert checkpoints.drop_unreadable_checkpoints(tmp_path) == []  # nothing left to set aside


def test_checkpoint_state_reads_every_optimizers_learning_rate(tmp_path):
    model = torch.nn.Linear(2, 1)
    one = torch.optim.Adam(model.parameters(), lr=1e-3)
    two = torch.optim.SGD(model.parameters(), lr=0.5)
    torch.save({"step": 7, "epoch": 1, "optimizer": [one.state_dict(), two.state_dict()]}, tmp_path / "a.pth")
    assert checkpoints.checkpoint_state(tmp_path / "a.pth")["lr"] == [1e-3, 0.5]
    torch.save({"step": 7, "epoch": 1, "optimizer": one.state_dict()}, tmp_path / "b.pth")  # one, not a list
    assert checkpoints.checkpoint_state(tmp_path / "b.pth") == {"checkpoint": "b.pth", "step": 7, "epoch": 1,
                                                                "lr": [1e-3]}


@pytest.mark.parametrize(("status", "training", "has_checkpoint", "continues"), [
    ("incomplete", {"started": True, "finished": False}, True, True),   # killed: continue
    ("training", {"started": True, "finished": False}, True, True),     # the record of a SIGKILLed trainer
    ("incomplete", {"started": True, "finished": True}, True, False),   # finished, awaiting evaluate
    ("incomplete", {"started": True, "finished": False}, False, False),  # nothing to continue from
    ("failed", {"started": True, "finished": False}, True, False),      # a NaN or crash: start again
    ("created", None, True, False),                                     # never trained
])
def test_should_continue_only_a_run_cut_short_with_a_checkpoint(tmp_path, status, training, has_checkpoint,
                                                                 continues):
    paths = run_folder(tmp_path, status, training)
    if has_checkpoint:
        save(paths.checkpoints / "checkpoint_2.pth", 2)
    assert checkpoints.should_continue(record.load(paths.run_dir), paths) is continues


def test_clear_outputs_removes_the_earlier_training_and_keeps_the_run(tmp_path):
    paths = run_folder(tmp_path, "failed", None)
    (paths.run_dir / "config.json").write_text("{}")
    (paths.data).mkdir()
    (paths.data / "train.csv").write_text("a|b|c\n")
    for folder in (paths.checkpoints, paths.tensorboard, paths.logs, paths.plots, paths.samples):
        folder.mkdir()
        (folder / "x").write_text("old")
    (paths.run_dir / "metrics.json").write_text("{}")
    (paths.run_dir / "SUCCESS").write_text("old")
    checkpoints.clear_outputs(paths)
    assert sorted(p.name for p in paths.run_dir.iterdir()) == ["config.json", "data", "run.json"]
    checkpoints.clear_outputs(paths)  # nothing left to clear is fine


def restored_trainer(step: int, epoch: int, lr: float) -> SimpleNamespace:
    """What check_restored reads of a Coqui Trainer: its counters and real optimizers."""
    optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=lr)
    return SimpleNamespace(total_steps_done=step, epochs_done=epoch, optimizer=[optimizer])


def test_check_restored_accepts_the_next_step_and_the_same_learning_rate(tmp_path):
    save(tmp_path / "checkpoint_4.pth", 4, epoch=1, lr=0.25)
    expected = checkpoints.checkpoint_state(tmp_path / "checkpoint_4.pth")
    assert checkpoints.check_restored(restored_trainer(5, 1, 0.25), expected) == {"step": 5, "epoch": 1,
                                                                                  "lr": [0.25]}
    with pytest.raises(checkpoints.RestoreMismatch, match="restored step 4 epoch 1, expected step 5 epoch 1"):
        checkpoints.check_restored(restored_trainer(4, 1, 0.25), expected)  # Coqui resumes at step + 1
    with pytest.raises(checkpoints.RestoreMismatch, match="expected step 5 epoch 1"):
        checkpoints.check_restored(restored_trainer(5, 0, 0.25), expected)
    with pytest.raises(checkpoints.RestoreMismatch, match=r"restored learning rate \[0.5\], the checkpoint holds"):
        checkpoints.check_restored(restored_trainer(5, 1, 0.5), expected)


def test_resume_problem_says_why_a_checkpoint_is_not_exact(tmp_path):
    save(tmp_path / "checkpoint_2.pth", 2)  # Coqui's entries but no scheduler, scaler or henryvc_resume
    assert checkpoints.resume_problem(tmp_path / "checkpoint_2.pth") == "checkpoint_2.pth lacks scheduler, scaler"
    save(tmp_path / "checkpoint_4.pth", 4, scheduler=None, scaler=None)
    assert "holds no random-generator and data-loader state" in checkpoints.resume_problem(
        tmp_path / "checkpoint_4.pth")
    exact = {"format": resume.FORMAT, "exact": True, "rng": resume.rng_state()}
    save(tmp_path / "checkpoint_6.pth", 6, scheduler=None, scaler=None, **{resume.KEY: exact})
    assert checkpoints.resume_problem(tmp_path / "checkpoint_6.pth") is None
    assert checkpoints.resume_state(tmp_path / "checkpoint_6.pth")["format"] == resume.FORMAT


def test_resume_check_judges_the_checkpoint_a_continued_run_starts_from(tmp_path):
    assert checkpoints.resume_check(tmp_path) is None  # no checkpoint: nothing to say
    exact = {"format": resume.FORMAT, "exact": True, "rng": resume.rng_state()}
    save(tmp_path / "checkpoint_4.pth", 4, scheduler=None, scaler=None, **{resume.KEY: exact})
    save(tmp_path / "checkpoint_2.pth", 2)  # older, not exact: not the one continuing starts from
    assert checkpoints.resume_check(tmp_path) is None
    save(tmp_path / "best_model_4.pth", 4)  # a tie: the checkpoint wins over the best model
    assert checkpoints.resume_check(tmp_path) is None
    (tmp_path / "checkpoint_9.pth").write_bytes(b"cut off by a kill")  # unreadable: the stage sets it aside
    assert checkpoints.resume_check(tmp_path) is None
    save(tmp_path / "best_model_6.pth", 6)  # newer and without exact-resume state
    assert checkpoints.resume_check(tmp_path) == "best_model_6.pth lacks scheduler, scaler"


def test_a_project_under_a_folder_named_like_a_checkpoint_is_read_by_file_name_and_coqui_is_not_misled(tmp_path):
    """Coqui matches checkpoint_<n> against the whole path: under a folder named checkpoint_99 it would continue
    from checkpoint_2. henryvc picks by the file's name, and refuses to hand Coqui such a folder (one line)."""
    folder = tmp_path / "checkpoint_99" / "project" / "checkpoints"
    for step in (2, 6):
        save(folder / f"checkpoint_{step}.pth", step)
    assert checkpoints.resume_check(folder) == "checkpoint_6.pth lacks scheduler, scaler"  # by the file's name
    assert checkpoints.last_checkpoint(folder) == folder / "checkpoint_6.pth"
    with pytest.raises(BadInput, match=r"checkpoint_99.*Coqui would continue from the wrong file"):
        checkpoints.coqui_folder(folder)
    plain = tmp_path / "project" / "checkpoints"
    assert checkpoints.coqui_folder(plain) == str(plain)
