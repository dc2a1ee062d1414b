"""How many processes train a run: params.yaml's `train.gpus` (per node) and `train.nodes`.

The train stage reads them (henryvc_training.distributed); `henryvc run --gpus N --nodes M` writes them
here before `dvc repro`, so the scale is a stage parameter DVC records like any other. No torch here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from henryvc.core import params
from henryvc.errors import BadInput


def check(gpus: int | None, nodes: int | None) -> None:
    """BadInput unless GPUS and NODES are None or whole numbers of at least 1."""
    for flag, value in (("--gpus", gpus), ("--nodes", nodes)):
        if value is not None and value < 1:
            raise BadInput(f"{flag} must be at least 1, got {value}")


def set_scale(root: Path, gpus: int | None, nodes: int | None) -> None:
    """Write train.gpus / train.nodes (those given) into the params.yaml of the project at ROOT (through its one
    writer, henryvc.core.params.update: comments and order kept, atomic)."""
    check(gpus, nodes)
    if gpus is None and nodes is None:
        return

    def edit(data: Any) -> None:
        train = data.get("train")
        if train is None:
            data["train"] = train = {}
        if gpus is not None:
            train["gpus"] = gpus
        if nodes is not None:
            train["nodes"] = nodes

    params.update(root, edit)
