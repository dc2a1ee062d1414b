"""How many processes train a run: params.yaml's `train.gpus` (per node) and `train.nodes`.

The train stage reads them (henryvc_training.distributed); `henryvc run --gpus N --nodes M` writes them
here before `dvc repro`, so the scale is a stage parameter DVC records like any other. No torch here.
"""

from __future__ import annotations

from pathlib import Path

from henryvc.errors import BadInput


def check(gpus: int | None, nodes: int | None) -> None:
    """BadInput unless GPUS and NODES are None or whole numbers of at least 1."""
    for flag, value in (("--gpus", gpus), ("--nodes", nodes)):
        if value is not None and value < 1:
            raise BadInput(f"{flag} must be at least 1, got {value}")


def set_scale(params: Path, gpus: int | None, nodes: int | None) -> None:
    """Write train.gpus / train.nodes into PARAMS (those given), keeping comments and order; atomic."""
    check(gpus, nodes)
    if gpus is None and nodes is None:
        return
    from ruamel.yaml import YAML

    from henryvc.core.atomic import write_atomic

    yaml = YAML()
    data = yaml.load(params.read_text(encoding="utf-8")) if params.exists() else None
    data = data if data is not None else {}
    train = data.get("train")
    if train is None:
        data["train"] = train = {}
    if gpus is not None:
        train["gpus"] = gpus
    if nodes is not None:
        train["nodes"] = nodes
    write_atomic(params, lambda handle: yaml.dump(data, handle))
