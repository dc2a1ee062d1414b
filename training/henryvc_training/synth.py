"""Synthesize a sentence with a Tacotron2 under training: Griffin-Lim, capped decoder, timed output."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Synthesis:
    """One synthesized sentence: the audio, its alignment and what to record about it."""

    text: str
    wav: Any  # numpy float array
    alignment: Any  # numpy [decoder steps, text tokens]
    seconds: float
    decoder_steps: int
    hit_cap: bool
    stop_probability: float = 0.0  # the stop token's probability at the last decoder step
    stop_threshold: float = 0.5  # the decoder stops by itself once the stop token is above it
    max_decoder_steps: int = 0

    def measure(self) -> dict[str, Any]:
        """What a listener would check about it (henryvc_training.quality), as henryvc.core.verdict reads it."""
        from henryvc_training import quality

        return quality.measure(self.text, self.seconds, self.decoder_steps, self.max_decoder_steps,
                               self.stop_probability, self.stop_threshold, self.alignment)


def synthesize(model: Any, text: str, max_decoder_steps: int) -> Synthesis:
    """TEXT through MODEL with the decoder capped at MAX_DECODER_STEPS (an untrained model never stops).

    The same model and text give the same audio, bit for bit: Coqui's Griffin-Lim starts from random phases
    (numpy's global generator) and the prenet may drop out at inference (torch's), so both are seeded from
    the text for the call and put back after it; a periodic evaluation leaves training's random numbers as
    they were. (Unseeded, a re-creation's speaker similarity and mel-cepstral distance differed from the
    tag's while every loss and tensor was identical.)
    """
    import zlib

    import numpy as np
    import torch

    decoder = model.decoder
    saved = decoder.max_decoder_steps
    was_training = model.training
    decoder.max_decoder_steps = int(max_decoder_steps)
    model.eval()
    numpy_state = np.random.get_state()
    seed = zlib.crc32(text.encode("utf-8"))
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.default_generator.manual_seed(seed)
            np.random.seed(seed)
            out = model.synthesize(text, use_griffin_lim=True)
    finally:
        np.random.set_state(numpy_state)
        decoder.max_decoder_steps = saved
        model.train(was_training)
    alignment = out["alignments"]
    alignment = alignment[0] if alignment.dim() == 3 else alignment
    alignment = alignment.detach().cpu().numpy()
    wav = out["wav"]
    steps = int(alignment.shape[0])
    # Coqui's Tacotron2 inference returns the stop token's probability per decoder step ([1, steps(, 1)]).
    stops = out.get("outputs", {}).get("stop_tokens")
    last_stop = float(stops.reshape(-1)[-1]) if stops is not None and stops.numel() else 0.0
    return Synthesis(text, wav, alignment, len(wav) / model.ap.sample_rate, steps, steps >= max_decoder_steps,
                     last_stop, float(getattr(decoder, "stop_threshold", 0.5)), int(max_decoder_steps))


def save_wav(model: Any, wav: Any, path: Path) -> None:
    """Write WAV at the model's sample rate."""
    path.parent.mkdir(parents=True, exist_ok=True)
    model.ap.save_wav(wav, str(path))


def save_alignment_png(alignment: Any, path: Path, title: str) -> None:
    """The alignment as a PNG (headless matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 5))
    image = ax.imshow(alignment.T, aspect="auto", origin="lower", interpolation="none")
    fig.colorbar(image, ax=ax)
    ax.set_xlabel("decoder step")
    ax.set_ylabel("encoder step")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
