"""The distributed plumbing without training: scale parameters, the torchrun command, the shard check."""

from __future__ import annotations

import sys

import pytest

from henryvc.core import scale
from henryvc.errors import BadInput
from henryvc_training import distributed
from tests.helpers.cli import run_cli


def test_scale_from_params_defaults_to_one_process():
    assert distributed.Scale.from_params({}).world_size == 1
    assert distributed.Scale.from_params({"train": {"keep_checkpoints": 5}}) == distributed.Scale()


def test_scale_from_params():
    s = distributed.Scale.from_params({"train": {"gpus": 4, "nodes": 2, "master_addr": "10.0.0.1", "master_port": 29400}})
    assert (s.world_size, s.master_addr, s.master_port, s.backend) == (8, "10.0.0.1", 29400, None)


@pytest.mark.parametrize("train", [{"gpus": 0}, {"nodes": -1}, {"gpus": "2"}, {"gpus": True}, {"master_port": 70000},
                                   {"backend": "mpi"}])
def test_bad_scale_is_bad_input(train):
    with pytest.raises(BadInput, match="params.yaml train"):
        distributed.Scale.from_params({"train": train})


def test_node_rank(monkeypatch):
    two = distributed.Scale(gpus=1, nodes=2)
    monkeypatch.delenv(distributed.ENV_NODE_RANK, raising=False)
    assert distributed.node_rank(None, two) == 0
    monkeypatch.setenv(distributed.ENV_NODE_RANK, "1")
    assert distributed.node_rank(None, two) == 1
    assert distributed.node_rank(0, two) == 0  # the flag wins
    with pytest.raises(BadInput, match="outside 0..1"):
        distributed.node_rank(2, two)
    monkeypatch.setenv(distributed.ENV_NODE_RANK, "x")
    with pytest.raises(BadInput, match="not a number"):
        distributed.node_rank(None, two)


def test_torchrun_command(tmp_path):
    command = distributed.torchrun_command(distributed.Scale(gpus=2, nodes=3, master_addr="h", master_port=1234), 1, tmp_path)
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert {"--nnodes=3", "--nproc-per-node=2", "--node-rank=1", "--master-addr=h", "--master-port=1234",
            "--max-restarts=0"} <= set(command)
    assert command[-4:] == ["-m", "henryvc_training.train", "--root", str(tmp_path)]


def test_shard_report():
    expected = ["a", "b", "c", "d"]
    good = distributed.shard_report(0, [["a", "c"], ["b", "d"]], expected, 0)
    assert good["ok"] and good["disjoint"] and good["covers_epoch"] and good["per_rank"] == [2, 2]
    same = distributed.shard_report(0, [expected, expected], expected, 0)  # Trainer#144: every rank saw everything
    assert not same["ok"] and not same["disjoint"] and same["overlap"] == expected
    short = distributed.shard_report(1, [["a"], ["b"]], expected, 0)
    assert not short["ok"] and short["missing"] == ["c", "d"]
    padded = distributed.shard_report(0, [["a", "c", "e"], ["b", "d", "a"]], expected + ["e"], 1)
    assert padded["ok"] and padded["overlap"] == ["a"]  # one clip repeated to even out 5 clips on 2 ranks


def test_set_scale_keeps_comments(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("run: x  # the run\ntrain:\n  keep_checkpoints: 5  # keep\n")
    scale.set_scale(tmp_path, 4, None)
    text = params.read_text()
    assert "gpus: 4" in text and "# keep" in text and "# the run" in text and "nodes" not in text
    with pytest.raises(BadInput, match="--gpus"):
        scale.set_scale(tmp_path, 0, None)
    scale.set_scale(tmp_path, None, None)
    assert params.read_text() == text


@pytest.mark.parametrize("flag", ["--gpus", "--nodes"])
def test_run_refuses_fewer_than_one(tmp_path, flag):
    result = run_cli(tmp_path, "run", "--major", "2", "--variant", "debug", flag, "0")
    assert result.exit_code == 2 and flag in result.output
