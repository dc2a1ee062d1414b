"""henryvc_training.ddp: what a rank does differently, on a real two-process gloo group (each rank's shard, running
averages merged over the ranks by how many values each holds), a lost peer told from a bug, and the follower
ranks' hooks that write nothing. A real two-process training: tests/tiers/slow/test_training_distributed.py."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from henryvc.core.runfolder import RunPaths
from henryvc_training import common, ddp, distributed, hooks
from tests.helpers import training as tf

RANK = """
import json, os
from types import SimpleNamespace
import torch.distributed as dist
from torch.utils.data import DataLoader
from trainer.generic_utils import KeepAverage
from henryvc_training import ddp, distributed
rank = int(os.environ["RANK"])
dist.init_process_group("gloo", rank=rank, world_size=2)
keep = KeepAverage()
for value in ([3.0], [9.0, 1.0, 2.0])[rank]:  # Coqui's KeepAverage keeps 3.0; and 1.0, 2.0 (its first is lost)
    keep.update_values({"avg_loss": value})
ddp._merge(keep)
trainer = ddp.DistributedTrainer()
trainer.rank = distributed.Rank(rank, rank, 2)
trainer.config = SimpleNamespace(training_seed=5)
sampler = trainer._shard(DataLoader(list(range(10))), shuffle=True)
print(json.dumps({"avg_loss": keep.avg_values["avg_loss"], "shard": list(sampler), "stop": distributed.any_rank(rank == 1)}))
dist.destroy_process_group()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_ranks_merge_their_averages_and_train_on_disjoint_shards():
    env = {**tf.env(), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    ranks = [subprocess.Popen([sys.executable, "-c", RANK], env={**env, "RANK": str(r)}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for r in (0, 1)]
    outputs = [rank.communicate(timeout=120) for rank in ranks]
    assert [rank.returncode for rank in ranks] == [0, 0], [err for _, err in outputs]
    zero, one = (json.loads(out.splitlines()[-1]) for out, _ in outputs)
    assert zero["avg_loss"] == one["avg_loss"] == pytest.approx(2.0)  # the mean of the 3 values kept, not of 3.0, 1.5
    assert not set(zero["shard"]) & set(one["shard"]) and sorted(zero["shard"] + one["shard"]) == list(range(10))
    assert zero["shard"] != sorted(zero["shard"]) or one["shard"] != sorted(one["shard"])  # shuffled, as configured
    assert zero["stop"] is one["stop"] is True  # rank 1's non-finite loss stops rank 0 too


def test_one_process_is_a_pass_through():
    trainer = ddp.DistributedTrainer()
    assert trainer.rank is None and trainer.ddp is None
    assert trainer._shard(torch.utils.data.DataLoader([1, 2, 3]), shuffle=True) is None  # Coqui's own sampler
    ddp._merge(None)  # no running averages (no evaluation): nothing to merge


@pytest.mark.parametrize(("error", "lost"), [
    (RuntimeError("[../gloo/transport/tcp/pair.cc:534] Connection closed by peer [127.0.0.1]:4711"), True),
    (RuntimeError("Connection reset by peer"), True),
    (RuntimeError("NCCL communicator was aborted on rank 0"), True),
    (torch.distributed.DistError("the store went away"), True),
    (RuntimeError("CUDA out of memory"), False),
    (ValueError("Broken"), False),
])
def test_peer_lost_tells_a_gone_rank_from_a_bug(error, lost):
    assert ddp.peer_lost(error) is lost


def test_follower_hooks_check_and_write_nothing(tmp_path):
    paths = RunPaths(tmp_path, tf.RUN)
    follower = ddp.FollowerHooks(paths, common.Settings(every_epochs=1), SimpleNamespace(test_sentences=["Hi."]))
    run = SimpleNamespace(total_steps_done=4, epochs_done=1, rank=distributed.Rank(2, 0, 4))
    follower.listen_to(tmp_path / "voice_data")
    follower.record_step(run, {"loss": 1.0})
    follower.on_epoch_end(run)
    follower.maybe_evaluate(run)
    follower.close()
    assert not tmp_path.joinpath("training_runs").exists() and not tmp_path.joinpath(".henryvc").exists()
    with pytest.raises(hooks.NonFiniteLoss, match=r"non-finite loss \(loss\) on rank 2 at step 4, epoch 1"):
        follower.on_non_finite(run, {}, {"loss": float("nan")}, ["loss"])
    assert not tmp_path.joinpath("training_runs").exists()  # no debug state either: rank 0's alone


def test_a_followers_scratch_folder_goes_with_its_process(tmp_path):
    code = "from henryvc_training import ddp; folder = ddp.scratch_folder(); print(folder, folder.is_dir())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=tf.env())
    folder, existed = out.stdout.split()
    assert existed == "True" and "henryvc-rank-" in folder and not folder.startswith(str(tf.REPO))
    assert not Path(folder).exists()  # removed when the rank ended


def test_attach_without_a_rank_gives_the_loader_settings_only(tmp_path):
    paths = RunPaths(tmp_path, tf.RUN)
    paths.run_dir.mkdir(parents=True)
    paths.config.write_text(json.dumps({**tf.make_config(), "pin_memory": True}))
    trainer = ddp.DistributedTrainer()
    ddp.attach(trainer, paths, None, continuing=False)
    assert trainer.loader_settings.pin_memory is True
    assert trainer.rank is None and trainer.ddp is None and trainer.shards_file is None
