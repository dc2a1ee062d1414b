"""The verdict on a run: its metrics judged against the success criteria of params.yaml.

Two kinds of checks: the seed's loss criteria ("value < threshold"), and what a listener would notice,
judged per synthesized utterance (the short text, the config's test sentences, the held-out eval clips):
a duration plausible for the text, a decoder that stops by itself, attention that is focused and walks
the text diagonally, and (optional) intelligibility next to the real recordings. A failed check names
the utterance, by how much it failed and the team's troubleshooting step with the run's current value.

The team's troubleshooting steps are here too, keyed by the check that failed, with the run's current
setting: a failed criterion names the step to take and the value the run used, e.g. "raise `ga_alpha`
(guided attention weight; now 5.0)".

Plain data in, plain data out (no torch): the evaluate stage, `henryvc show` and the tests share it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from henryvc.core.numbers import parse_float
from henryvc.errors import BadInput

VERDICTS = ("success", "failed", "incomplete")
# metric name in metrics.json -> threshold name in params.yaml `criteria`; every one is "value < threshold".
CRITERIA = (
    ("total_loss", "max_total_loss"),
    ("align_error", "max_align_error"),
    ("stopnet_loss", "max_stopnet_loss"),
    ("short_text_seconds", "max_short_text_seconds"),
)


# The team's troubleshooting steps
@dataclass(frozen=True)
class Step:
    """One troubleshooting step: the symptom, the config key to change and how."""

    symptom: str
    key: str
    action: str  # a phrase with {key} and {now}

    def advice(self, config: dict[str, Any] | None) -> str:
        """The step in words with the run's current value of its key (from the run's config.json)."""
        now = "not set" if not config or config.get(self.key) is None else repr(config[self.key])
        return self.action.format(key=f"`{self.key}`", now=now)


ALIGNMENT = Step("attention does not align (high alignment error, unfocused or non-diagonal attention)",
                 "ga_alpha", "raise {key} (guided attention loss weight; now {now})")
STOPNET = Step("the stop token is not learned (high stopnet loss, decoder runs to its cap or stops early)",
               "stopnet_pos_weight", "raise {key} (weight of the rare 'stop' frames; now {now})")
NAN = Step("NaN or infinite losses", "decoder_ssim_alpha", "set {key}: 0.0 (and `postnet_ssim_alpha`; now {now})")
LOSS = Step("total loss still high", "epochs", "train longer: more {key} or a continued run (now {now})")
VOICE = Step("it does not sound like Henry (low speaker similarity to his reference clips)", "epochs",
             "train longer on Henry's clips only: more {key} or a continued run (now {now}); check voice_data holds "
             "no other speaker")

# check (a criterion's metric, or a per-utterance check) -> its troubleshooting step
BY_CHECK: dict[str, Step] = {
    "total_loss": LOSS,
    "align_error": ALIGNMENT,
    "attention_focus": ALIGNMENT,
    "attention_diagonality": ALIGNMENT,
    "asr_wer_gap": ALIGNMENT,  # unintelligible speech from a trained decoder is nearly always bad attention
    "stopnet_loss": STOPNET,
    "decoder_stop": STOPNET,
    "duration": STOPNET,
    "short_text_seconds": STOPNET,
    "nan": NAN,
    "speaker_similarity": VOICE,
}


def troubleshooting_step(check: str, config: dict[str, Any] | None) -> str | None:
    """The troubleshooting step for CHECK in words, with CONFIG's current value; None if there is none."""
    step = BY_CHECK.get(check)
    return step.advice(config) if step else None


def troubleshooting_table() -> list[tuple[str, str, str]]:
    """(symptom, key, step) for each distinct step: the troubleshooting table docs/quality.md shows."""
    seen: list[Step] = []
    for step in BY_CHECK.values():
        if step not in seen:
            seen.append(step)
    return [(s.symptom, s.key, s.action.format(key=f"`{s.key}`", now="the run's value")) for s in seen]


# What a listener would notice: aggregate metric (worst utterance) -> params.yaml `criteria` name, the
# comparison that passes, the value used when an older params.yaml lacks it, and its troubleshooting check.
LISTENER = (
    ("chars_per_second_min", "min_chars_per_second", ">=", 5.0, "duration"),
    ("chars_per_second_max", "max_chars_per_second", "<=", 25.0, "duration"),
    ("decoder_runaways", None, "<=", 0.0, "decoder_stop"),
    ("attention_focus_min", "min_attention_focus", ">=", 0.3, "attention_focus"),
    ("attention_diagonality_min", "min_attention_diagonality", ">=", 0.5, "attention_diagonality"),
)
# The gate's voice criteria: judged only when the run's criteria set a number (null or absent: reported, not
# judged, and the verdict says so). The stable, experimental and production templates set them in their
# config's `criteria`; the debug template sets them null (a tiny CPU run never sounds like Henry).
OPTIONAL = (("asr_wer_gap", "max_asr_wer_gap", "<=", "asr_wer_gap"),
            ("speaker_similarity", "min_speaker_similarity", ">=", "speaker_similarity"))
OPTIONAL_LABELS = {"max_asr_wer_gap": "intelligibility", "min_speaker_similarity": "speaker similarity"}
# What each failed check means to a listener: one problem, however many utterances it hit.
PROBLEMS = {
    "truncated": "too fast for its text: cut off (the stop token fires early)",
    "runaway": "too slow for its text: the decoder runs on",
    "decoder_stop": "the decoder never stopped by itself (ran to max_decoder_steps)",
    "attention_focus": "the attention is spread over the text (unfocused)",
    "attention_diagonality": "the attention does not walk the text from start to end",
}
_PASSES = {"<": lambda v, t: v < t, "<=": lambda v, t: v <= t, ">=": lambda v, t: v >= t}
_WORDS = {"<": "is not below", "<=": "is above", ">=": "is below"}


@dataclass
class CriterionResult:
    """One criterion: the measured value, its threshold, whether `value OP threshold` (None: not measured)."""

    metric: str
    value: float | None
    threshold: float
    passed: bool | None
    op: str = "<"


@dataclass
class Verdict:
    """success | failed | incomplete, with the per-criterion results and the reasons in words."""

    status: str
    criteria: list[CriterionResult] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)  # the troubleshooting steps of the failed checks
    # each distinct problem once: {"check", "problem", "fix", "utterances": [keys], "lines": [reason lines]}
    problems: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was not judged, and why

    def to_dict(self) -> dict[str, Any]:
        """JSON form (NaN values become the string "nan", which JSON can carry)."""
        data = asdict(self)
        for item in data["criteria"]:
            if isinstance(item["value"], float) and not math.isfinite(item["value"]):
                item["value"] = str(item["value"])
        return data


def thresholds(criteria: dict[str, Any]) -> dict[str, float]:
    """The thresholds of CRITERIA (params.yaml `criteria`); BadInput naming any missing or non-numeric one."""
    found, bad = {}, []
    for _metric, name in CRITERIA:
        value = parse_float(criteria.get(name))
        if value is None or not math.isfinite(value):
            bad.append(name)
        else:
            found[name] = value
    if bad:
        raise BadInput(f"params.yaml criteria lacks a numeric {', '.join(bad)}")
    return found


def listener_thresholds(criteria: dict[str, Any]) -> dict[str, float]:
    """The listener checks' thresholds from CRITERIA, defaults for those an older params.yaml lacks."""
    found = {}
    for _metric, name, _op, default, _check in LISTENER:
        if name is None:
            continue
        value = parse_float(criteria.get(name, default))
        if value is None or not math.isfinite(value):
            raise BadInput(f"params.yaml criteria.{name} must be a number, got {criteria.get(name)!r}")
        found[name] = value
    for _metric, name, _op, _check in OPTIONAL:
        if criteria.get(name) is not None:
            value = parse_float(criteria.get(name))
            if value is None or not math.isfinite(value):
                raise BadInput(f"params.yaml criteria.{name} must be a number or null, got {criteria.get(name)!r}")
            found[name] = value
    return found


def run_criteria(criteria: dict[str, Any], config: dict[str, Any] | None) -> dict[str, Any]:
    """params.yaml CRITERIA with the run's own config.json `criteria` (its template's defaults) over them."""
    own = (config or {}).get("criteria")
    return {**criteria, **own} if isinstance(own, dict) else dict(criteria)


def not_judged(criteria: dict[str, Any], config: dict[str, Any] | None) -> list[str]:
    """A line per voice criterion that is off (null or absent), saying where it was turned off."""
    own = (config or {}).get("criteria")
    lines = []
    for _metric, name, _op, _check in OPTIONAL:
        if criteria.get(name) is not None:
            continue
        if isinstance(own, dict) and name in own:
            where = f"the run's config.json criteria set it null ({(config or {}).get('variant') or 'its'} template)"
        else:
            where = "params.yaml criteria leave it null"
        lines.append(f"not judged: {OPTIONAL_LABELS[name]} (criteria.{name}): {where}; measured and reported only")
    return lines


def by_fix(problems: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """PROBLEMS grouped under their fix, each fix once, in the order they first appear ("" = no fix known)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for problem in problems:
        groups.setdefault(problem.get("fix") or "", []).append(problem)
    return list(groups.items())


def problem_line(problem: dict[str, Any]) -> str:
    """One problem in words, with the utterances it hit: `<problem> (3 utterances: a, b, c)`."""
    hit = problem.get("utterances") or []
    if not hit:
        return str(problem["problem"])
    return f"{problem['problem']} ({len(hit)} utterance{'s' if len(hit) > 1 else ''}: {', '.join(hit)})"


def summary_lines(verdict: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) of a recorded verdict for `henryvc show`: each problem once with the utterances it hit,
    under its fix ("try"), then what was not judged; a record older than problems: its reasons and advice."""
    problems = verdict.get("problems")
    if not problems:
        lines = [("verdict", str(r)) for r in verdict.get("reasons") or []]
        lines += [("try", str(a)) for a in verdict.get("advice") or []]
    else:
        lines = [("verdict", str(r)) for r in verdict.get("reasons") or [] if verdict.get("status") != "failed"]
        for fix, group in by_fix(problems):
            lines += [("verdict", problem_line(p)) for p in group]
            if fix:
                lines.append(("try", fix))
    return lines + [("note", str(n)) for n in verdict.get("notes") or []]


def listener_metrics(utterances: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The worst utterance per listener check (what metrics.json carries; None where nothing was measured)."""
    if not utterances:
        return {}
    rates = [u["chars_per_second"] for u in utterances.values() if parse_float(u.get("chars_per_second")) is not None]
    return {
        "utterances_checked": len(utterances),
        "chars_per_second_min": min(rates) if rates else None,
        "chars_per_second_max": max(rates) if rates else None,
        "decoder_runaways": sum(1 for u in utterances.values() if not u.get("stopped_by_itself")),
        "attention_focus_min": min(u["attention_focus"] for u in utterances.values()),
        "attention_diagonality_min": min(u["attention_diagonality"] for u in utterances.values()),
    }


def _utterance_reasons(key: str, u: dict[str, Any], limits: dict[str, float]) -> list[tuple[str, str]]:
    """(check, line) for each listener check utterance U fails, saying by how much (the problem's kind:
    PROBLEMS' key, is the check, or "truncated"/"runaway" for the duration, at the line's end)."""
    said = f"{key} {u.get('text', '')!r}"
    out = []
    seconds, chars = parse_float(u.get("seconds")) or 0.0, int(u.get("characters") or 0)
    shortest = chars / limits["max_chars_per_second"]
    longest = chars / limits["min_chars_per_second"]
    rate = f"{chars / seconds:.1f}" if seconds > 0 else "inf"
    if seconds < shortest:
        out.append(("duration", f"duration: {said} lasts {seconds:.2f} s for {chars} letters ({rate}/s, over "
                                f"{limits['max_chars_per_second']:g}/s): {shortest - seconds:.2f} s short of the "
                                f"shortest plausible {shortest:.2f} s (truncated)"))
    elif seconds > longest:
        out.append(("duration", f"duration: {said} lasts {seconds:.2f} s for {chars} letters ({rate}/s, under "
                                f"{limits['min_chars_per_second']:g}/s): {seconds - longest:.2f} s over the "
                                f"longest plausible {longest:.2f} s (runaway)"))
    if not u.get("stopped_by_itself"):
        out.append(("decoder_stop", f"decoder stop: {said} ran to max_decoder_steps {u.get('max_decoder_steps')} "
                                    f"without its stop token firing (last stop probability "
                                    f"{parse_float(u.get('stop_probability')) or 0:.2f}, needs > "
                                    f"{parse_float(u.get('stop_threshold')) or 0.5:g})"))
    for check, name, what in (("attention_focus", "min_attention_focus", "the attention is spread over the text"),
                              ("attention_diagonality", "min_attention_diagonality",
                               "the attention does not walk the text from start to end")):
        value = parse_float(u.get(check))
        if value is not None and value < limits[name]:
            out.append((check, f"{check.replace('_', ' ')}: {said} {value:.3f} is {limits[name] - value:.3f} below "
                               f"{limits[name]:g} ({what})"))
    return out


def judge(metrics: dict[str, Any], criteria: dict[str, Any], config: dict[str, Any] | None = None,
          utterances: dict[str, dict[str, Any]] | None = None) -> Verdict:
    """Judge METRICS (metrics.json) and UTTERANCES (per synthesized text) against CRITERIA (params.yaml).

    CONFIG (the run's config.json) supplies the current values the troubleshooting advice names.
    NaN/inf in any loss -> failed; training not finished or a metric not measured -> incomplete;
    otherwise success when every check passes, else failed.
    """
    criteria = run_criteria(criteria, config)
    limits = thresholds(criteria)
    listener = listener_thresholds(criteria)
    notes = not_judged(criteria, config)
    results: list[CriterionResult] = []
    failed: list[tuple[str, str]] = []  # (check, line)
    nan_metrics, missing = [], []
    metrics = {**metrics, **listener_metrics(utterances or {})}
    checks: list[tuple[str, str | None, str, float, str]] = [(m, n, "<", limits[n], m) for m, n in CRITERIA]
    checks += [(m, n, op, listener[n] if n else default, check) for m, n, op, default, check in LISTENER]
    checks += [(m, n, op, listener[n], check) for m, n, op, check in OPTIONAL if n in listener]
    for metric, _name, op, threshold, check in checks:
        value = parse_float(metrics.get(metric))
        if value is None:
            missing.append(metric)
            results.append(CriterionResult(metric, None, threshold, None, op))
            continue
        if not math.isfinite(value):
            nan_metrics.append(metric)
            results.append(CriterionResult(metric, value, threshold, False, op))
            continue
        passed = _PASSES[op](value, threshold)
        results.append(CriterionResult(metric, value, threshold, passed, op))
        if passed:
            continue
        if check == "asr_wer_gap":
            failed.append((check, f"intelligibility: the recognizer's WER on the synthesis is {value:.3f} above "
                                  f"its WER on the real recordings of the same texts ({threshold:g} allowed)"))
        elif check == "speaker_similarity":
            failed.append((check, f"speaker similarity: the synthesis sounds like Henry's reference clips "
                                  f"{value:.3f} on average, {threshold - value:.3f} below {threshold:g} "
                                  f"(his own held-out recordings: {_shown(metrics.get('speaker_similarity_reference'))})"))
        elif (metric, _name) in CRITERIA or not utterances:  # listener checks: per utterance below
            failed.append((check, f"{metric} {value:.4g} {_WORDS[op]} {threshold:g}"))
    hits: list[tuple[str, str, str]] = [(check, "", line) for check, line in failed]  # (check, utterance, line)
    for key, u in (utterances or {}).items():
        hits += [(check, key, line) for check, line in _utterance_reasons(key, u, listener)]
    if metrics.get("has_nan") or nan_metrics:
        where = ", ".join(nan_metrics) or ", ".join(metrics.get("nan_losses") or []) or "a loss"
        hits.insert(0, ("nan", "", f"NaN or infinite value in {where}"))
        return _verdict("failed", results, hits, config, notes)
    if not metrics.get("training_finished", False):
        return Verdict("incomplete", results, ["training did not finish all its epochs"], notes=notes)
    if missing:
        return Verdict("incomplete", results, [f"not measured: {', '.join(missing)}"], notes=notes)
    if hits:
        return _verdict("failed", results, hits, config, notes)
    return Verdict("success", results, ["every criterion met"], notes=notes)


def _shown(value: Any) -> str:
    number = parse_float(value)
    return "not measured" if number is None else f"{number:.3f}"


def _kind(check: str, line: str) -> str:
    if check == "duration":
        return "runaway" if line.endswith("(runaway)") else "truncated"
    return check


def _verdict(status: str, results: list[CriterionResult], hits: list[tuple[str, str, str]],
             config: dict[str, Any] | None, notes: list[str]) -> Verdict:
    """A verdict whose reason lines each end with the troubleshooting step of their check, and whose problems
    name each distinct problem once with its fix and the utterances it hit."""
    reasons, advice = [], []
    problems: dict[str, dict[str, Any]] = {}
    for check, key, line in hits:
        step = troubleshooting_step(check, config)
        reasons.append(f"{line}; fix: {step}" if step else line)
        if step and step not in advice:
            advice.append(step)
        kind = _kind(check, line) if key else line
        problem = problems.setdefault(kind, {"check": check, "problem": PROBLEMS.get(kind, line) if key else line,
                                             "fix": step or "", "utterances": [], "lines": []})
        if key and key not in problem["utterances"]:
            problem["utterances"].append(key)
        problem["lines"].append(line)
    return Verdict(status, results, reasons, advice, list(problems.values()), notes)
