"""`henryvc report` on real git + DVC (tagged runs restored, hashes checked), and the page in a real browser
(Debian's chromium, headless, driven by selenium): no console errors, every <audio> loads media with a
nonzero duration, the loss plots render marks, blind mode hides the names and its ratings file goes back
through `henryvc review --from`."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from henryvc.ops import report, review
from tests.helpers.browser import audio_states, browser, plot_marks
from tests.helpers.cli import run_cli
from tests.helpers.report import RUN_CLIPS, load_all_audio, two_tagged_runs


def _wait_for(path, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    return path.exists()


@contextlib.contextmanager
def static_server(folder):
    """FOLDER served over HTTP on a free localhost port by Python's own static file server; its base URL."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _row_keys(driver) -> list:
    return [tr.get_attribute("data-key") for tr in driver.find_elements("css selector", "#listen tbody tr")]


@pytest.mark.browser
def test_listening_page_in_a_real_browser(project, tmp_path):
    a, b = two_tagged_runs(project)
    shutil.rmtree(project.run_dir(a) / "checkpoints")  # its audio must come back from DVC, checked
    page_dir = tmp_path / "page"
    result = run_cli(project.root, "report", a, b, "--out", str(page_dir), "--json")
    assert result.exit_code == 0, result.output
    made = json.loads(result.output)
    assert made["audio_files"] == 2 * RUN_CLIPS + 1  # every clip of both runs, and Henry's recording of clip1
    assert all("restored from its tag" in source for source in made["sources"].values())
    # Legends: the shortest names that tell the runs apart (the run names differ only in their time).
    legend_a, legend_b = report.legends([a, b])
    assert made["labels"] == {a: legend_a, b: legend_b} and legend_a == a.rsplit("_", 1)[1] != legend_b
    html = (page_dir / "index.html").read_text()
    assert "<script src" not in html and "<link rel=\"stylesheet\"" not in html  # inlined: nothing fetched
    assert html.index("<h2>Listen</h2>") < html.index("<h2>Verdicts</h2>") < html.index("<h2>Metrics</h2>") \
        < html.index("<h2>Loss curves</h2>")  # the audio first
    assert f'"rev": "{legend_a}"' in html and f'"rev": "{a}"' not in html

    from selenium.webdriver.support.ui import Select

    driver = browser(tmp_path / "downloads")
    try:
        driver.get((page_dir / "index.html").as_uri())
        assert _row_keys(driver) == ["short_text", "sentence_0", "sentence_1", "eval_clip1"]  # one row each
        assert driver.execute_script("return Array.from(document.querySelectorAll('audio')).filter("
                                     "a => a.readyState > 0).length") == 0  # nothing loads before a click
        audio = load_all_audio(driver)  # every clip the page points at is there and plays
        assert len(audio) == 2 * 4 + 1 and all(s[0] >= 1 and s[1] > 0 and s[2] is None for s in audio), audio
        henry = driver.find_elements("css selector", "#listen td.henry audio")
        assert [h.get_attribute("src").endswith("media/henry/eval_clip1.wav") for h in henry] == [True]
        assert plot_marks(driver) and all(plot_marks(driver)), "a loss plot drew no marks"
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
        cell = driver.find_element("css selector", f"tr[data-key='sentence_1'] td.clip[data-label='{b}']")
        assert cell.find_element("css selector", ".scores").text == ("WER 0.410 · 0.500 s · similarity 0.790 · MCD 6.00 dB")
        # Clicking play on a cell plays that run's clip (the media element's own state says so).
        player = cell.find_element("tag name", "audio")
        cell.find_element("css selector", "button.play").click()
        deadline = time.monotonic() + 10
        while driver.execute_script("return arguments[0].paused", player) and time.monotonic() < deadline:
            time.sleep(0.1)
        state = driver.execute_script("return [arguments[0].paused, arguments[0].currentSrc, "
                                      "document.querySelectorAll('audio:not([paused])').length]", player)
        assert state[0] is False and state[1].endswith(f"media/{b}/final/sentence_1.wav"), state
        others = driver.execute_script("return Array.from(document.querySelectorAll('audio')).filter("
                                       "x => !x.paused).length")
        assert others == 1
        # The evaluation selector switches every cell's source (and its scores) to that evaluation.
        Select(driver.find_element("id", "evaluation")).select_by_visible_text("epoch 25 (step 100)")
        sources = driver.execute_script("return Array.from(document.querySelectorAll('#listen td.clip audio'))"
                                        ".map(x => x.getAttribute('src'))")
        assert sources.count(None) == 2  # the short text is said by the final model only
        assert sorted(s for s in sources if s) == sorted(f"media/{r}/epoch_25/{k}.wav" for r in (a, b)
                                                         for k in ("sentence_0", "sentence_1", "eval_clip1"))
        assert cell.find_element("css selector", ".scores").text == ("WER 0.410 · 0.500 s · similarity 0.715 · MCD 6.00 dB")
        assert all(s[1] > 0 for s in load_all_audio(driver))
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
        # Sortable: by run B's speaker similarity (lowest first), then back to the utterance order.
        Select(driver.find_element("id", "sort")).select_by_visible_text(f"speaker similarity: {legend_b}")
        assert _row_keys(driver) == ["eval_clip1", "sentence_1", "sentence_0", "short_text"]  # epoch 25: no short text
        Select(driver.find_element("id", "sort")).select_by_visible_text("utterance order")
        assert _row_keys(driver) == ["short_text", "sentence_0", "sentence_1", "eval_clip1"]
        # The same folder from a plain static server works the same.
        with static_server(page_dir) as url:
            driver.get(url + "index.html")
            assert _row_keys(driver) == ["short_text", "sentence_0", "sentence_1", "eval_clip1"]
            served = load_all_audio(driver)
            assert len(served) == 2 * 4 + 1 and all(s[0] >= 1 and s[1] > 0 and s[2] is None for s in served)
            assert plot_marks(driver) and [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
        if os.environ.get("HENRYVC_REPORT_SCREENSHOT"):  # how docs/report.png is made
            driver.save_screenshot(os.environ["HENRYVC_REPORT_SCREENSHOT"])
    finally:
        driver.quit()


# Words (whole, any case) and fragments that would tell a listener which run a clip is, or how it scored.
BLIND_WORDS = ("WER", "CER", "similarity", "MCD", "F0", "loss", "losses", "verdict", "success", "failed", "approve",
               "reject", "incomplete", "epoch", "step", "seed", "metric", "metrics", "alignment", "plot")
BLIND_FRAGMENTS = ("sentence_", "eval_", "short_text", ".png", "vega", "henry_v")


@pytest.mark.browser
def test_blind_page_is_blind_and_its_ratings_come_back(project, tmp_path):
    a, b = two_tagged_runs(project)
    blind_dir = tmp_path / "blind"
    result = run_cli(project.root, "report", a, b, "--blind", "--out", str(blind_dir), "--json")
    assert result.exit_code == 0, result.output
    made = json.loads(result.output)
    assert made["labels"] == {} and made["audio_files"] == 2 * 4
    key_path = project.state / "blind-keys" / f"{json.loads(Path(made['key']).read_text())['page']}.json"
    assert Path(made["key"]) == key_path  # the key stays in the project ...
    assert not [p for p in blind_dir.rglob("*") if p.suffix == ".json"]  # ... and never beside the page
    files = sorted(p.relative_to(blind_dir).as_posix() for p in blind_dir.rglob("*") if p.is_file())
    assert len(files) == 9 and all(re.fullmatch(r"media/[0-9a-f]{16}\.wav", f) for f in files if f != "index.html")
    key = json.loads(key_path.read_text())
    assert set(key["runs"]) == {a, b} and len(key["rows"]) == 4
    assert all(sorted(row["clips"]) == ["A", "B"] and set(row["clips"].values()) == {a, b}
               for row in key["rows"].values())

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    from selenium.webdriver.support.ui import Select

    driver = browser(downloads)
    try:
        driver.get((blind_dir / "index.html").as_uri())
        dom = driver.page_source
        for giveaway in (a, b, *legends_of(a, b), *BLIND_FRAGMENTS):
            assert giveaway not in dom, giveaway
        for word in BLIND_WORDS:
            assert not re.search(rf"\b{word}\b", dom, re.IGNORECASE), word
        assert driver.find_elements("css selector", "img, svg, .plot") == []
        audio = audio_states(driver)
        assert len(audio) == 8 and all(s[0] >= 1 and s[1] > 0 and s[2] is None for s in audio), audio
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
        # The listener rates run a's clip 5 and b's 2 wherever they sit in the row, and prefers a's in all but
        # the last row (for which no preference is given).
        rows = driver.find_elements("css selector", "tr.row")
        for number, tr in enumerate(rows):
            clips = key["rows"][tr.get_attribute("data-row")]["clips"]
            for td in tr.find_elements("css selector", "td.clip"):
                Select(td.find_element("tag name", "select")).select_by_value("5" if clips[td.get_attribute(
                    "data-label")] == a else "2")
            if number < len(rows) - 1:
                label_a = next(label for label, run in clips.items() if run == a)
                tr.find_element("css selector", f"input[value='{label_a}']").click()
        driver.find_element("id", "reviewer").send_keys("Blind Listener")
        driver.find_element("id", "notes").send_keys("clear and warm")
        driver.find_element("id", "download-ratings").click()
        target = downloads / f"ratings-{key['page']}.json"
        assert _wait_for(target), "the page produced no ratings file"
    finally:
        driver.quit()
    ratings = json.loads(target.read_text())
    assert ratings["format"] == review.RATINGS_FORMAT_ROWS and len(ratings["rows"]) == 4

    result = run_cli(project.root, "review", "--from", str(target))  # the key is found in the project
    assert result.exit_code == 0, result.output
    shown = {name: json.loads(run_cli(project.root, "show", name, "--json").output)["reviews"] for name in (a, b)}
    [good], [bad] = shown[a], shown[b]
    assert (good["verdict"], good["rating"], bad["verdict"], bad["rating"]) == ("approve", 5, "reject", 2)
    assert good["reviewer"] == "Blind Listener" and good["source"] == f"blind report {key['page']}"
    assert good["notes"] == (f"blind page {key['page']}: 4 clip(s) rated, mean 5.00; preferred in 3 of 3 row(s) "
                             "with a preference. clear and warm")
    last = key["rows"][sorted(key["rows"])[-1]]["utterance"]
    assert good["utterances"][last] == {"rating": 5, "preferred": False}
    assert sum(u["preferred"] for u in good["utterances"].values()) == 3
    assert not any(u["preferred"] for u in bad["utterances"].values())

    # Elsewhere (no key in that project) the file is refused, nothing recorded.
    key_path.rename(tmp_path / "key.json")
    refused = run_cli(project.root, "review", "--from", str(target))
    assert refused.exit_code == 2 and "no key for blind page" in refused.output


def legends_of(a: str, b: str) -> list:
    return report.legends([a, b])


def test_report_bad_input(project, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    for args in (["report", "not-a-run"], ["report", "henry_v2_debug_20990101_000000"],
                 ["report", "henry_v2_debug_20990101_000000", "--out", str(busy)]):
        result = run_cli(project.root, *args)
        assert result.exit_code == 2, (args, result.output)
    assert list(busy.iterdir()) == [busy / "x"]


def test_report_of_an_untagged_run_reads_its_folder(project, tmp_path):
    from tests.helpers.project import trained_run
    from tests.helpers.report import audio_project

    audio_project(project)
    name = trained_run(project, seed=3)
    result = run_cli(project.root, "report", name, "--out", str(tmp_path / "page"), "--json")
    assert result.exit_code == 0, result.output
    made = json.loads(result.output)
    assert made["sources"][name].startswith("run folder") and made["audio_files"] == RUN_CLIPS + 1
    assert sorted(p.name for p in (tmp_path / "page" / "media" / name / "epoch_25").glob("*.wav")) == [
        "eval_clip1.wav", "sentence_0.wav", "sentence_1.wav"]
