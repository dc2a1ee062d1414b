"""What a listener would notice about one synthesized utterance, measured: how long it is for its text,
whether the decoder stopped by itself, and whether the attention walked the text (numpy only).

The checks themselves (thresholds, verdict lines) are henryvc.core.verdict's; this module only measures.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Half-width of the band around the diagonal, as a fraction of the text: attention inside it "follows"
# the text. Speech does not keep an even pace, so the band is wide; uniform attention puts ~35 % there.
DIAGONAL_BAND = 0.2


def attention_focus(alignment: Any) -> float:
    """Mean over decoder steps of the largest attention weight (1: one character per step; 1/N: spread evenly).

    ALIGNMENT: [decoder steps, text tokens], each row a distribution over the text (Coqui's inference output).
    """
    matrix = np.asarray(alignment, dtype=np.float64)
    if matrix.ndim != 2 or matrix.size == 0:
        return 0.0
    return float(matrix.max(axis=1).mean())


def attention_diagonality(alignment: Any, band: float = DIAGONAL_BAND) -> float:
    """Share of the attention mass within BAND of the diagonal from the first character at the first
    decoder step to the last character at the last step (1: walks the text start to end, evenly).

    A decoder that stops early leaves the end of the text unvisited; one stuck on a character or
    running on past the end drifts off the diagonal; attention spread evenly scores about 2 * BAND.
    """
    matrix = np.asarray(alignment, dtype=np.float64)
    if matrix.ndim != 2 or matrix.size == 0:
        return 0.0
    steps, tokens = matrix.shape
    step_pos = np.arange(steps) / max(steps - 1, 1)
    token_pos = np.arange(tokens) / max(tokens - 1, 1)
    inside = np.abs(token_pos[None, :] - step_pos[:, None]) <= band
    rows = matrix.sum(axis=1)
    rows[rows == 0] = 1.0
    return float(((matrix * inside).sum(axis=1) / rows).mean())


def characters(text: str) -> int:
    """Characters that take time to say: letters and digits (punctuation and spaces do not count)."""
    return sum(ch.isalnum() for ch in text)


def measure(text: str, seconds: float, decoder_steps: int, max_decoder_steps: int, stop_probability: float,
            stop_threshold: float, alignment: Any) -> dict[str, Any]:
    """The record of one utterance that henryvc.core.verdict judges (plain JSON types)."""
    chars = characters(text)
    return {
        "text": text,
        "characters": chars,
        "seconds": round(float(seconds), 3),
        "chars_per_second": round(chars / seconds, 3) if seconds > 0 else None,
        "decoder_steps": int(decoder_steps),
        "max_decoder_steps": int(max_decoder_steps),
        "stop_probability": round(float(stop_probability), 4),
        "stop_threshold": float(stop_threshold),
        # Coqui's decoder leaves its loop either because the stop token fired or at the cap.
        "stopped_by_itself": bool(stop_probability > stop_threshold),
        "attention_focus": round(attention_focus(alignment), 4),
        "attention_diagonality": round(attention_diagonality(alignment), 4),
    }
