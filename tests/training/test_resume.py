"""henryvc_training.resume with real generators and real torch DataLoaders: the random state saved and put back,
a resumed loader pass that hands out exactly the batches the interrupted one had left, what a checkpoint's state
says, and why a checkpoint cannot be resumed exactly. Real kills and resumes: tests/tiers/slow/test_training_exact_resume.py."""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from henryvc_training import resume
from henryvc_training.determinism import seed_everything


def draws() -> tuple:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def trainer(step: int = 4, epoch: int = 1, world_size: int | None = None) -> SimpleNamespace:
    """What the tracker reads of a Coqui Trainer: its counters, running averages and best loss."""
    rank = SimpleNamespace(world_size=world_size) if world_size else None
    return SimpleNamespace(total_steps_done=step, epochs_done=epoch, keep_avg_train=None, keep_avg_eval=None,
                           best_loss={"train_loss": 1.0}, rank=rank)


def test_rng_state_round_trips_and_loads_with_weights_only(tmp_path):
    seed_everything(3)
    saved = resume.rng_state()
    expected = draws()
    draws()
    torch.save(saved, tmp_path / "rng.pt")
    resume.set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))  # torch.load-safe types
    assert draws() == expected


def test_forked_rng_seeds_the_body_and_leaves_the_training_generators_alone():
    seed_everything(1)
    training = draws()
    seed_everything(1)
    with resume.forked_rng(99):
        inside = draws()
    assert draws() == training  # building a loader moved none of the training's random numbers
    seed_everything(99)
    assert inside == draws()
    with pytest.raises(RuntimeError), resume.forked_rng(5):
        raise RuntimeError("the loader failed")
    seed_everything(1)
    with pytest.raises(RuntimeError), resume.forked_rng(5):
        raise RuntimeError("the loader failed")
    assert draws() == training  # put back on the way out of an exception too


def test_skipping_batch_sampler_skips_once_then_hands_out_everything():
    inner = torch.utils.data.BatchSampler(range(10), batch_size=3, drop_last=False)
    batches = resume.SkippingBatchSampler(inner)
    called = []
    batches.skip, batches.after_skip = 2, lambda: called.append(True)
    assert list(batches) == [[6, 7, 8], [9]] and called == [True] and len(batches) == 4
    assert list(batches) == list(inner)  # the next pass is whole
    batches.skip = 9  # more than there are: nothing, no error
    assert list(batches) == []


def shuffled() -> DataLoader:
    """Coqui's kind of training loader: shuffled by torch's global generator."""
    return DataLoader(list(range(12)), batch_size=2, shuffle=True)


def test_a_resumed_pass_hands_out_the_batches_the_interrupted_one_had_left():
    seed_everything(0)
    tracker = resume.Tracker()
    first = tracker.loader = resume.ResumableLoader(shuffled(), tracker)  # as HenryTrainer keeps it
    passing = iter(first)
    trained = [next(passing).tolist() for _ in range(2)]  # two steps, then the kill
    assert first.handed_out == 2 and tracker.offset == 0
    state = {**tracker.state(trainer(), phase="boundary"), "best_loss": None}
    after = draws()  # the random numbers its third step would have drawn
    rest = [b.tolist() for b in passing]  # and the batches it would have trained next
    assert state["exact"] is True and state["kind"] == "step" and state["batches_done"] == 2

    seed_everything(12345)  # a fresh process: other random numbers
    resumed = resume.Tracker()
    run = trainer(step=0, epoch=0)
    assert resumed.arm(run, state) == {"kind": "step", "epoch": 1, "next_step": 4, "batches_done": 2}
    assert (run.total_steps_done, run.epochs_done) == (4, 1)
    again = resumed.loader = resume.ResumableLoader(shuffled(), resumed)
    handed = iter(again)
    assert next(handed).tolist() == rest[0]  # the skipped batches are not loaded, the order is the epoch's
    assert resumed.offset == 2 and again.handed_out == 3
    assert draws() == after  # the generators are the checkpoint's
    assert [b.tolist() for b in handed] == rest[1:]
    assert sorted(sum(trained + rest, [])) == list(range(12))  # together: the epoch, each clip once
    assert len(list(again)) == 6 and resumed.offset == 0  # the next epoch is a whole pass


def test_state_says_when_a_checkpoint_is_not_an_exact_point():
    tracker = resume.Tracker()
    inside = tracker.state(trainer(step=4), phase="step")
    assert inside["next_step"] == 5 and inside["exact"] is True  # Coqui saves before its += 1
    assert inside["format"] == resume.FORMAT and inside["best_loss"] == {"train_loss": 1.0}
    stopped = tracker.state(trainer())  # phase unknown: a second signal stopped it mid-step
    assert stopped["exact"] is False and stopped["reason"] == "saved when training was stopped in the middle of a step"
    shared = tracker.state(trainer(world_size=2), phase="epoch_end")
    assert shared["exact"] is False and shared["reason"] == resume.multi_process_reason(2)
    assert "world size 2" in shared["reason"]


def checkpoint(**changes) -> dict:
    state = {"format": resume.FORMAT, "exact": True, "rng": {"cuda": None}}
    return {"model": {}, "optimizer": [], "scheduler": None, "scaler": None, "step": 4, "epoch": 1,
            resume.KEY: {**state, **changes}}


def test_problem_names_what_a_checkpoint_lacks_for_an_exact_resume():
    assert resume.problem(checkpoint(), "checkpoint_4.pth") is None
    assert resume.problem({"model": {}, "step": 1}, "c.pth") == "c.pth lacks optimizer, scheduler, scaler, epoch"
    older = checkpoint()
    del older[resume.KEY]
    assert resume.problem(older, "c.pth") == ("c.pth holds no random-generator and data-loader state (saved by a "
                                              "henryvc older than exact resume)")
    assert resume.problem(checkpoint(format=2), "c.pth") == "c.pth holds exact-resume state format 2, this henryvc reads 1"
    assert resume.problem(checkpoint(exact=False, reason="saved by a test"), "c.pth") == "c.pth was saved by a test"
    if not torch.cuda.is_available():
        cuda = checkpoint(rng={"cuda": [torch.zeros(1)]})
        assert resume.problem(cuda, "c.pth") == "c.pth was saved on CUDA and this process has no CUDA device"


def test_before_fit_of_a_finished_checkpoint_trains_nothing():
    tracker = resume.Tracker()
    assert tracker.before_fit(trainer()) is True  # nothing armed: Coqui's loop runs
    seed_everything(8)
    saved = resume.rng_state()
    expected = draws()
    tracker.arm(trainer(), {"kind": "finished", "epoch": 1, "next_step": 9, "batches_done": 0, "rng": saved,
                            "best_loss": None})
    assert tracker.before_fit(trainer()) is False and tracker.pending is None
    assert draws() == expected  # the generators are where the finished run left them
    assert tracker.take_loader_resume() is None
