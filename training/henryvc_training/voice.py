"""Scores that tell voices apart, offline: does the model sound like Henry, and how far is it from his own
recording of the same sentence.

- **Speaker similarity**: cosine similarity of Resemblyzer's speaker embedding (its GE2E VoiceEncoder; the
  17 MB weights ship inside the `resemblyzer` wheel) of the audio against the mean embedding of Henry's
  reference clips (the first clips of the run's training split). Nothing is downloaded.
- **Mel-cepstral distance** (dB) and **log-F0 RMSE** against Henry's held-out recording of the same
  text, weight-free (numpy/scipy): mel cepstra c1..c24 of both, aligned by dynamic time warping; F0 by
  autocorrelation on the voiced frames of both, along the same path.

Audio is read with soundfile (torchaudio's loader needs FFmpeg libraries the machines lack).
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

RATE = 16000  # what the VoiceEncoder expects; the distances are computed at this rate too
REFERENCE_CLIPS = 5  # Henry's clips averaged into the reference embedding
N_FFT, HOP = 512, 160  # 32 ms windows, 10 ms hop at 16 kHz
N_MELS, N_CEPS = 40, 24  # mel bands; cepstral coefficients c1..c24 (c0, the loudness, is left out)
F0_MIN, F0_MAX = 60.0, 400.0
_MCD_SCALE = 10.0 / math.log(10.0) * math.sqrt(2.0)

_ENCODER: list[Any] = []
_REFERENCES: dict[tuple[tuple[str, int, int], ...], Any] = {}
_RECORDINGS: dict[tuple[str, int, int], np.ndarray] = {}  # real recordings' embeddings (empty: silent)
_AUDIO: dict[tuple[str, int, int], np.ndarray] = {}  # real recordings at 16 kHz, read once per process
_FEATURES: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # and their features
_CACHE: list[Path] = []  # where recordings' embeddings are kept between processes (set_cache)
_WARMING: list[threading.Thread] = []  # warm_up's threads: an evaluation waits for them, never embeds twice
_LOCK = threading.Lock()  # the encoder and the caches are shared by the training thread and warm-up
_BACKGROUND: list[float] = []  # seconds spent getting Henry's side ready (load_encoder, warm_up's threads)


def read(path: Path) -> tuple[np.ndarray, int]:
    """A WAV file as float32 mono samples and its rate (soundfile)."""
    import soundfile

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return data.mean(axis=1), int(rate)


def to_rate(wav: Any, rate: int, target: int = RATE) -> np.ndarray:
    """WAV (float or int16) at RATE resampled to TARGET as float32 (scipy's polyphase filter)."""
    from scipy.signal import resample_poly

    data = np.asarray(wav)
    data = data.astype(np.float32) / 32768.0 if data.dtype == np.int16 else data.astype(np.float32)
    if rate != target:
        g = math.gcd(int(rate), target)
        data = resample_poly(data, target // g, int(rate) // g).astype(np.float32)
    return data


def _stat_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size


def recording(path: Path) -> np.ndarray:
    """Henry's recording at PATH as 16 kHz float32 samples, read and resampled once per process (the
    periodic evaluations of a training and its warm-up share them)."""
    key = _stat_key(path)
    if key not in _AUDIO:
        _AUDIO[key] = to_rate(*read(path))
    return _AUDIO[key]


def _encoder() -> Any:
    """Resemblyzer's VoiceEncoder, loaded once per process. Building it draws torch's global random numbers
    (its layers' initial weights, then overwritten by the shipped ones): it is built with them put back
    after, so that loading it during training changes none of training's random numbers."""
    if not _ENCODER:
        import warnings

        import torch

        with warnings.catch_warnings():  # webrtcvad's pkg_resources deprecation warning
            warnings.simplefilter("ignore")
            from resemblyzer import VoiceEncoder
        with torch.random.fork_rng(devices=[]):
            _ENCODER.append(VoiceEncoder("cpu", verbose=False))
    return _ENCODER[0]


def load_encoder() -> None:
    """Load the encoder now, in the calling thread (before any warm-up thread starts: see _encoder); its
    seconds are counted in preparation_seconds()."""
    started = time.perf_counter()
    with _LOCK:
        _encoder()
    _BACKGROUND.append(time.perf_counter() - started)


def embedding(wav16k: np.ndarray) -> np.ndarray | None:
    """The speaker embedding (unit length) of 16 kHz audio; None when it is silent (no voice to embed)."""
    return embeddings([wav16k])[0]


def embeddings(wavs16k: list[np.ndarray]) -> list[np.ndarray | None]:
    """The speaker embeddings of WAVS16K in one pass of the encoder (Resemblyzer's embed_utterance, batched:
    each utterance's 1.6 s partials at 1.3 per second, averaged and normalized); None for a silent one."""
    import torch
    from resemblyzer import audio

    with _LOCK:
        encoder = _encoder()
        batches, owners = [], []
        for index, wav in enumerate(wavs16k):
            if not np.any(np.abs(wav) > 1e-4):
                continue
            wav = wav.astype(np.float32)
            wav_slices, mel_slices = encoder.compute_partial_slices(len(wav), 1.3, 0.75)
            if wav_slices[-1].stop >= len(wav):  # a short clip or a last partial: padded with silence
                wav = np.pad(wav, (0, wav_slices[-1].stop - len(wav)))
            mel = audio.wav_to_mel_spectrogram(wav)
            batches += [mel[s] for s in mel_slices]
            owners += [index] * len(mel_slices)
        found: list[np.ndarray | None] = [None] * len(wavs16k)
        if not batches:
            return found
        with torch.no_grad(), _one_thread():
            partials = encoder(torch.from_numpy(np.array(batches))).cpu().numpy()
    owner = np.array(owners)
    for index in set(owners):
        mean = partials[owner == index].mean(axis=0)
        found[index] = mean / np.linalg.norm(mean)
    return found


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """The encoder's small LSTM on one CPU thread: 2.5-3.5x faster than on torch's default two on the shared
    2-core machine (a batch of 3 partials: 0.05 s against 0.12-0.17 s). Only where the evaluation holds the
    process (the main thread: training waits for its periodic evaluations); torch's thread count is the
    process's, so a warm-up thread beside training leaves it alone."""
    import torch

    if threading.current_thread() is not threading.main_thread() or torch.get_num_threads() == 1:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def set_cache(folder: Path | None) -> None:
    """Keep real recordings' embeddings in FOLDER (the project's .henryvc/voice-embeddings), by content hash."""
    _CACHE[:] = [] if folder is None else [Path(folder)]


def preparation_seconds() -> float:
    """Wall seconds load_encoder and warm_up's threads have taken so far in this process (reported beside the
    scores' own: work an evaluation did not wait for is work all the same; an upper bound of their cost, as
    they ran beside other work)."""
    return sum(_BACKGROUND)


def warm_up(paths: list[Path], held_out: list[Path] | None = None) -> threading.Thread:
    """Embed Henry's recordings PATHS (load the encoder first) and read HELD_OUT in a background thread, while
    the evaluate stage loads the model and synthesizes, or while training runs its first epochs;
    recording_embeddings waits for it, so nothing is done twice. Its seconds: preparation_seconds()."""
    def work() -> None:
        started = time.perf_counter()
        try:
            recording_embeddings(paths)
            for path in held_out or []:  # the distances' side: read, resampled and analysed once
                recording_features(path)
        except Exception:  # the evaluation embeds them itself and reports what fails
            _RECORDINGS.clear()
        finally:
            _BACKGROUND.append(time.perf_counter() - started)

    thread = threading.Thread(target=work, name="henryvc-voice-warm-up", daemon=True)
    _WARMING.append(thread)
    thread.start()
    return thread


def recording_embeddings(paths: list[Path]) -> list[np.ndarray | None]:
    """The embeddings of the recordings at PATHS: each computed once per content (in memory, and on disk
    with set_cache), the missing ones in one pass of the encoder."""
    import hashlib

    for thread in list(_WARMING):
        if thread is not threading.current_thread():
            thread.join()
            if thread in _WARMING:
                _WARMING.remove(thread)
    keys = [_stat_key(p) for p in paths]
    todo: dict[tuple[str, int, int], tuple[Path, Path | None]] = {}
    for key, path in zip(keys, paths, strict=True):
        if key in _RECORDINGS or key in todo:
            continue
        stored = _CACHE[0] / f"{hashlib.sha256(path.read_bytes()).hexdigest()}.json" if _CACHE else None
        if stored is not None and stored.is_file():
            _RECORDINGS[key] = np.asarray(json.loads(stored.read_text(encoding="utf-8")), dtype=np.float32)
        else:
            todo[key] = (path, stored)
    computed = embeddings([recording(path) for path, _ in todo.values()])
    for (key, (_path, stored)), found in zip(todo.items(), computed, strict=True):
        _RECORDINGS[key] = np.zeros(0, dtype=np.float32) if found is None else found.astype(np.float32)
        if stored is not None:  # float32 -> JSON -> float32 is exact: a cached embedding is the same one
            from henryvc.core.atomic import write_json_atomic

            write_json_atomic(stored, [float(v) for v in _RECORDINGS[key]])
    return [None if _RECORDINGS[key].size == 0 else _RECORDINGS[key] for key in keys]


def reference(paths: list[Path]) -> np.ndarray | None:
    """The mean embedding of the reference clips PATHS (unit length)."""
    key = tuple(_stat_key(p) for p in paths)
    if key not in _REFERENCES:
        found = [e for e in recording_embeddings(paths) if e is not None]
        mean = np.mean(found, axis=0) if found else None
        _REFERENCES.clear()
        _REFERENCES[key] = None if mean is None else mean / np.linalg.norm(mean)
    return _REFERENCES[key]


def similarity(wav16k: np.ndarray, ref: np.ndarray | None) -> float | None:
    """Cosine similarity of WAV16K's speaker embedding to REF (1: the same voice; silence 0.0, no voice at
    all); None when there is no reference."""
    if ref is None:
        return None
    return cosine(embedding(wav16k), ref)


def cosine(emb: np.ndarray | None, ref: np.ndarray | None) -> float | None:
    """Cosine similarity of embedding EMB to REF (None, silent: 0.0); None when there is no reference."""
    if ref is None:
        return None
    return 0.0 if emb is None else round(float(np.dot(emb, ref) / np.linalg.norm(emb)), 4)


def _mel_filters() -> np.ndarray:
    """Triangular mel filters (N_MELS x N_FFT/2+1), HTK mel scale."""
    def mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(np.array(0.0)), mel(np.array(RATE / 2)), N_MELS + 2))
    freqs = np.linspace(0, RATE / 2, N_FFT // 2 + 1)
    lower = (freqs[None, :] - edges[:-2, None]) / (edges[1:-1, None] - edges[:-2, None])
    upper = (edges[2:, None] - freqs[None, :]) / (edges[2:, None] - edges[1:-1, None])
    return np.maximum(0.0, np.minimum(lower, upper))


def _frames(wav16k: np.ndarray) -> np.ndarray:
    padded = np.pad(wav16k, (N_FFT // 2, N_FFT // 2))
    count = max(1, 1 + (padded.size - N_FFT) // HOP)
    index = np.arange(N_FFT)[None, :] + HOP * np.arange(count)[:, None]
    return padded[np.minimum(index, padded.size - 1)]


def features(wav16k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mel cepstra c1..c24 per frame, F0 in Hz per frame (0: unvoiced), frame energy in dB)."""
    from scipy.fft import dct

    frames = _frames(wav16k)
    power = np.abs(np.fft.rfft(frames * np.hanning(N_FFT), axis=1)) ** 2
    log_amplitude = 0.5 * np.log(np.maximum(power @ _mel_filters().T, 1e-10))
    # c_n = 1/N sum_k log|X_k| cos(pi n (k + 1/2) / N): the real cepstrum's scale, as SPTK's mel cepstra have.
    ceps = dct(log_amplitude, type=2, norm=None, axis=1)[:, 1:N_CEPS + 1] / (2 * N_MELS)
    energy = 10.0 * np.log10(np.maximum((frames ** 2).mean(axis=1), 1e-12))
    return ceps, _f0(frames, energy), energy


def _f0(frames: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """F0 per frame by normalized autocorrelation (0 where unvoiced: quiet, or no clear period)."""
    lo, hi = int(RATE / F0_MAX), int(RATE / F0_MIN)
    centred = frames - frames.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=2 * N_FFT, axis=1)
    ac = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :N_FFT]
    ac = ac / np.maximum(ac[:, :1], 1e-12)
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    strength = ac[np.arange(len(ac)), lag]
    voiced = (strength > 0.5) & (energy > energy.max() - 35.0)
    return np.where(voiced, RATE / lag, 0.0)


def dtw_path(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The dynamic-time-warping path (indices into A and B) minimizing the summed Euclidean distance."""
    cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        # acc[i, j] = min(row_j, cost_j + acc[i, j-1]) with row_j the diagonal/vertical moves: unrolled, it is
        # min over k <= j of (row_k - S_k) + S_j (S: the running sum of this row's costs), one vector step.
        row = cost[i - 1] + np.minimum(acc[i - 1, :-1], acc[i - 1, 1:])
        running = np.cumsum(cost[i - 1])
        acc[i, 1:] = np.minimum.accumulate(row - running) + running
    i, j, path = n, m, []
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        step = int(np.argmin((acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])))
        i, j = (i - 1, j - 1) if step == 0 else ((i - 1, j) if step == 1 else (i, j - 1))
    path.reverse()
    pairs = np.array(path, dtype=int)
    return pairs[:, 0], pairs[:, 1]


def distances(wav16k: np.ndarray, recording16k: np.ndarray) -> dict[str, float | None]:
    """Mel-cepstral distance (dB) and log-F0 RMSE (natural log; 0.1 is about 1.7 semitones) of WAV16K
    against RECORDING16K, frames aligned by DTW on the cepstra; None where there is nothing to compare."""
    return _compare(features(wav16k), features(recording16k))


def distances_to(wav16k: np.ndarray, path: Path) -> dict[str, float | None]:
    """distances() of WAV16K to Henry's recording at PATH, whose features are computed once per process."""
    return _compare(features(wav16k), recording_features(path))


def recording_features(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """features() of Henry's recording at PATH, computed once per process."""
    key = _stat_key(path)
    if key not in _FEATURES:
        _FEATURES[key] = features(recording(path))
    return _FEATURES[key]


def _compare(a: tuple[np.ndarray, np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray, np.ndarray]
             ) -> dict[str, float | None]:
    (ca, fa, ea), (cb, fb, eb) = a, b
    # Silence at either end says nothing about the voice: compare the frames within 40 dB of the peak.
    keep_a, keep_b = np.nonzero(ea > ea.max() - 40.0)[0], np.nonzero(eb > eb.max() - 40.0)[0]
    ca, fa = ca[keep_a[0]:keep_a[-1] + 1], fa[keep_a[0]:keep_a[-1] + 1]
    cb, fb = cb[keep_b[0]:keep_b[-1] + 1], fb[keep_b[0]:keep_b[-1] + 1]
    ia, ib = dtw_path(ca, cb)
    mcd = float(np.mean(_MCD_SCALE * np.sqrt(((ca[ia] - cb[ib]) ** 2).sum(axis=1))))
    both = (fa[ia] > 0) & (fb[ib] > 0)
    f0 = float(np.sqrt(np.mean((np.log(fa[ia][both]) - np.log(fb[ib][both])) ** 2))) if both.sum() >= 5 else None
    return {"mcd": round(mcd, 3), "log_f0_rmse": None if f0 is None else round(f0, 4)}
