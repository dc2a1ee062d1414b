"""Intelligibility, offline: what the model said, transcribed by pocketsphinx and scored by jiwer.

pocketsphinx 5.x carries its US-English acoustic model and dictionary inside the wheel: nothing is
downloaded. Its general language model gets most words of plain espeak-ng sentences wrong (WER 0.67-1.0),
so the recognizer here decodes with a small language model built from the evaluation texts themselves
(pocketsphinx.lm.ArpaBoLM) and a dictionary cut down to their words: the real recordings of held-out
clips then score WER ~0.3 and an untrained model's output 1.0. The absolute number still depends on the
recognizer, so the score that matters is relative: the WER of the synthesis minus the WER of the real
recording of the same text, by the same recognizer (`asr_wer_gap`: 0 = as intelligible as the data).
"""

from __future__ import annotations

import re
import tempfile
import wave
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

RATE = 16000  # what the pocketsphinx en-us model expects
_WORD = re.compile(r"[a-z0-9']+")
# fwdflat/bestpath re-search passes cost ~40 % more time for no gain on a model this small.
_OPTIONS = {"fwdflat": False, "bestpath": False}


def normalize(text: str) -> str:
    """Lower case words without punctuation: what the recognizer writes and what WER compares."""
    return " ".join(_WORD.findall(text.lower().replace("’", "'")))


def to_pcm16k(wav: Any, rate: int) -> bytes:
    """Float or int16 mono audio at RATE as 16 kHz 16-bit little-endian PCM (scipy's polyphase resampler)."""
    from math import gcd

    import numpy as np
    from scipy.signal import resample_poly

    data = np.asarray(wav)
    if data.dtype == np.int16:
        data = data.astype(np.float32) / 32768.0
    data = data.astype(np.float32).reshape(-1)
    if rate != RATE:
        g = gcd(RATE, int(rate))
        data = resample_poly(data, RATE // g, int(rate) // g)
    return (np.clip(data, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def read_wav(path: Path) -> tuple[Any, int]:
    """A mono 16-bit wav file as (int16 samples, rate)."""
    import numpy as np

    with wave.open(str(path)) as handle:
        rate, channels = handle.getframerate(), handle.getnchannels()
        data = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
    return (data.reshape(-1, channels)[:, 0] if channels > 1 else data), rate


def _dictionary_lines(words: set[str]) -> tuple[list[str], list[str]]:
    """The wheel's CMU dictionary entries for WORDS (alternate pronunciations too), and the words it lacks."""
    import pocketsphinx

    path = Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"
    lines, found = [], set()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            head = line.split(" ", 1)[0]
            word = head.split("(", 1)[0]
            if word in words:
                lines.append(line.rstrip("\n"))
                found.add(word)
    return lines, sorted(words - found)


@dataclass
class Recognizer:
    """pocketsphinx decoding with a language model and dictionary made from TEXTS (the evaluation texts)."""

    texts: list[str]
    unknown_words: list[str] = field(default_factory=list)
    _decoder: Any = None

    def __post_init__(self) -> None:
        from pocketsphinx import Decoder
        from pocketsphinx.lm import ArpaBoLM

        sentences = [normalize(t) for t in self.texts if normalize(t)]
        words = {w for s in sentences for w in s.split()}
        lines, self.unknown_words = _dictionary_lines(words)
        unknown = set(self.unknown_words)
        # Words the dictionary lacks cannot be recognized: they stay in the references (counted as errors
        # for real recordings and synthesis alike) but not in the language model.
        corpus = [" ".join(w for w in s.split() if w not in unknown) for s in sentences]
        model = ArpaBoLM(text="\n".join(c for c in corpus if c) + "\n", add_start=True)
        model.compute()
        with tempfile.TemporaryDirectory(prefix="henryvc-asr-") as folder:
            lm_path, dict_path = Path(folder) / "eval.lm", Path(folder) / "eval.dict"
            model.write_file(str(lm_path))
            dict_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            self._decoder = Decoder(lm=str(lm_path), dict=str(dict_path), **_OPTIONS, loglevel="FATAL")

    @cached_property
    def fingerprint(self) -> str:
        """What its transcripts depend on besides the audio: the texts of its language model, the decoder's
        options and pocketsphinx's version (a transcript cache key)."""
        import hashlib
        from importlib.metadata import version

        said = "\n".join(sorted({normalize(t) for t in self.texts}))
        return hashlib.sha256(f"{said}\n{_OPTIONS}\npocketsphinx {version('pocketsphinx')}".encode()).hexdigest()[:16]

    def transcribe(self, wav: Any, rate: int) -> str:
        """The words pocketsphinx hears in WAV (float or int16 samples at RATE); "" when none."""
        decoder = self._decoder
        decoder.start_utt()
        decoder.process_raw(to_pcm16k(wav, rate), full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return normalize(hyp.hypstr) if hyp is not None else ""


def error_rates(references: Iterable[str], hypotheses: Iterable[str]) -> dict[str, float]:
    """Corpus WER and CER (jiwer) of HYPOTHESES against REFERENCES (normalized; empty hypotheses allowed)."""
    import jiwer

    refs = [normalize(r) for r in references]
    hyps = [normalize(h) for h in hypotheses]
    if not refs:
        return {}
    return {"wer": float(jiwer.wer(refs, hyps)), "cer": float(jiwer.cer(refs, hyps))}
