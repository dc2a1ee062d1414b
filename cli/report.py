"""`henryvc report`: a static page to compare runs by ear (and by numbers), optionally blind.

The page is one index.html plus a media/ folder beside it (audio and alignment images copied there),
so it opens from disk or any file server. Loss curves are Vega-Lite specs filled by dvc-render (as
`dvc plots` does), drawn by vega-embed from the bundle the vl-convert-python wheel ships, inlined in the
page: nothing is fetched, at build time or when the page opens.

Where a run's files come from: a tagged run is restored from its tag (`henryvc restore`: git worktree
+ DVC data from the cache, else the remote, every hash checked); an untagged run is read from its run
folder. Evaluations: checkpoints/evaluations/epoch_N/sentence_I.wav (+ _alignment.png) and
logs/evaluations.jsonl (texts, steps), written by the train stage; samples/short_text.wav and
plots/alignment.png by the evaluate stage; plots/loss.csv for the curves.

Blind mode: runs get shuffled labels A, B, ...; no name, description or review reaches the page or its
file names; the page makes a ratings file for `henryvc review --from`; the label -> run key is written
next to the page (blind-key.json) and kept in .henryvc/blind-keys/.
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

from henryvc import runname
from henryvc.errors import BadInput
from henryvc.numbers import is_number

if TYPE_CHECKING:
    from henryvc.project import Project

LOSS_COLUMNS = ("loss", "decoder_loss", "postnet_loss", "stopnet_loss", "align_error")
EPOCH_DIR = re.compile(r"epoch_(\d+)$")
SENTENCE_WAV = re.compile(r"sentence_(\d+)\.wav$")


@dataclass
class RunData:
    """What the page shows of one run."""

    name: str
    label: str
    folder: Path
    status: str = "unknown"
    verdict: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""
    losses: list[dict[str, Any]] = field(default_factory=list)
    evaluations: dict[int, dict[str, Any]] = field(default_factory=dict)  # epoch -> {step, sentences: {i: text}}
    source: str = ""  # "restored from its tag at <path>" | "run folder"


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
        from henryvc import restore as restores

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


def _gather(project: Project, names: list[str], labels: list[str]) -> list[RunData]:
    from henryvc import registry

    runs = []
    for name, label in zip(names, labels, strict=True):
        info = registry.show(project, name)
        folder, source = _run_folder(project, name, info.tagged, info.folder)
        verdict = info.summary.get("verdict") or {}
        runs.append(RunData(name, label, folder, info.status, verdict if isinstance(verdict, dict) else {},
                            {k: v for k, v in info.metrics.items() if _scalar(v)}, info.reviews,
                            str(info.summary.get("description") or ""), _read_losses(folder),
                            _read_evaluations(folder), source))
    return runs


def _scalar(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool)) or value is None


def loss_specs(runs: list[RunData]) -> list[dict[str, Any]]:
    """One Vega-Lite spec per loss column, every run's curve overlaid (rev = the run's label), via dvc-render."""
    from dvc_render.vega import VegaRenderer

    specs = []
    for column in LOSS_COLUMNS:
        points = [{"step": float(row["step"]), column: float(row[column]), "rev": run.label}
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


def _copy_media(runs: list[RunData], out: Path) -> tuple[dict[str, Any], int]:
    """Copy audio and alignment images under out/media/<label>/; the page's audio grid."""
    grid: dict[str, dict[int, dict[str, dict[str, str]]]] = {}  # text -> epoch -> label -> {audio, image}
    steps: dict[int, dict[str, Any]] = {}
    count = 0
    for run in runs:
        media = out / "media" / run.label
        for epoch, entry in sorted(run.evaluations.items()):
            steps.setdefault(epoch, {})[run.label] = entry["step"]
            for index, wav in sorted(entry["wavs"].items()):
                text = entry["texts"].get(index) or f"test sentence {index + 1}"
                target = media / f"epoch_{epoch:04d}_sentence_{index}.wav"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(wav, target)
                count += 1
                cell = {"audio": target.relative_to(out).as_posix()}
                image = wav.with_name(f"sentence_{index}_alignment.png")
                if image.is_file():
                    shutil.copyfile(image, target.with_suffix(".png"))
                    cell["image"] = target.with_suffix(".png").relative_to(out).as_posix()
                grid.setdefault(text, {}).setdefault(epoch, {})[run.label] = cell
        final = {}
        for source, name in ((run.folder / "samples" / "short_text.wav", "final_short_text.wav"),
                             (run.folder / "plots" / "alignment.png", "final_alignment.png")):
            if source.is_file():
                media.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, media / name)
                final["audio" if name.endswith(".wav") else "image"] = (media / name).relative_to(out).as_posix()
        if final:
            count += "audio" in final
            grid.setdefault("final model: short text", {}).setdefault(-1, {})[run.label] = final
    return {"grid": grid, "steps": steps}, count


def vega_bundle(project: Project) -> str:
    """vega + vega-lite + vega-embed as one script, from the vl-convert-python wheel (cached per version)."""
    import vl_convert

    version = "-".join((vl_convert.get_vega_version(), vl_convert.get_vega_embed_version()))
    cached = project.state / "vega" / f"bundle-{version}.js"
    if cached.is_file():
        return cached.read_text(encoding="utf-8")
    text = vl_convert.javascript_bundle()  # type: ignore[call-arg]  # snippet=None is its default
    from henryvc.atomic import write_text_atomic

    cached.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(cached, text)
    return text


def report(project: Project, names: list[str], blind: bool = False, out: Path | None = None,
           now: datetime | None = None) -> ReportResult:
    """`henryvc report NAME [NAME...] [--blind] [--out DIR]`: write the page, return where it is."""
    from henryvc import report_page, review

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
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        media, count = _copy_media(runs, staging)
        html = report_page.render(runs, _metric_rows(runs), loss_specs(runs), media, vega_bundle(project),
                                  blind=blind, page_id=page_id)
        (staging / "index.html").write_text(html, encoding="utf-8")
        key_path = None
        if blind:
            key = json.dumps({"format": review.KEY_FORMAT, "page": page_id,
                              "runs": {r.label: r.name for r in runs}}, indent=2, sort_keys=True) + "\n"
            (staging / review.KEY_FILE).write_text(key, encoding="utf-8")
            copy = review.keys_dir(project) / f"{page_id}.json"
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(key, encoding="utf-8")
            key_path = str(target / review.KEY_FILE)
        if target.exists():
            target.rmdir()
        staging.rename(target)  # the page appears whole or not at all
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ReportResult(str(target / "index.html"), blind, names, {r.label: r.name for r in runs}, count, key_path,
                        {r.name: r.source for r in runs})
