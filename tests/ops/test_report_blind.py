"""henryvc.ops.report_blind on real wav files: the blind page's folder holds only the page and randomly named copies of
the clips, the key maps every label back (and henryvc review reads ratings with it), rows follow the utterance order
with a fresh order of runs each, and runs with nothing to compare are BadInput with nothing written. The page in a
real browser is tests/ops/test_report.py (browser tier)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from henryvc.errors import BadInput
from henryvc.ops import report_blind, review
from henryvc.ops.report_page import RunData
from tests.helpers.project import write_wav

A, B, C = "henry_v2_debug_20240101_000001", "henry_v2_debug_20240101_000002", "henry_v2_stable_20240101_000003"


def _run(tmp_path: Path, name: str, clips: dict[str, list[str]], freq: float) -> RunData:
    """A run whose evaluation E has a real wav per utterance in CLIPS[E]."""
    run = RunData(name=name, label=name, folder=tmp_path / name)
    for evaluation, keys in clips.items():
        for index, key in enumerate(keys):
            wav = tmp_path / name / evaluation / f"{key}.wav"
            write_wav(wav, seconds=0.05, freq=freq + 10 * index)
            run.clips.setdefault(evaluation, {})[key] = {"wav": wav, "text": f"words {len(key)} <b>", "scores": {"wer": 0.1}}
    return run


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_the_page_folder_gives_no_run_away_and_the_key_maps_every_clip_back(tmp_path):
    keys = ["sentence_1", "eval_clip1", "short_text", "sentence_0"]
    runs = [_run(tmp_path, A, {"final": keys}, 200), _run(tmp_path, B, {"final": keys}, 400)]
    out = tmp_path / "page"
    page, key, copied = report_blind.build(runs, out, "pg1")
    assert copied == 8
    media = sorted(out.rglob("*"))
    assert all(re.fullmatch(r"[0-9a-f]{16}\.wav", p.name) for p in media if p.is_file()) and len(
        [p for p in media if p.is_file()]) == 8
    for giveaway in (A, B, "sentence_", "eval_", "short_text"):
        assert giveaway not in page, giveaway
    for word in ("final", "WER", "scores?", "epoch"):
        assert not re.search(rf"\b{word}\b", page, re.IGNORECASE), word
    assert "words 10 &lt;b&gt;" in page and "<b>words" not in page  # the texts are shown, escaped
    assert key["format"] == review.KEY_FORMAT_ROWS and key["page"] == "pg1" and key["evaluation"] == "final"
    assert key["runs"] == [A, B]
    assert [key["rows"][f"r{i}"]["utterance"] for i in range(1, 5)] == ["short_text", "sentence_0", "sentence_1",
                                                                       "eval_clip1"]
    # Every clip's copy is the clip of the run the key names for its label, in the row of its utterance.
    by_run = {r.name: r for r in runs}
    for row_id, row in key["rows"].items():
        assert sorted(row["clips"]) == ["A", "B"] and set(row["clips"].values()) == {A, B}
        tr = re.search(rf"<tr class='row' data-row='{row_id}'>(.*?)</tr>", page).group(1)
        for label, src in re.findall(r"data-label='([A-Z])'><b>\1</b><audio controls preload='metadata' "
                                     r"src='(media/[0-9a-f]{16}\.wav)'", tr):
            source = by_run[row["clips"][label]].clips["final"][row["utterance"]]["wav"]
            assert _md5(out / src) == _md5(source)


def test_rows_get_a_fresh_order_of_runs(tmp_path):
    keys = [f"sentence_{i}" for i in range(30)]
    runs = [_run(tmp_path, A, {"final": keys}, 200), _run(tmp_path, B, {"final": keys}, 400)]
    _, key, _ = report_blind.build(runs, tmp_path / "page", "pg2")
    orders = {tuple(row["clips"][label] for label in ("A", "B")) for row in key["rows"].values()}
    assert orders == {(A, B), (B, A)}  # 30 rows all in one order would be a 1 in 2**29 chance
    assert [key["rows"][f"r{i + 1}"]["utterance"] for i in range(30)] == keys  # sentence_2 before sentence_10


def test_without_a_common_final_model_the_latest_common_epoch_is_compared(tmp_path):
    runs = [_run(tmp_path, A, {"final": ["sentence_0"], "epoch_25": ["sentence_0", "sentence_1"],
                               "epoch_100": ["sentence_0", "sentence_1"]}, 200),
            _run(tmp_path, B, {"epoch_25": ["sentence_0", "sentence_1"], "epoch_100": ["sentence_1", "eval_x"]}, 400),
            _run(tmp_path, C, {"epoch_25": ["sentence_1"], "epoch_100": ["sentence_1"], "epoch_9": ["sentence_1"]}, 600)]
    _, key, copied = report_blind.build(runs, tmp_path / "page", "pg3")
    assert key["evaluation"] == "epoch_100"  # by number, not by name (epoch_9 sorts after it as text)
    assert [row["utterance"] for row in key["rows"].values()] == ["sentence_1"]  # only what all three said
    assert copied == 3 and set(key["rows"]["r1"]["clips"]) == {"A", "B", "C"}


@pytest.mark.parametrize("make, says", [
    (lambda t: [_run(t, A, {"final": ["s"]}, 200), _run(t, B, {"epoch_5": ["s"]}, 300)], "share no evaluation"),
    (lambda t: [_run(t, A, {"final": ["sentence_0"]}, 200), _run(t, B, {"final": ["sentence_1"]}, 300)],
     "share no utterance at their final evaluation"),
    (lambda t: [_run(t, f"henry_v2_debug_20240101_0000{i:02d}", {"final": ["s"]}, 200) for i in range(27)],
     "at most 26 runs"),
])
def test_runs_with_nothing_to_compare_are_bad_input_and_nothing_is_written(tmp_path, make, says):
    runs = make(tmp_path)
    out = tmp_path / "page"
    with pytest.raises(BadInput, match=says) as raised:
        report_blind.build(runs, out, "pg4")
    assert raised.value.exit_code == 2 and not out.exists()


def test_utterance_order():
    found = sorted(["eval_clip1", "zebra", "sentence_10", "short_text", "sentence_2", "eval_clip0"],
                   key=report_blind.utterance_order)
    assert found == ["short_text", "sentence_2", "sentence_10", "eval_clip0", "eval_clip1", "zebra"]


def test_ratings_shaped_as_the_page_downloads_them_come_back_through_the_key(project, tmp_path):
    runs = [_run(tmp_path, A, {"final": ["sentence_0", "sentence_1"]}, 200),
            _run(tmp_path, B, {"final": ["sentence_0", "sentence_1"]}, 400)]
    page, key, _ = report_blind.build(runs, tmp_path / "page", "pg5")
    assert json.dumps(review.RATINGS_FORMAT_ROWS) in page and '"pg5"' in page  # what the page's script writes
    review.keys_dir(project).mkdir(parents=True)
    (review.keys_dir(project) / "pg5.json").write_text(json.dumps(key))
    # The listener gives A's clips 5 and B's 1, wherever each sits in its row.
    rows = {row_id: {"ratings": {label: 5 if run == A else 1 for label, run in row["clips"].items()},
                     "preference": next(label for label, run in row["clips"].items() if run == A)}
            for row_id, row in key["rows"].items()}
    ratings = tmp_path / "ratings-pg5.json"
    ratings.write_text(json.dumps({"format": review.RATINGS_FORMAT_ROWS, "page": "pg5", "reviewer": "L", "rows": rows}))
    pairs = dict(review.from_ratings(project, ratings))
    assert (pairs[A]["rating"], pairs[A]["verdict"], pairs[B]["rating"], pairs[B]["verdict"]) == (
        5, "approve", 1, "reject")
    assert all(u["preferred"] for u in pairs[A]["utterances"].values())
