"""henryvc_training.synth: the same model and text give the same audio, and training's random numbers stay."""

from __future__ import annotations

import numpy as np
import torch

from tests.helpers.listening import speak


def test_the_same_text_gives_the_same_audio_bit_for_bit(untrained):
    first = speak(untrained, "Hello, I am Henry.", 40)
    np.random.rand(7), torch.rand(7)  # whatever training drew in between
    second = speak(untrained, "Hello, I am Henry.", 40)
    assert np.array_equal(first.wav, second.wav)  # Griffin-Lim's random phases are seeded from the text
    other = speak(untrained, "Goodbye, I was Henry.", 40)
    assert not np.array_equal(first.wav[: len(other.wav)], other.wav[: len(first.wav)])


def test_synthesis_leaves_numpy_and_torch_random_numbers_as_they_were(untrained):
    np.random.seed(5)
    torch.manual_seed(5)
    expected = (np.random.rand(3), torch.rand(3))
    np.random.seed(5)
    torch.manual_seed(5)
    speak(untrained, "Hello, I am Henry.", 40)
    got = (np.random.rand(3), torch.rand(3))
    assert np.array_equal(expected[0], got[0]) and torch.equal(expected[1], got[1])
