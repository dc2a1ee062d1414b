"""henryvc_training.determinism: the thread count asked for (bad values refused), what configure sets in torch and
records, and seeding before the model exists. Two real trainings compared: tests/tiers/slow/test_training_determinism.py."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from henryvc.errors import BadInput
from henryvc_training import determinism


def test_thread_count_env_wins_over_params(monkeypatch):
    monkeypatch.delenv(determinism.THREADS_ENV, raising=False)
    assert determinism.thread_count({}) is None
    assert determinism.thread_count({"train": None}) is None
    assert determinism.thread_count({"train": {"threads": 3}}) == 3
    monkeypatch.setenv(determinism.THREADS_ENV, "2")
    assert determinism.thread_count({"train": {"threads": 3}}) == 2  # a recreate's count wins
    monkeypatch.setenv(determinism.THREADS_ENV, "")
    assert determinism.thread_count({"train": {"threads": 3}}) == 3  # an empty variable is no count


@pytest.mark.parametrize(("env", "threads"), [("x", None), ("0", None), ("-2", None), ("2.5", None),
                                              (None, 0), (None, "many"), (None, [1])])
def test_bad_thread_count_is_bad_input(monkeypatch, env, threads):
    if env is None:
        monkeypatch.delenv(determinism.THREADS_ENV, raising=False)
    else:
        monkeypatch.setenv(determinism.THREADS_ENV, env)
    with pytest.raises(BadInput, match="torch thread count must be a whole number >= 1, got"):
        determinism.thread_count({"train": {"threads": threads}})


def test_a_fractional_thread_count_in_params_is_bad_input(monkeypatch):
    monkeypatch.delenv(determinism.THREADS_ENV, raising=False)
    with pytest.raises(BadInput, match="whole number"):
        determinism.thread_count({"train": {"threads": 2.5}})


CONFIGURE = """
import json, random, sys
import numpy as np, torch
from TTS.tts.configs.tacotron2_config import Tacotron2Config
from henryvc_training import determinism
config = Tacotron2Config(training_seed=7, cudnn_benchmark=True)
settings = determinism.configure(config, int(sys.argv[1]) or None, int(sys.argv[2]))
draws = [random.random(), float(np.random.rand()), float(torch.rand(1))]
determinism.seed_everything(7)
settings["draws_match_the_seed"] = draws == [random.random(), float(np.random.rand()), float(torch.rand(1))]
settings["config"] = [config.cudnn_deterministic, config.cudnn_benchmark, config.allow_tf32]
settings["env"] = determinism.torch_environment(config)
print(json.dumps(settings))
"""


def configured(threads: int, world_size: int) -> dict:
    """What configure returns in a fresh process (it changes torch's global settings)."""
    done = subprocess.run([sys.executable, "-c", CONFIGURE, str(threads), str(world_size)], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU promise; CUDA is warn-only")
def test_configure_on_cpu_is_strict_seeded_and_recorded():
    settings = configured(1, 1)
    assert settings["seed"] == 7 and settings["draws_match_the_seed"] is True
    assert settings["device"] == "cpu" and settings["torch_threads"] == 1 and settings["world_size"] == 1
    assert settings["threads_source"] == "HENRYVC_TORCH_THREADS or params train.threads"
    assert settings["deterministic_algorithms"] is True and settings["deterministic_warn_only"] is False
    assert settings["cudnn_deterministic"] is True and settings["cudnn_benchmark"] is False
    assert settings["config"] == [True, False, False]  # the Trainer sets the flags again from the config
    assert settings["promise"] == "bitwise on this CPU, torch build and thread count"
    assert settings["cublas_workspace_config"] is None
    env = settings["env"]
    assert env["training_seed"] == 7 and env["cuda_available"] is False and env["device"].startswith("cpu (")
    assert "tests/tiers/slow/test_training_determinism.py" in env["determinism"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU promise; CUDA is warn-only")
def test_configure_of_several_processes_is_warn_only_and_promises_no_bitwise_match():
    settings = configured(0, 2)
    assert settings["threads_source"] == "torch default" and settings["torch_threads"] >= 1
    assert settings["deterministic_algorithms"] is True and settings["deterministic_warn_only"] is True
    assert settings["promise"].startswith("close, not bitwise: a multi-process run")


def test_seed_everything_seeds_python_numpy_and_torch():
    determinism.seed_everything(123)
    first = (random.random(), np.random.rand(3), torch.rand(3))
    random.random(), np.random.rand(5), torch.rand(5)  # whatever ran in between
    determinism.seed_everything(123)
    second = (random.random(), np.random.rand(3), torch.rand(3))
    assert first[0] == second[0] and np.array_equal(first[1], second[1]) and torch.equal(first[2], second[2])
    determinism.seed_everything(124)
    assert random.random() != first[0]


def test_accelerator_of_keeps_the_cuda_part():
    env = {"torch_cuda": "12.4", "cudnn": 90100, "device": "NVIDIA H100", "torch_threads": 8, "training_seed": 1}
    assert determinism.accelerator_of(env) == {"cuda": "12.4", "cudnn": 90100, "device": "NVIDIA H100"}
    assert determinism.accelerator_of({}) == {"cuda": None, "cudnn": None, "device": None}
