"""Listen to a model the way the gate does: synthesize the evaluation texts (the short text, the config's
test sentences, the held-out eval clips), measure each utterance (henryvc_training.quality) and score
what a recognizer hears against the text and against the clips' real recordings (intelligibility).

Shared by the periodic evaluations during training and the evaluate stage.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from henryvc_training.common import RunPaths

log = logging.getLogger("henryvc.training.listen")

# Audio beyond the longest plausible duration (letters / min_chars_per_second) plus this margin is
# not transcribed: a runaway decoder's babble would cost recognizer time and say nothing more.
ASR_MARGIN_SECONDS = 0.5
SHORT_TEXT = "Hello, I am Henry."  # params.yaml evaluation.short_text's default
# The listener and intelligibility scores logged as TensorBoard scalars (periodic and final evaluations).
EVAL_SCALARS = ("asr_wer", "asr_cer", "asr_wer_reference", "asr_wer_gap", "asr_wer_all", "chars_per_second_min",
                "chars_per_second_max", "decoder_runaways", "attention_focus_min", "attention_diagonality_min",
                "speaker_similarity", "speaker_similarity_min", "mcd", "log_f0_rmse")


@dataclass(frozen=True)
class Item:
    """One text to synthesize: KEY names it in metrics and file names; RECORDING is its real clip, if any."""

    key: str
    text: str
    recording: Path | None = None


@dataclass
class Listening:
    """What one evaluation measured."""

    utterances: dict[str, dict[str, Any]] = field(default_factory=dict)
    asr: dict[str, Any] = field(default_factory=dict)  # asr_wer, asr_wer_reference, asr_wer_gap, ...
    synthesis_seconds: float = 0.0
    asr_seconds: float = 0.0
    voice: dict[str, Any] = field(default_factory=dict)  # speaker_similarity, mcd, log_f0_rmse, ...
    voice_seconds: float = 0.0
    alignments: dict[str, Any] = field(default_factory=dict)
    wavs: dict[str, Any] = field(default_factory=dict)


def eval_clips(paths: RunPaths, data_dir: Path) -> list[Item]:
    """The held-out clips of the run's split (data/eval.csv), with their recordings in DATA_DIR/wavs."""
    if not (paths.data / "eval.csv").exists():
        return []
    items = []
    for line in (paths.data / "eval.csv").read_text(encoding="utf-8").splitlines():
        parts = line.split("|")
        if len(parts) >= 2 and parts[0]:
            wav = data_dir / "wavs" / f"{parts[0]}.wav"
            items.append(Item(f"eval_{parts[0]}", parts[-1] or parts[1], wav if wav.exists() else None))
    return items


def reference_clips(paths: RunPaths, data_dir: Path, count: int = 0) -> list[Path]:
    """Henry's reference clips for speaker similarity: the first COUNT (voice.REFERENCE_CLIPS) recordings of
    the run's training split (data/train.csv), never a held-out clip."""
    from henryvc_training import voice

    if not (paths.data / "train.csv").exists():
        return []
    found = []
    for line in (paths.data / "train.csv").read_text(encoding="utf-8").splitlines():
        wav = data_dir / "wavs" / f"{line.split('|')[0]}.wav"
        if line and wav.exists():
            found.append(wav)
    return found[: count or voice.REFERENCE_CLIPS]


def items(short_text: str | None, test_sentences: list[str], clips: list[Item]) -> list[Item]:
    """The evaluation's texts: short text, test sentences (sentence_<i>), then the eval clips."""
    found = [Item("short_text", short_text)] if short_text else []
    found += [Item(f"sentence_{i}", text) for i, text in enumerate(test_sentences)]
    return found + list(clips)


@dataclass(frozen=True)
class Plan:
    """What one evaluation, periodic or final, listens to: TODO (the texts to synthesize), REFERENCES
    (Henry's reference clips for speaker similarity; empty: no voice scores) and TEXTS (the recognizer's
    language model: every evaluation text, the final evaluation's short text included, so that the
    periodic evaluations and the evaluate stage build the same recognizer and share its transcripts of
    Henry's recordings)."""

    todo: list[Item]
    references: list[Path]
    texts: list[str]

    @property
    def held_out(self) -> list[Path]:
        """Henry's recordings of the held-out clips (what the distances compare against)."""
        return [i.recording for i in self.todo if i.recording is not None]


def plan(paths: RunPaths, data_dir: Path | None, short_text: str, test_sentences: list[str], periodic: bool,
         voice_scores: bool = True) -> Plan:
    """The evaluation of PATHS' run: the final one (PERIODIC false) speaks SHORT_TEXT, the test sentences and
    the held-out clips; a periodic one the same but the short text. The one function both kinds use."""
    clips = eval_clips(paths, data_dir) if data_dir is not None else []
    todo = items(None if periodic else short_text, test_sentences, clips)
    references = reference_clips(paths, data_dir) if voice_scores and data_dir is not None else []
    return Plan(todo, references, [i.text for i in items(short_text, test_sentences, clips)])


def set_cache(root: Path | None) -> None:
    """Keep what is computed from Henry's recordings (embeddings, transcripts) under ROOT/.henryvc/, keyed by
    each recording's content hash: once per machine and data version, whichever evaluation comes first."""
    from henryvc_training import voice

    voice.set_cache(None if root is None else root / ".henryvc" / "voice-embeddings")
    _CACHE[:] = [] if root is None else [root / ".henryvc" / "recording-transcripts"]


def prepare(todo_plan: Plan, asr: bool) -> list[threading.Thread]:
    """Get Henry's side of PLAN's scores ready in background threads (the recognizer and its transcripts of
    his recordings; the speaker encoder, his recordings' embeddings and their features) while training runs
    its first epochs (hooks.Hooks.listen_to): a periodic evaluation waits for what is not ready, never redoes
    it, and the evaluate stage finds it in set_cache's folder. The evaluate stage itself prepares nothing in
    the background: what it lacks it computes in its scores' own (timed) seconds."""
    from henryvc_training import voice

    threads = [warm_up(todo_plan.todo, todo_plan.texts)] if asr else []
    if todo_plan.references:
        voice.load_encoder()  # here, not in the thread: it must not draw random numbers beside training
        threads.append(voice.warm_up(todo_plan.references + todo_plan.held_out, todo_plan.held_out))
    return threads


def preparation_seconds() -> float:
    """Wall seconds this process has spent getting Henry's side ready, in the background or not (recognizer,
    encoder, his recordings' transcripts, embeddings and features): work the scores did not wait for, an
    upper bound of its cost (the threads ran beside model loading, synthesis or training)."""
    from henryvc_training import voice

    return sum(_BACKGROUND) + voice.preparation_seconds()


_RECOGNIZERS: dict[tuple[str, ...], Any] = {}
_HEARD: dict[tuple[str, int, int], str] = {}  # real recordings' transcripts: (path, mtime, size) -> words
_CACHE: list[Path] = []  # where the transcripts are kept between processes (set_cache)
_BACKGROUND: list[float] = []  # wall seconds of warm_up's threads
# The recognizer and _HEARD are made ready by warm_up's thread and used by the evaluations: one at a time
# (a pocketsphinx decoder is not thread-safe), and an evaluation that comes early waits, never builds twice.
_LOCK = threading.Lock()


def warm_up(todo: list[Item], texts: list[str] | None = None) -> threading.Thread:
    """Build the recognizer for TODO's texts and transcribe the real recordings in a background thread,
    while training runs: the first periodic evaluation then pays only for its own synthesis (measured on
    the tests' tiny run: ASR was 23 % of that evaluation, nearly all of it this one-off work)."""

    def work() -> None:
        started = time.perf_counter()
        try:
            with _LOCK:
                rec = recognizer(texts or [i.text for i in todo])
                for item in todo:
                    if item.recording is not None:
                        _heard_recording(rec, item.recording)
        except Exception as exc:  # the evaluation will build it again and report what fails
            log.warning("preparing the recognizer failed (%s: %s); the first evaluation retries", type(exc).__name__, exc)
        finally:
            _BACKGROUND.append(time.perf_counter() - started)

    thread = threading.Thread(target=work, name="henryvc-asr-warm-up", daemon=True)
    thread.start()
    return thread


def _heard_recording(rec: Any, recording: Path) -> str:
    """What REC hears in a real recording, transcribed once per (path, mtime, size) in a process and once per
    (content, recognizer) on the machine (set_cache)."""
    import hashlib
    import json

    from henryvc_training import intelligibility

    stat = recording.stat()
    cache = (str(recording), stat.st_mtime_ns, stat.st_size)
    if cache not in _HEARD:
        stored = None
        if _CACHE:
            content = hashlib.sha256(recording.read_bytes()).hexdigest()
            stored = _CACHE[0] / f"{content}-{rec.fingerprint}.json"
        if stored is not None and stored.is_file():
            _HEARD[cache] = str(json.loads(stored.read_text(encoding="utf-8"))["transcript"])
        else:
            _HEARD[cache] = rec.transcribe(*intelligibility.read_wav(recording))
            if stored is not None:
                from henryvc.core.atomic import write_json_atomic

                write_json_atomic(stored, {"transcript": _HEARD[cache], "recording": recording.name})
    return _HEARD[cache]


def recognizer(texts: list[str]) -> Any:
    """The pocketsphinx recognizer for TEXTS, built once per process (training evaluates many times)."""
    from henryvc_training.intelligibility import Recognizer

    key = tuple(sorted(set(texts)))
    if key not in _RECOGNIZERS:
        _RECOGNIZERS.clear()
        _HEARD.clear()
        _RECOGNIZERS[key] = Recognizer(list(key))
        if _RECOGNIZERS[key].unknown_words:
            log.warning("words the recognizer's dictionary lacks count as errors for synthesis and recordings "
                        "alike: %s", ", ".join(_RECOGNIZERS[key].unknown_words))
    return _RECOGNIZERS[key]


def listen(model: Any, todo: list[Item], max_decoder_steps: int, out_dir: Path | None, asr: bool,
           min_chars_per_second: float = 5.0, references: list[Path] | None = None,
           texts: list[str] | None = None) -> Listening:
    """Synthesize every item of TODO with MODEL (decoder capped), measure it, save its wav in OUT_DIR
    as <key>.wav (if given); with ASR, transcribe and score it (intelligibility; the recognizer's language
    model made of TEXTS, else TODO's texts); with REFERENCES (Henry's clips), score how much it sounds like
    him and how far it is from his recordings (henryvc_training.voice). Periodic and final evaluations both
    come here (their TODO, REFERENCES and TEXTS from plan())."""
    from henryvc_training import quality, synth, voice

    result = Listening()
    started = time.perf_counter()
    for item in todo:
        spoken = synth.synthesize(model, item.text, max_decoder_steps)
        result.utterances[item.key] = spoken.measure()
        result.alignments[item.key] = spoken.alignment
        result.wavs[item.key] = spoken.wav
        if out_dir is not None:
            synth.save_wav(model, spoken.wav, out_dir / f"{item.key}.wav")
    result.synthesis_seconds = time.perf_counter() - started
    if not (asr or references):
        return result
    # Both scorers hear the audio at 16 kHz, cut after the longest plausible duration (a runaway decoder's
    # babble says nothing more): resampled once for both, counted as scoring time.
    started = time.perf_counter()
    rate = int(model.ap.sample_rate)
    heard16k = {}
    for item in todo:
        longest = quality.characters(item.text) / min_chars_per_second + ASR_MARGIN_SECONDS
        heard16k[item.key] = voice.to_rate(result.wavs[item.key][: int(longest * rate)], rate)
    resampling = time.perf_counter() - started
    if asr:
        started = time.perf_counter()
        result.asr = score(todo, heard16k, voice.RATE, min_chars_per_second, result.utterances, texts)
        result.asr_seconds = time.perf_counter() - started + (0.0 if references else resampling)
    if references:
        started = time.perf_counter()
        result.voice = voice_scores(todo, heard16k, voice.RATE, min_chars_per_second, result.utterances, references)
        result.voice_seconds = time.perf_counter() - started + resampling
    return result


def voice_scores(todo: list[Item], wavs: dict[str, Any], rate: int, min_chars_per_second: float,
                 utterances: dict[str, dict[str, Any]], references: list[Path]) -> dict[str, Any]:
    """Speaker similarity of every utterance to REFERENCES, and mel-cepstral distance and log-F0 RMSE of the
    held-out clips against their real recordings (written into UTTERANCES); return the run's aggregates."""
    from henryvc_training import quality, voice

    ref = voice.reference(references)
    recorded = {item.key: item.recording for item in todo if item.recording is not None}
    heard = dict(zip(recorded, voice.recording_embeddings(list(recorded.values())), strict=True))
    synthesized = {}
    for item in todo:
        # Audio past the longest plausible duration is a runaway decoder's babble: not scored (as for ASR).
        longest = quality.characters(item.text) / min_chars_per_second + ASR_MARGIN_SECONDS
        synthesized[item.key] = voice.to_rate(wavs[item.key], rate)[: int(longest * voice.RATE)]
    for key, emb in zip(synthesized, voice.embeddings(list(synthesized.values())), strict=True):
        utterances[key]["speaker_similarity"] = voice.cosine(emb, ref)
    for key, recording in recorded.items():
        u = utterances[key]
        u["recording_speaker_similarity"] = voice.cosine(heard[key], ref)
        u.update(voice.distances_to(synthesized[key], recording))
    return aggregate_voice(utterances)


def aggregate_voice(utterances: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The run's voice scores: mean and lowest speaker similarity, the recordings' own, mean MCD and log-F0 RMSE."""
    def values(key: str) -> list[float]:
        return [float(u[key]) for u in utterances.values() if isinstance(u.get(key), (int, float))]

    out: dict[str, Any] = {}
    for name, key, how in (("speaker_similarity", "speaker_similarity", "mean"),
                           ("speaker_similarity_min", "speaker_similarity", "min"),
                           ("speaker_similarity_reference", "recording_speaker_similarity", "mean"),
                           ("mcd", "mcd", "mean"), ("log_f0_rmse", "log_f0_rmse", "mean")):
        found = values(key)
        if found:
            out[name] = round(min(found) if how == "min" else sum(found) / len(found), 4)
    return out


def score(todo: list[Item], wavs: dict[str, Any], rate: int, min_chars_per_second: float,
          utterances: dict[str, dict[str, Any]], texts: list[str] | None = None) -> dict[str, Any]:
    """ASR scores of the synthesized WAVS (and each utterance's transcript and WER written into UTTERANCES);
    the recognizer's language model is made of TEXTS (default: TODO's texts)."""
    from henryvc_training import intelligibility, quality

    synthesized, references = {}, {}
    with _LOCK:
        rec = recognizer(texts or [i.text for i in todo])
        for item in todo:
            longest = quality.characters(item.text) / min_chars_per_second + ASR_MARGIN_SECONDS
            synthesized[item.key] = (item.text, wavs[item.key][: int(longest * rate)], rate)
            if item.recording is not None:
                references[item.key] = _heard_recording(rec, item.recording)
        heard = {key: rec.transcribe(wav, r) for key, (_t, wav, r) in synthesized.items()}
    for item in todo:
        one = intelligibility.error_rates([item.text], [heard[item.key]])
        utterances[item.key].update(transcript=heard[item.key], wer=round(one["wer"], 4))
        if item.key in references:
            utterances[item.key]["recording_transcript"] = references[item.key]
    metrics: dict[str, Any] = {}
    overall = intelligibility.error_rates([i.text for i in todo], [heard[i.key] for i in todo])
    metrics.update(asr_wer_all=overall["wer"], asr_cer_all=overall["cer"])
    clips = [i for i in todo if i.key in references]
    if clips:
        synth_rates = intelligibility.error_rates([i.text for i in clips], [heard[i.key] for i in clips])
        real_rates = intelligibility.error_rates([i.text for i in clips], [references[i.key] for i in clips])
        metrics.update(asr_wer=synth_rates["wer"], asr_cer=synth_rates["cer"], asr_wer_reference=real_rates["wer"],
                       asr_cer_reference=real_rates["cer"], asr_wer_gap=synth_rates["wer"] - real_rates["wer"],
                       asr_clips=len(clips))
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}


def table(utterances: dict[str, dict[str, Any]]) -> list[str]:
    """The utterances as a Markdown table (README sections of periodic and final evaluations)."""
    lines = ["| utterance | text | seconds | letters/s | decoder steps | stopped by itself | attention focus "
             "| diagonality | heard | WER | speaker similarity | MCD dB | log-F0 RMSE |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for key, u in utterances.items():
        heard = u.get("transcript")
        lines.append(f"| {key} | {u['text']} | {u['seconds']} | {u.get('chars_per_second') or '-'} | "
                     f"{u['decoder_steps']}/{u['max_decoder_steps']} | {'yes' if u['stopped_by_itself'] else 'no'} | "
                     f"{u['attention_focus']:.3f} | {u['attention_diagonality']:.3f} | "
                     f"{'-' if heard is None else (heard or '(nothing)')} | {u.get('wer', '-')} | "
                     f"{_shown(u.get('speaker_similarity'))} | {_shown(u.get('mcd'))} | {_shown(u.get('log_f0_rmse'))} |")
    return lines


def _shown(value: Any) -> str:
    return "-" if value is None else str(value)
