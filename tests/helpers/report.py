"""A fake training stage that also writes what the real train and evaluate stages leave for `henryvc report`:
evaluation audio and alignments per epoch, logs/evaluations.jsonl, plots/loss.csv, the final sample."""

from __future__ import annotations

from tests.helpers.project import FAKE_TRAIN, fake_dvc_yaml, gen, trained_run

SENTENCES = ("Hello, I am Henry.", "The quick brown fox jumps over the lazy dog.")
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
rows = []
for epoch in EPOCHS_HERE:
    out = folder / "checkpoints" / "evaluations" / f"epoch_{epoch:04d}"
    for index, text in enumerate(SENTENCES):
        wav(out / f"sentence_{index}.wav", 0.4 + 0.1 * index, 200 + 40 * seed + epoch)
        png(out / f"sentence_{index}_alignment.png", (seed * 40 + epoch) % 256)
    rows.append(json.dumps({"epoch": epoch, "step": epoch * 4, "sentences": [{"text": t} for t in SENTENCES],
                            "audio": str(out.relative_to(folder))}))
(folder / "logs" / "evaluations.jsonl").write_text("\\n".join(rows) + "\\n")
(folder / "plots").mkdir(exist_ok=True)
lines = ["step,loss,decoder_loss,postnet_loss,stopnet_loss,align_error"]
lines += [f"{s},{3.0 / s + seed / 10},{1.0 / s},{1.5 / s},{0.5 / s},{0.2 / s}" for s in range(1, 9)]
(folder / "plots" / "loss.csv").write_text("\\n".join(lines) + "\\n")
png(folder / "plots" / "alignment.png", seed * 60 % 256)
wav(folder / "samples" / "short_text.wav", 0.6, 300 + 40 * seed)
'''.replace("SENTENCES_HERE", repr(SENTENCES)).replace("EPOCHS_HERE", repr(EPOCHS))


def audio_project(project) -> None:
    """Switch PROJECT's fake stage to the one that writes evaluation audio."""
    gen(project, {"fake_train.py": FAKE_TRAIN_WITH_AUDIO, "dvc.yaml": fake_dvc_yaml("fake_train.py")},
        commit="fake stage with evaluation audio")


def two_tagged_runs(project, invoke) -> tuple[str, str]:
    """Two tagged runs of the audio stage (seeds 1 and 4)."""
    audio_project(project)
    names = []
    for seed in (1, 4):
        name = trained_run(project, seed=seed)
        assert invoke(["tag-run", name], project.root).exit_code == 0
        names.append(name)
    return names[0], names[1]
