"""`henryvc report`: a static page to compare runs by ear (and by numbers), optionally blind.

The page is one index.html plus a media/ folder beside it (audio and alignment images copied there),
so it opens from disk or any file server. Loss curves are Vega-Lite specs filled by dvc-render (as
`dvc plots` does), drawn by vega-embed from the bundle the vl-convert-python wheel ships, inlined in the
page: nothing is fetched, at build time or when the page opens.

Where a run's files come from: a tagged run is restored from its tag (`henryvc restore`: git worktree
+ DVC data from the cache, else the remote, every hash checked); an untagged run is read from its run
folder. Evaluations: checkpoints/evaluations/epoch_N/<utterance>.wav and logs/evaluations.jsonl (texts,
steps, per-utterance scores), written by the train stage; samples/<utterance>.wav and
samples/utterances.json (the final model) by the evaluate stage; plots/loss.csv for the curves; Henry's
recordings of the held-out clips from the project's voice data.

The listening page: one row per utterance (its text, Henry's recording, each run's clip at the evaluation
the selector picks, each clip's scores after it), sortable; then each run's verdict (each problem once,
with its fix and the utterances it hit), the metrics table and the loss curves.

Blind mode (report_blind.py): audio only, a fresh random order per row labelled A, B, ...; the key stays in
the project (.henryvc/blind-keys/<page>.json), never in the page's folder.
"""

from __future__ import annotations

import csv
import json
import random
import re
import shutil
import string
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.core import runname
from henryvc.core.numbers import is_number
from henryvc.errors import BadInput
from henryvc.ops.report_page import RunData

if TYPE_CHECKING:
    from henryvc.core.project import Project

LOSS_COLUMNS = ("loss", "decoder_loss", "postnet_loss", "stopnet_loss", "align_error")
EPOCH_DIR = re.compile(r"epoch_(\d+)$")
SENTENCE_WAV = re.compile(r"sentence_(\d+)\.wav$")


@dataclass
class ReportResult:
    """Where the page is and what went into it."""

    page: str
    blind: bool
    runs: list[str]
    labels: dict[str, str]
    audio_files: int
    key: str | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _labels(count: int) -> list[str]:
    letters = string.ascii_uppercase
    return [letters[i] if i < 26 else f"{letters[i // 26 - 1]}{letters[i % 26]}" for i in range(count)]


def _run_folder(project: Project, name: str, tagged: bool, folder_rel: str | None) -> tuple[Path, str]:
    """The folder to read run NAME from: its tag restored (hashes checked), else its run folder."""
    if tagged:
        from henryvc.ops import restore as restores

        restored = restores.restore(project, name)  # raises IntegrityError on any mismatch
        checked = f"restored from its tag ({restored.checked_files} files checked)"
        return Path(restored.path) / project.runs.name / name, checked
    if folder_rel is None:  # a run folder is found in training_runs/ or its archive (registry)
        raise BadInput(f"run {name} has no tag and no run folder here")
    folder = project.root / folder_rel
    return folder, "run folder (not tagged: nothing to check against)"


def _read_losses(folder: Path) -> list[dict[str, Any]]:
    path = folder / "plots" / "loss.csv"
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _read_evaluations(folder: Path) -> dict[int, dict[str, Any]]:
    """epoch -> {"step", "texts": {index: text}, "dir": folder} from the files and logs/evaluations.jsonl."""
    found: dict[int, dict[str, Any]] = {}
    base = folder / "checkpoints" / "evaluations"
    for epoch_dir in sorted(base.iterdir()) if base.is_dir() else []:
        match = EPOCH_DIR.match(epoch_dir.name)
        if match and epoch_dir.is_dir():
            wavs = {int(m.group(1)): p for p in epoch_dir.iterdir() if (m := SENTENCE_WAV.match(p.name))}
            found[int(match.group(1))] = {"step": None, "texts": {}, "wavs": wavs, "dir": epoch_dir}
    log = folder / "logs" / "evaluations.jsonl"
    for line in log.read_text(encoding="utf-8").splitlines() if log.is_file() else []:
        try:
            row = json.loads(line)
            entry = found.get(int(row["epoch"]))
        except (ValueError, KeyError, TypeError):
            continue
        if entry is not None:
            entry["step"] = row.get("step")
            entry["texts"] = {i: s.get("text", "") for i, s in enumerate(row.get("sentences") or [])}
    return found


SCORES = ("wer", "seconds", "speaker_similarity", "mcd", "log_f0_rmse")  # beside each clip, in this order


def _read_clips(folder: Path, evaluations: dict[int, dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """evaluation -> utterance -> {wav, text, scores}: the final model's samples and each periodic evaluation."""
    clips: dict[str, dict[str, dict[str, Any]]] = {}
    samples = folder / "samples"
    try:
        final = json.loads((samples / "utterances.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        final = {}
    final = final if isinstance(final, dict) else {}
    for wav in sorted(samples.glob("*.wav")) if samples.is_dir() else []:
        u = _mapping(final.get(wav.stem))
        text = str(u.get("text") or ("short text" if wav.stem == "short_text" else wav.stem))
        clips.setdefault("final", {})[wav.stem] = {"wav": wav, "text": text, "scores": _scores(u)}
    log = folder / "logs" / "evaluations.jsonl"
    rows: dict[int, dict[str, Any]] = {}
    for line in log.read_text(encoding="utf-8").splitlines() if log.is_file() else []:
        try:
            row = json.loads(line)
            rows[int(row["epoch"])] = row
        except (ValueError, KeyError, TypeError):
            continue
    for epoch, entry in sorted(evaluations.items()):
        utterances = (rows.get(epoch) or {}).get("utterances") or {}
        for wav in sorted(entry["dir"].glob("*.wav")):
            u = _mapping(utterances.get(wav.stem))
            match = SENTENCE_WAV.match(wav.name)
            text = u.get("text") or (entry["texts"].get(int(match.group(1))) if match else None) or wav.stem
            clips.setdefault(f"epoch_{epoch}", {})[wav.stem] = {"wav": wav, "text": str(text), "scores": _scores(u)}
    return clips


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _scores(utterance: dict[str, Any]) -> dict[str, Any]:
    return {k: utterance[k] for k in SCORES if is_number(utterance.get(k))}


def _recordings(project: Project, folder: Path, keys: set[str]) -> dict[str, Path]:
    """Henry's recordings of the held-out clips KEYS (eval_<clip>): the project's voice data (data.dir)."""
    from henryvc.core import params as params_mod

    try:
        data_dir = str(((params_mod.read(project.root) or {}).get("data") or {}).get("dir") or "voice_data")
    except (BadInput, AttributeError):  # an unreadable params.yaml only costs the recordings
        data_dir = "voice_data"
    found = {}
    for key in sorted(k for k in keys if k.startswith("eval_")):
        for base in (folder.parent.parent, project.root):  # the restored worktree first, then this one
            wav = base / data_dir / "wavs" / f"{key[len('eval_'):]}.wav"
            if wav.is_file():
                found[key] = wav
                break
    return found


def legends(names: list[str]) -> list[str]:
    """The shortest names that still tell NAMES apart: the parts of the run names that differ
    (henry_v2_debug_20261206_201500 and ..._213000 -> 201500 and 213000); a single run keeps its name."""
    if len(names) < 2:
        return list(names)
    parts = [n.split("_") for n in names]
    if len({len(p) for p in parts}) != 1:
        return list(names)
    keep = [i for i in range(len(parts[0])) if len({p[i] for p in parts}) > 1]
    short = ["_".join(p[i] for i in keep) for p in parts]
    return short if len(set(short)) == len(short) else list(names)


def _gather(project: Project, names: list[str], labels: list[str]) -> list[RunData]:
    from henryvc.ops import registry

    runs = []
    for name, label in zip(names, labels, strict=True):
        info = registry.show(project, name)
        folder, source = _run_folder(project, name, info.tagged, info.folder)
        verdict = info.summary.get("verdict") or {}
        evaluations = _read_evaluations(folder)
        run = RunData(name, label, folder, info.status, verdict if isinstance(verdict, dict) else {},
                      {k: v for k, v in info.metrics.items() if _scalar(v)}, info.reviews,
                      str(info.summary.get("description") or ""), _read_losses(folder), evaluations, source)
        run.clips = _read_clips(folder, evaluations)
        run.recordings = _recordings(project, folder, {k for clips in run.clips.values() for k in clips})
        runs.append(run)
    return runs


def _scalar(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool)) or value is None


def loss_specs(runs: list[RunData]) -> list[dict[str, Any]]:
    """One Vega-Lite spec per loss column, every run's curve overlaid (rev = the run's label), via dvc-render."""
    from dvc_render.vega import VegaRenderer

    specs = []
    for column in LOSS_COLUMNS:
        points = [{"step": float(row["step"]), column: float(row[column]), "rev": run.legend or run.label}
                  for run in runs for row in run.losses if _float(row.get(column)) and _float(row.get("step"))]
        if not points:
            continue
        renderer = VegaRenderer(points, column, x="step", y=column, title=column, template="linear")
        spec = renderer.get_filled_template()
        spec.pop("params", None)  # the smoothing slider: raw curves, as logged
        specs.append({"id": f"plot-{column}", "column": column, "spec": _unsmoothed(spec)})
    return specs


def _unsmoothed(spec: dict[str, Any]) -> dict[str, Any]:
    """The linear template without its loess smoothing layer's slider binding (the raw layer stays)."""
    text = json.dumps(spec)
    text = text.replace('"bandwidth": {"signal": "smooth"}', '"bandwidth": 0.3')
    result: dict[str, Any] = json.loads(text)
    return result


def _float(value: Any) -> bool:
    try:
        float(value)
        return value not in ("", None)
    except (TypeError, ValueError):
        return False


def _metric_rows(runs: list[RunData]) -> list[dict[str, Any]]:
    keys = sorted({k for run in runs for k in run.metrics})
    rows = []
    for key in keys:
        values = [run.metrics.get(key) for run in runs]
        base = values[0]
        deltas = [float(v) - float(base) if is_number(v) and is_number(base) and i else None  # type: ignore[arg-type]
                  for i, v in enumerate(values)]
        rows.append({"key": key, "values": values, "deltas": deltas})
    return rows


def _evaluation_title(evaluation: str, runs: list[RunData]) -> str:
    if evaluation == "final":
        return "final model"
    epoch = int(evaluation.split("_")[1])
    steps = sorted({str(r.evaluations[epoch]["step"]) for r in runs
                    if epoch in r.evaluations and r.evaluations[epoch]["step"] is not None})
    return f"epoch {epoch}" + (f" (step {', '.join(steps)})" if steps else "")


def listening_data(runs: list[RunData], out: Path) -> tuple[dict[str, Any], int]:
    """Copy every clip and Henry's recordings under OUT/media/, and return the page's data: evaluations
    (final first, then by epoch), runs (label, legend), rows (one per utterance: text, recording, and per
    evaluation and run the clip's file and scores); the number of audio files copied."""
    count = 0
    evaluations = sorted({e for r in runs for e in r.clips}, key=lambda e: (e != "final", int(e.split("_")[1])
                                                                              if e != "final" else 0))
    from henryvc.ops.report_blind import utterance_order

    keys = sorted({k for r in runs for clips in r.clips.values() for k in clips}, key=utterance_order)
    rows = []
    for key in keys:
        text = next(r.clips[e][key]["text"] for r in runs for e in evaluations if key in r.clips.get(e, {}))
        recording = next((r.recordings[key] for r in runs if key in r.recordings), None)
        row: dict[str, Any] = {"key": key, "text": text, "recording": None, "cells": {}}
        if recording is not None:
            target = out / "media" / "henry" / f"{key}.wav"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(recording, target)
            row["recording"] = target.relative_to(out).as_posix()
            count += 1
        for evaluation in evaluations:
            cells = {}
            for run in runs:
                clip = run.clips.get(evaluation, {}).get(key)
                if clip is None:
                    continue
                target = out / "media" / _slug(run.label) / evaluation / f"{key}.wav"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(clip["wav"], target)
                count += 1
                cells[run.label] = {"audio": target.relative_to(out).as_posix(), "scores": clip["scores"]}
            if cells:
                row["cells"][evaluation] = cells
        rows.append(row)
    data = {"evaluations": [{"id": e, "title": _evaluation_title(e, runs)} for e in evaluations],
            "runs": [{"label": r.label, "legend": r.legend or r.label} for r in runs], "rows": rows,
            "scores": list(SCORES)}
    return data, count


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", label)


def vega_bundle(project: Project) -> str:
    """vega + vega-lite + vega-embed as one script, from the vl-convert-python wheel (cached per version)."""
    import vl_convert

    version = "-".join((vl_convert.get_vega_version(), vl_convert.get_vega_embed_version()))
    cached = project.state / "vega" / f"bundle-{version}.js"
    if cached.is_file():
        return cached.read_text(encoding="utf-8")
    text = vl_convert.javascript_bundle()  # type: ignore[call-arg]  # snippet=None is its default
    from henryvc.core.atomic import write_text_atomic

    cached.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(cached, text)
    return text


def report(project: Project, names: list[str], blind: bool = False, out: Path | None = None,
           now: datetime | None = None) -> ReportResult:
    """`henryvc report NAME [NAME...] [--blind] [--out DIR]`: write the page, return where it is."""
    from henryvc.ops import report_page, review

    names = [str(runname.parse(n)) for n in names]
    if not names:
        raise BadInput("name at least one run")
    if len(set(names)) != len(names):
        raise BadInput("a run is named twice")
    stamp = (now or datetime.now()).strftime("%Y%m%d_%H%M%S")
    target = Path(out) if out else project.state / "reports" / f"report_{stamp}"
    target = target if target.is_absolute() else Path.cwd() / target
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BadInput(f"{target} exists and is not empty: choose another --out")
    order = list(names)
    if blind:
        random.SystemRandom().shuffle(order)
    labels = _labels(len(order)) if blind else list(order)
    page_id = uuid.uuid4().hex[:12]
    with project.lock():
        runs = _gather(project, order, labels)
    for run, legend in zip(runs, legends([r.name for r in runs]) if not blind else labels, strict=True):
        run.legend = legend
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    key_path = None
    try:
        if blind:
            from henryvc.ops import report_blind

            html, key, count = report_blind.build(runs, staging, page_id)
            key_path = review.keys_dir(project) / f"{page_id}.json"  # in the project, never beside the page
            key_path.parent.mkdir(parents=True, exist_ok=True)
            from henryvc.core.atomic import write_json_atomic

            write_json_atomic(key_path, key)
        else:
            data, count = listening_data(runs, staging)
            html = report_page.render(runs, _metric_rows(runs), loss_specs(runs), data, vega_bundle(project),
                                      page_id=page_id)
        (staging / "index.html").write_text(html, encoding="utf-8")
        if target.exists():
            target.rmdir()
        staging.rename(target)  # the page appears whole or not at all
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if key_path is not None and not target.exists():
            key_path.unlink(missing_ok=True)
        raise
    return ReportResult(str(target / "index.html"), blind, names, {} if blind else {r.label: r.legend for r in runs},
                        count, str(key_path) if key_path else None, {r.name: r.source for r in runs})
