"""Config templates configs/henry_voice_v{MAJOR}_{VARIANT}.json: validation, lint and per-run rendering."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from henryvc.core import runname
from henryvc.core.numbers import as_float
from henryvc.core.runfolder import RUNS_DIR
from henryvc.errors import BadInput

RUN_PLACEHOLDER = "{RUN_NAME}"
TEMPLATE_FILE = re.compile(r"\Ahenry_voice_v(?P<major>[0-9]+)_(?P<variant>[a-z]+)\.json\Z")
REQUIRED: dict[str, type] = {
    "model": str,
    "run_name": str,
    "run_description": str,
    "version": str,
    "variant": str,
    "output_path": str,
}
VERSION = re.compile(r"\A(?P<major>0|[1-9][0-9]{0,2})(\.[0-9]+){0,2}\Z")
MAX_CONFIG_BYTES = 4 * 1024 * 1024  # a Tacotron2 config is ~10 KB; anything this big is not one
# Sensible ranges, from Coqui's defaults (stopnet_pos_weight 0.2 .. 15 in its recipes, ga_alpha 5.0).
RANGES: dict[str, tuple[float, float, str]] = {
    "stopnet_pos_weight": (0.1, 20.0, "Coqui's recipes use 0.2 to 15; 10.0 is a common choice"),
    "ga_alpha": (0.0, 50.0, "Coqui's default is 5.0; 0 disables guided attention"),
}
# Losses Tacotron2 logs in every step (TacotronLoss + the model's align_error).
ALWAYS_LOGGED = ("loss", "decoder_loss", "postnet_loss", "stopnet_loss", "align_error")
CONDITIONAL_LOSSES = {
    "ga_loss": "ga_alpha",
    "decoder_diff_spec_loss": "decoder_diff_spec_alpha",
    "postnet_diff_spec_loss": "postnet_diff_spec_alpha",
    "decoder_ssim_loss": "decoder_ssim_alpha",
    "postnet_ssim_loss": "postnet_ssim_alpha",
}


@dataclass(frozen=True)
class Finding:
    """One problem in one config file: where, what and how to fix it."""

    file: str
    field: str
    problem: str
    fix: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.problem} (fix: {self.fix})"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def read_json(path: Path) -> tuple[dict[str, Any] | None, list[Finding]]:
    """Parse PATH; a syntax error becomes a finding with line and column."""
    path = Path(path)
    name = str(path)
    try:
        if path.exists() and not path.is_file():  # a FIFO blocks, /dev/zero never ends: read regular files only
            return None, [Finding(name, "-", "is not a regular file", "point at a Tacotron2 config JSON file")]
        if path.stat().st_size > MAX_CONFIG_BYTES:
            return None, [Finding(name, "-", f"file is {path.stat().st_size} bytes, over the "
                                  f"{MAX_CONFIG_BYTES} byte limit for a config", "point at a Tacotron2 config JSON")]
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Finding(name, "-", "file does not exist", "check the path")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Finding(name, "-", f"cannot read: {exc}", "point at a readable UTF-8 JSON file")]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [Finding(name, "-", f"JSON syntax error at line {exc.lineno} column {exc.colno}: {exc.msg}",
                              "fix the JSON syntax there")]
    except RecursionError:
        return None, [Finding(name, "-", "JSON nested too deeply", "point at a Tacotron2 config JSON")]
    if not isinstance(data, dict):
        return None, [Finding(name, "-", f"top level is a JSON {type(data).__name__}, not an object",
                              "a config is one JSON object")]
    return data, []


def lint(data: dict[str, Any], name: str, file_name: str | None = None) -> list[Finding]:
    """Every finding for config DATA (named NAME in messages; FILE_NAME checked against its fields)."""
    findings = _required(data, name)
    findings += _naming(data, name, file_name)
    findings += _known_failures(data, name)
    return findings


def _required(data: dict[str, Any], name: str) -> list[Finding]:
    found = []
    for field, kind in REQUIRED.items():
        if field not in data:
            found.append(Finding(name, field, "required field is missing", f"add \"{field}\" ({kind.__name__})"))
        elif not isinstance(data[field], kind):
            found.append(Finding(name, field, f"must be a {kind.__name__}, got {type(data[field]).__name__}",
                                 f"make \"{field}\" a {kind.__name__}"))
    if isinstance(data.get("model"), str) and data["model"] != "tacotron2":
        found.append(Finding(name, "model", f"henryvc trains tacotron2, not {data['model']!r}",
                             "set \"model\": \"tacotron2\""))
    if isinstance(data.get("version"), str) and not VERSION.match(data["version"]):
        found.append(Finding(name, "version", f"{data['version']!r} is not MAJOR[.MINOR[.PATCH]]",
                             "use e.g. \"2.0\""))
    if isinstance(data.get("variant"), str) and data["variant"] not in runname.VARIANTS:
        found.append(Finding(name, "variant", f"{data['variant']!r} is not a variant",
                             f"use one of {', '.join(runname.VARIANTS)}"))
    return found


def _naming(data: dict[str, Any], name: str, file_name: str | None) -> list[Finding]:
    found = []
    run_name = data.get("run_name")
    if isinstance(run_name, str) and run_name != RUN_PLACEHOLDER and not runname.is_run_name(run_name):
        found.append(Finding(name, "run_name", f"{run_name[:60]!r} is neither {RUN_PLACEHOLDER} nor a run name",
                             f"use \"{RUN_PLACEHOLDER}\" in templates; henryvc new-run fills it"))
    output = data.get("output_path")
    if isinstance(output, str):
        parts = Path(output).parts
        if output.startswith("/") or ".." in parts or not parts or parts[0] != RUNS_DIR:
            found.append(Finding(name, "output_path", f"{output[:80]!r} is not inside {RUNS_DIR}/",
                                 f"use \"{RUNS_DIR}/{RUN_PLACEHOLDER}\""))
    match = TEMPLATE_FILE.match(file_name or "")
    if match:
        if isinstance(data.get("variant"), str) and data["variant"] != match["variant"]:
            found.append(Finding(name, "variant", f"says {data['variant']!r} but the file name says "
                                 f"{match['variant']!r}", "make the field and the file name agree"))
        version = data.get("version")
        parsed = VERSION.match(version) if isinstance(version, str) else None
        if parsed and int(parsed["major"]) != int(match["major"]):
            found.append(Finding(name, "version", f"major {parsed['major']} disagrees with the "
                                 f"file name's v{match['major']}", "make the field and the file name agree"))
    return found


def logged_losses(data: dict[str, Any]) -> set[str]:
    """Names of the losses Tacotron2 logs with this config (what target_loss may name)."""
    names = set(ALWAYS_LOGGED)
    names |= {loss for loss, alpha in CONDITIONAL_LOSSES.items() if as_float(data.get(alpha, 0.0)) not in (None, 0.0)}
    if data.get("bidirectional_decoder"):
        names |= {"decoder_b_loss", "decoder_c_loss"}
    if data.get("double_decoder_consistency"):
        names |= {"decoder_coarse_loss", "decoder_ddc_loss"}
    return names


def _known_failures(data: dict[str, Any], name: str) -> list[Finding]:
    found = []
    for field in ("decoder_ssim_alpha", "postnet_ssim_alpha"):
        value = data.get(field, 0.25)  # Coqui's default when absent
        if as_float(value) != 0.0:
            found.append(Finding(name, field, f"is {value!r}: the SSIM loss turns NaN on short or silent clips",
                                 f"set \"{field}\": 0.0"))
    target = data.get("target_loss")
    if target is not None and target not in logged_losses(data):
        found.append(Finding(name, "target_loss", f"{target!r} is not a loss Tacotron2 logs with this config "
                             f"(the Trainer then fails with KeyError 'avg_{target}')",
                             f"use one of {', '.join(sorted(logged_losses(data)))} or null"))
    if data.get("scheduler_after_epoch", True) is not False:
        found.append(Finding(name, "scheduler_after_epoch", "is true (or missing, which Coqui reads as true): with "
                             "coqui-tts-trainer 0.4 the LR scheduler then never steps and LR stays at its warm-up floor",
                             "set \"scheduler_after_epoch\": false"))
    found += _box_tuning(data, name)
    for field, (low, high, why) in RANGES.items():
        if field in data and not (as_float(data[field]) is not None and low <= data[field] <= high):
            found.append(Finding(name, field, f"{data[field]!r} is outside {low}..{high}", why))
    return found


def _box_tuning(data: dict[str, Any], name: str) -> list[Finding]:
    """Warnings for a config meant for the GPU box (every variant but debug) that would starve or NaN it."""
    found: list[Finding] = []
    if data.get("variant") == "debug" or not isinstance(data.get("variant"), str):
        return found
    if as_float(data.get("num_loader_workers", 0)) == 0:
        found.append(Finding(name, "num_loader_workers", "is 0 in a GPU config: the training process itself then "
                             "loads and featurizes every clip while the GPU waits",
                             "set \"num_loader_workers\": 4 (Coqui's Tacotron2 recipes use 4; see "
                             "benchmarks/bench_loader.py)", severity="warning"))
    if data.get("mixed_precision") is True and data.get("precision", "fp16") == "fp16":
        found.append(Finding(name, "precision", "fp16 mixed precision makes Coqui's Tacotron2 losses NaN "
                             "(coqui-ai/TTS#562 turned it off by default for that reason)",
                             "set \"precision\": \"bf16\" (Ampere or newer) or \"mixed_precision\": false",
                             severity="warning"))
    return found


def validate_file(path: Path) -> list[Finding]:
    """All findings for the config file at PATH."""
    data, findings = read_json(path)
    if data is None:
        return findings
    return lint(data, str(path), Path(path).name)


def template_path(root: Path, major: int, variant: str) -> Path:
    """Where the template for MAJOR/VARIANT lives in project ROOT."""
    return Path(root) / "configs" / f"henry_voice_v{major}_{variant}.json"


def load_template(path: Path, major: int, variant: str) -> dict[str, Any]:
    """Read and validate a template for a new MAJOR/VARIANT run; any error is BadInput (nothing written)."""
    data, findings = read_json(path)
    if data is not None:
        findings = [f for f in lint(data, str(path), Path(path).name) if f.severity == "error"]
        if not findings:  # _agrees reads version and variant, so only once lint found them well-typed
            findings += _agrees(data, str(path), major, variant)
    if findings:
        more = f" (and {len(findings) - 1} more; run `henryvc validate {path}`)" if len(findings) > 1 else ""
        raise BadInput(f"{findings[0]}{more}")
    assert data is not None  # read_json returns a finding whenever it returns no data
    return data


def _agrees(data: dict[str, Any], name: str, major: int, variant: str) -> list[Finding]:
    found = []
    if data.get("variant") != variant:
        found.append(Finding(name, "variant", f"is {data.get('variant')!r} but the run is {variant!r}",
                             f"use configs/henry_voice_v{major}_{variant}.json or pass --variant {data.get('variant')}"))
    version = VERSION.match(data["version"])
    assert version is not None  # only called once lint found the version well-formed
    if int(version["major"]) != major:
        found.append(Finding(name, "version", f"is {data['version']!r} but the run is v{major}",
                             "use a template of the same major version"))
    return found


def render(template: dict[str, Any], name: str, description: str | None) -> dict[str, Any]:
    """The run's own config: the template with run_name, output_path and description filled."""
    config: dict[str, Any] = json.loads(json.dumps(template))
    config["run_name"] = name
    config["output_path"] = template["output_path"].replace(RUN_PLACEHOLDER, name)
    if description:
        config["run_description"] = description
    return config


def dumps(config: dict[str, Any]) -> str:
    """The canonical text of a config file."""
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def digest(text: str) -> str:
    """The config hash recorded in the run record."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_overrides(pairs: tuple[str, ...] | list[str], schema: dict[str, Any]) -> dict[str, Any]:
    """`-S key=value` pairs (dotted keys, JSON values, a bare word is a string) checked against SCHEMA (a
    full config: every key a Coqui Tacotron2 config has); BadInput for an unknown key or a value of
    another type than the field's. Returns {dotted key: value}, as `dvc exp run -S` records them."""
    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadInput(f"-S {pair!r}: write key=value (for example -S lr=0.0005 or -S audio.fft_size=1024)")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        node: Any = schema
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise BadInput(f"-S {key}: the config has no field {key!r} (see the template in configs/)")
            node = node[part]
        if not _same_kind(node, value):
            raise BadInput(f"-S {key}={text}: the field holds {type(node).__name__} "
                           f"({json.dumps(node)[:40]}), not {type(value).__name__}")
        found[key] = value
    return found


def _same_kind(current: Any, value: Any) -> bool:
    if current is None or value is None:
        return True
    if isinstance(current, bool) or isinstance(value, bool):
        return isinstance(current, bool) and isinstance(value, bool)
    if isinstance(current, (int, float)):
        return isinstance(value, (int, float))
    return isinstance(value, type(current))


def apply_overrides(config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """CONFIG with OVERRIDES (from parse_overrides) set; a new dict."""
    result: dict[str, Any] = json.loads(json.dumps(config))
    for key, value in overrides.items():
        *parents, last = key.split(".")
        node = result
        for part in parents:
            node = node[part]
        node[last] = value
    return result
