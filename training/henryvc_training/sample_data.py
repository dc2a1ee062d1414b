"""Make a small LJSpeech-layout voice dataset locally with espeak-ng, for demos and tests.

Usage: python -m henryvc_training.sample_data --out voice_data --clips 16
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import wave
from pathlib import Path

from henryvc.errors import BadInput, HenryvcError
from henryvc.exits import entry_point

SAMPLE_RATE = 22050
# Short, plain sentences: every character is in Coqui's default English alphabet, so the
# prepare stage accepts the result as it is.
SENTENCES = (
    "Henry reads the morning news.",
    "The quick brown fox jumps over the lazy dog.",
    "A small boat drifts along the quiet river.",
    "Please call Stella and ask her to bring these things.",
    "The rain in Spain stays mainly in the plain.",
    "She sells sea shells by the sea shore.",
    "We walked home slowly after the long meeting.",
    "Bright stars filled the clear winter sky.",
    "Henry likes warm bread with butter.",
    "The old clock in the hall struck nine.",
    "Open the window and let the fresh air in.",
    "Good voices take patience and careful training.",
    "The train leaves the station at seven.",
    "Every morning the birds sing in the garden.",
    "Turn left at the corner and walk two blocks.",
    "This is a test of the henry voice.",
)


def espeak_binary() -> str:
    """Path of espeak-ng (or espeak); BadInput naming the package when neither is installed."""
    for name in ("espeak-ng", "espeak"):
        found = shutil.which(name)
        if found:
            return found
    raise BadInput("espeak-ng is not installed: install it (apt-get install espeak-ng) to make sample data")


def _resample(source: Path, target: Path) -> None:
    """Write SOURCE as 16-bit mono SAMPLE_RATE wav at TARGET (espeak's own rate differs by build)."""
    if shutil.which("sox"):
        subprocess.run(["sox", str(source), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(target)],
                       check=True, capture_output=True)
        return
    import numpy as np  # without sox: plain linear interpolation is good enough for a demo voice

    with wave.open(str(source)) as handle:
        rate = handle.getframerate()
        data = np.frombuffer(handle.readframes(handle.getnframes()), dtype=np.int16).astype(np.float64)
    positions = np.arange(0, len(data) * SAMPLE_RATE / rate) * rate / SAMPLE_RATE
    resampled = np.interp(positions, np.arange(len(data)), data).astype(np.int16)
    with wave.open(str(target), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(SAMPLE_RATE)
        handle.writeframes(resampled.tobytes())


def make_dataset(out: Path, clips: int) -> list[str]:
    """Synthesize CLIPS sentences into OUT (metadata.csv + wavs/); return the clip ids."""
    if clips < 1:
        raise BadInput(f"--clips must be at least 1, got {clips}")
    binary = espeak_binary()
    wavs = out / "wavs"
    wavs.mkdir(parents=True, exist_ok=True)
    lines, ids = [], []
    for index in range(clips):
        text = SENTENCES[index % len(SENTENCES)]
        clip_id = f"henry_{index + 1:04d}"
        raw = wavs / f".{clip_id}.raw.wav"
        # A different speed per repeat keeps repeated sentences from being identical clips.
        speed = 150 + 10 * (index // len(SENTENCES))
        try:
            subprocess.run([binary, "-v", "en-us", "-s", str(speed), "-w", str(raw), text],
                           check=True, capture_output=True)
            _resample(raw, wavs / f"{clip_id}.wav")
        except subprocess.CalledProcessError as exc:
            raise HenryvcError(f"espeak-ng/sox failed on clip {clip_id}: {exc.stderr.decode(errors='replace')}") from None
        finally:
            raw.unlink(missing_ok=True)
        lines.append(f"{clip_id}|{text}|{text}")
        ids.append(clip_id)
    (out / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ids


@entry_point("sample_data")
def main(argv: list[str] | None = None) -> int:
    """Command-line entry: make the sample dataset."""
    parser = argparse.ArgumentParser(prog="python -m henryvc_training.sample_data", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("voice_data"), help="dataset folder to create")
    parser.add_argument("--clips", type=int, default=16, help="number of clips")
    args = parser.parse_args(argv)
    ids = make_dataset(args.out, args.clips)
    print(f"sample_data: wrote {len(ids)} clips to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
