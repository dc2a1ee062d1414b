"""henryvc_training.loader on real torch DataLoaders: the config's pin_memory key, a loader left alone when nothing
applies, one rebuilt with a rank's shard sampler (sharded training: tests/tiers/slow/test_training_distributed.py)."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from henryvc_training import loader as loaders


def collate(items: list[int]) -> list[int]:
    return sorted(items)


def test_pin_memory_is_henryvcs_config_key():
    assert loaders.LoaderSettings.from_config({}) == loaders.LoaderSettings(pin_memory=False)
    assert loaders.LoaderSettings.from_config({"pin_memory": True}).pin_memory is True
    assert loaders.LoaderSettings.from_config({"pin_memory": None}).pin_memory is False


def test_a_loader_nothing_applies_to_is_kept():
    loader = DataLoader(list(range(6)), batch_size=2, num_workers=0)
    assert loaders.tune(loader, loaders.LoaderSettings()) is loader
    if not torch.cuda.is_available():  # pinning is for CUDA: on this machine it changes nothing
        assert loaders.tune(loader, loaders.LoaderSettings(pin_memory=True)) is loader


def test_a_ranks_shard_sampler_replaces_the_loaders_and_keeps_batches_and_collate():
    data = list(range(10))
    loader = DataLoader(data, batch_size=2, collate_fn=collate, drop_last=True)
    shards = [DistributedSampler(data, num_replicas=2, rank=rank, shuffle=False) for rank in (0, 1)]
    tuned = [loaders.tune(loader, loaders.LoaderSettings(), sampler) for sampler in shards]
    assert all(t is not loader and t.sampler is s for t, s in zip(tuned, shards, strict=True))
    assert all(t.batch_size == 2 and t.drop_last and t.collate_fn is collate for t in tuned)
    assert all(t.pin_memory is False for t in tuned)  # pinning not asked for
    seen = [[item for batch in t for item in batch] for t in tuned]
    assert seen == [[0, 2, 4, 6], [1, 3, 5, 7]]  # each rank its own half; drop_last drops each one's fifth clip
    assert not set(seen[0]) & set(seen[1])


def test_workers_persist_across_epochs():
    loader = DataLoader(list(range(4)), batch_size=2, num_workers=1)
    tuned = loaders.tune(loader, loaders.LoaderSettings())
    assert tuned is not loader and tuned.persistent_workers is True and tuned.num_workers == 1
    assert [b.tolist() for b in tuned] == [[0, 1], [2, 3]] == [b.tolist() for b in tuned]  # two epochs, same data
