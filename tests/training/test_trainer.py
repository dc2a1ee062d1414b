"""henryvc_training.trainer without a training run: a crash's one readable line, the stop signals (the first waits
for the step, the second stops at once; real signals), a continue with no checkpoint refused, Coqui's own log file
dropped, and the Trainer class's order of parts. Real training: tests/tiers/slow/test_training_pipeline.py,
test_training_resume.py and tests/training/test_prepare.py's crash test."""

from __future__ import annotations

import logging
import os
import signal
import threading

import pytest

from henryvc.core.runfolder import RunPaths
from henryvc_training import common, resume, trainer
from tests.helpers import training as tf


def coqui_like() -> None:
    raise AssertionError  # a bare `assert` in Coqui raises this: no message


def test_describe_crash_names_type_message_and_the_raising_line():
    try:
        coqui_like()
    except AssertionError as exc:
        bare = trainer.describe_crash(exc)
    assert bare.startswith("AssertionError at tests/training/test_trainer.py:")
    line = coqui_like.__code__.co_firstlineno + 1
    assert bare.endswith(f":{line} (raise AssertionError  # a bare `assert` in Coqui raises this: no message)")
    try:
        raise RuntimeError("shapes differ\nsecond line of the message")
    except RuntimeError as exc:
        assert trainer.describe_crash(exc).startswith("RuntimeError: shapes differ at tests/training/test_trainer.py:")
    assert trainer.describe_crash(ValueError()) == "ValueError"  # never raised: no frame to name


def test_chain_calls_both_callbacks_in_order():
    calls = []
    both = trainer._chain(lambda t: calls.append(("hooks", t)), lambda t: calls.append(("user", t)))
    both("trainer")
    assert calls == [("hooks", "trainer"), ("user", "trainer")]
    first = calls.append
    assert trainer._chain(first, None) is first


def test_the_first_signal_waits_for_the_step_and_the_second_stops_at_once():
    tracker = resume.Tracker()
    with trainer.stop_signals() as stops:
        assert signal.getsignal(signal.SIGTERM) == stops.handle == signal.getsignal(signal.SIGINT)
        stops.tracker = tracker
        tracker.training = True
        os.kill(os.getpid(), signal.SIGTERM)  # docker stop, kill
        assert tracker.stop_requested == signal.SIGTERM  # training goes on to the end of the step
        with pytest.raises(KeyboardInterrupt, match="signal 2"):
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C as well: now
    assert signal.getsignal(signal.SIGTERM) != stops.handle  # put back


def test_a_signal_before_training_started_stops_at_once():
    stops = trainer.StopSignals()
    with pytest.raises(KeyboardInterrupt, match="signal 15"):
        stops.handle(signal.SIGTERM, None)  # no trainer built yet
    stops.tracker = resume.Tracker()  # built, but not in its epoch loop
    with pytest.raises(KeyboardInterrupt):
        stops.handle(signal.SIGTERM, None)
    assert stops.tracker.stop_requested is None


def test_stop_signals_outside_the_main_thread_leave_signals_alone():
    seen = []

    def other() -> None:
        with trainer.stop_signals() as stops:
            seen.append(signal.getsignal(signal.SIGTERM) == stops.handle)

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen == [False] and signal.getsignal(signal.SIGTERM) == before


def test_continuing_without_a_checkpoint_is_refused_not_a_crash(tmp_path):
    paths = RunPaths(tmp_path, tf.RUN)
    paths.checkpoints.mkdir(parents=True)
    result = trainer.run_training(paths, None, common.Settings(), tmp_path / "voice_data", continuing=True)
    assert (result.status, result.steps, result.epochs) == ("refused", 0, 0)
    assert result.message == f"no checkpoint left in {paths.checkpoints} to continue from"
    assert result.continued_from is None and os.listdir(paths.checkpoints) == []


def test_coqui_file_log_is_dropped_and_other_handlers_stay(tmp_path):
    logger = logging.getLogger("trainer")
    (tmp_path / "invented").mkdir()  # the folder a fresh Trainer invents, with its log file
    own = logging.FileHandler(tmp_path / "invented" / "trainer_0_log.txt")
    other = logging.FileHandler(tmp_path / "elsewhere.txt")
    logger.addHandler(own)
    logger.addHandler(other)
    try:
        trainer._detach_trainer_file_log(tmp_path / "invented")
        assert own not in logger.handlers and other in logger.handlers
        assert not (tmp_path / "invented" / "trainer_0_log.txt").exists() and (tmp_path / "elsewhere.txt").exists()
    finally:
        logger.removeHandler(other)
        other.close()


def test_henry_trainer_is_the_distributed_part_then_coquis_trainer():
    from trainer import Trainer

    from henryvc_training.ddp import DistributedTrainer

    henry = trainer.trainer_class()
    order = henry.__mro__
    assert order.index(DistributedTrainer) < order.index(Trainer)
    assert henry.save_training_script(object.__new__(henry)) is None  # no code copied into checkpoints/
    assert trainer.TrainResult("finished").details == {} and trainer.TrainResult("finished").message == ""
