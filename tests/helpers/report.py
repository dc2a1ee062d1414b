"""A fake training stage that also writes what the real train and evaluate stages leave for `henryvc report`:
evaluation audio and alignments per epoch, logs/evaluations.jsonl, plots/loss.csv, the final sample."""

from __future__ import annotations

from tests.helpers.cli import run_cli
from tests.helpers.project import FAKE_TRAIN, fake_dvc_yaml, gen, trained_run

SENTENCES = ("Hello, I am Henry.", "The quick brown fox jumps over the lazy dog.")
CLIP_TEXT = "Hello."  # the held-out clip clip1: Henry's recording is voice_data/wavs/clip1.wav
EPOCHS = (25, 50)

FAKE_TRAIN_WITH_AUDIO = FAKE_TRAIN + '''
import math, struct, wave, zlib
def wav(path, seconds, freq):
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = 16000
    frames = b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * freq * i / rate)))
                      for i in range(int(seconds * rate)))
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1); handle.setsampwidth(2); handle.setframerate(rate); handle.writeframes(frames)
def png(path, shade):
    raw = b"".join(b"\\x00" + bytes([shade, (shade * 3) % 256, 200]) * 16 for _ in range(16))
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
SENTENCES = SENTENCES_HERE
TEXTS = {f"sentence_{i}": t for i, t in enumerate(SENTENCES)}
TEXTS["eval_clip1"] = CLIP_TEXT_HERE
def scores(key, epoch):
    n = list(TEXTS).index(key)
    return {"text": TEXTS[key], "wer": round(0.1 * seed + 0.01 * n, 3), "seconds": 0.4 + 0.1 * n,
            "speaker_similarity": round(0.5 + 0.05 * seed - 0.01 * n + epoch / 1000, 4), "mcd": 5.0 + n}
rows = []
for epoch in EPOCHS_HERE:
    out = folder / "checkpoints" / "evaluations" / f"epoch_{epoch:04d}"
    for index, key in enumerate(TEXTS):
        wav(out / f"{key}.wav", 0.4 + 0.1 * index, 200 + 40 * seed + epoch)
        png(out / f"{key}_alignment.png", (seed * 40 + epoch) % 256)
    rows.append(json.dumps({"epoch": epoch, "step": epoch * 4, "sentences": [{"text": t} for t in SENTENCES],
                            "utterances": {k: scores(k, epoch) for k in TEXTS},
                            "audio": str(out.relative_to(folder))}))
(folder / "logs" / "evaluations.jsonl").write_text("\\n".join(rows) + "\\n")
(folder / "plots").mkdir(exist_ok=True)
lines = ["step,loss,decoder_loss,postnet_loss,stopnet_loss,align_error"]
lines += [f"{s},{3.0 / s + seed / 10},{1.0 / s},{1.5 / s},{0.5 / s},{0.2 / s}" for s in range(1, 9)]
(folder / "plots" / "loss.csv").write_text("\\n".join(lines) + "\\n")
png(folder / "plots" / "alignment.png", seed * 60 % 256)
wav(folder / "samples" / "short_text.wav", 0.6, 300 + 40 * seed)
final = {"short_text": {**scores("sentence_0", 0), "text": "Hello, I am Henry."}}
for index, key in enumerate(TEXTS):
    wav(folder / "samples" / f"{key}.wav", 0.5 + 0.1 * index, 320 + 40 * seed)
    final[key] = scores(key, 100)
(folder / "samples" / "utterances.json").write_text(json.dumps(final))
'''.replace("SENTENCES_HERE", repr(SENTENCES)).replace("EPOCHS_HERE", repr(EPOCHS)).replace(
    "CLIP_TEXT_HERE", repr(CLIP_TEXT))
RUN_CLIPS = (len(SENTENCES) + 1) * len(EPOCHS) + len(SENTENCES) + 2  # periodic, then the final model's


def audio_project(project) -> None:
    """Switch PROJECT's fake stage to the one that writes evaluation audio."""
    gen(project, {"fake_train.py": FAKE_TRAIN_WITH_AUDIO, "dvc.yaml": fake_dvc_yaml("fake_train.py")},
        commit="fake stage with evaluation audio")


def two_tagged_runs(project) -> tuple[str, str]:
    """Two tagged runs of the audio stage (seeds 1 and 4)."""
    audio_project(project)
    names = []
    for seed in (1, 4):
        name = trained_run(project, seed=seed)
        assert run_cli(project.root, "tag-run", name).exit_code == 0
        names.append(name)
    return names[0], names[1]


def load_all_audio(driver, timeout: float = 30.0) -> list:
    """The listening page loads no audio until a click: load every clip it points at; [readyState, duration,
    error] of each, once all have their metadata (or TIMEOUT passed)."""
    import time

    driver.execute_script("document.querySelectorAll('#listen audio[src]').forEach(a => {a.preload = 'metadata'; "
                          "a.load();})")
    deadline = time.monotonic() + timeout
    while True:
        states = driver.execute_script("return Array.from(document.querySelectorAll('#listen audio[src]'))"
                                       ".map(a => [a.readyState, a.duration, a.error])")
        if all(s[0] >= 1 for s in states) or time.monotonic() > deadline:
            return states
        time.sleep(0.2)
