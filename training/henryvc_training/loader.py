"""Data loaders for the training box: Coqui's loader rebuilt with pinned memory and persistent workers.

Coqui's BaseTTS.get_data_loader hard-codes pin_memory=False and lets worker processes die after every
epoch; on a GPU box that is a host-to-device copy from pageable memory per batch and a re-fork of every
loader worker (and its audio processor) per epoch. The henryvc config key `pin_memory` (kept out of
Coqui's config) turns pinning on where CUDA is available; workers persist when there are any.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# henryvc's own key in config.json (Coqui's Tacotron2Config has no such field).
PIN_MEMORY_KEY = "pin_memory"


@dataclass(frozen=True)
class LoaderSettings:
    """How henryvc builds the loaders Coqui's model describes."""

    pin_memory: bool = False

    @classmethod
    def from_config(cls, raw: dict[str, Any]) -> LoaderSettings:
        return cls(pin_memory=bool(raw.get(PIN_MEMORY_KEY, False)))


def tune(loader: Any, settings: LoaderSettings, sampler: Any = None) -> Any:
    """LOADER rebuilt with pinned memory (on CUDA), persistent workers and SAMPLER (a rank's shard) when
    given; LOADER itself when none of these applies."""
    import torch
    from torch.utils.data import DataLoader

    pin = settings.pin_memory and torch.cuda.is_available()
    workers = int(loader.num_workers)
    if not pin and workers == 0 and sampler is None:
        return loader
    return DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=sampler or loader.sampler,
                      collate_fn=loader.collate_fn, drop_last=loader.drop_last, num_workers=workers,
                      pin_memory=pin, persistent_workers=workers > 0)
