"""Real synthesized output for the quality-gate tests, without training: an untrained (seeded) Tacotron2 of
the repo's debug config speaking through Coqui's real inference, and espeak-ng recordings as ground truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.training import REPO, sample_data


def untrained_model() -> Any:
    """The debug config's Tacotron2 with seeded random weights (what a model knows before training)."""
    import torch
    from TTS.tts.models.tacotron2 import Tacotron2

    from henryvc_training import common

    raw = json.loads((REPO / "configs" / "henry_voice_v2_debug.json").read_text())
    raw.update(run_name="untrained", output_path="training_runs/untrained")
    torch.manual_seed(1234)
    model = Tacotron2(common.coqui_config(raw))
    model.eval()
    return model


def speak(model: Any, text: str, max_decoder_steps: int, stop_threshold: float | None = None) -> Any:
    """synth.synthesize, optionally with the decoder's stop threshold moved (-1: the stop token fires at the
    first step Coqui allows, which is how a demo model whose stopnet learned 'always stop' ends: 2 steps)."""
    from henryvc_training import synth

    decoder = model.decoder
    saved = decoder.stop_threshold
    if stop_threshold is not None:
        decoder.stop_threshold = stop_threshold
    try:
        return synth.synthesize(model, text, max_decoder_steps)
    finally:
        decoder.stop_threshold = saved


@pytest.fixture(scope="session")
def espeak_voice(tmp_path_factory) -> Path:
    """Sample voice data (espeak-ng) shared by the session: ground-truth recordings of known texts."""
    return sample_data(tmp_path_factory.mktemp("listening-voice"), clips=4)


@pytest.fixture(scope="session")
def untrained() -> Any:
    """One untrained model for the session."""
    return untrained_model()
