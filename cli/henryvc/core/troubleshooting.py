"""The team's troubleshooting steps, keyed by the check that failed, with the run's current setting.

A failed criterion names the step to take and the value the run used, e.g.
"raise `ga_alpha` (guided attention weight; now 5.0)". Plain data, no imports beyond the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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


def advice(check: str, config: dict[str, Any] | None) -> str | None:
    """The troubleshooting step for CHECK in words, with CONFIG's current value; None if there is none."""
    step = BY_CHECK.get(check)
    return step.advice(config) if step else None


def table() -> list[tuple[str, str, str]]:
    """(symptom, key, step) for each distinct step: the troubleshooting table docs/quality.md shows."""
    seen: list[Step] = []
    for step in BY_CHECK.values():
        if step not in seen:
            seen.append(step)
    return [(s.symptom, s.key, s.action.format(key=f"`{s.key}`", now="the run's value")) for s in seen]
