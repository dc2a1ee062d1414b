"""`henryvc report` on real git + DVC (tagged runs restored, hashes checked), and the page in a real browser
(Debian's chromium, headless, driven by selenium): no console errors, every <audio> loads media with a
nonzero duration, the loss plots render marks, blind mode hides the names and its ratings file goes back
through `henryvc review --from`."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from henryvc import review
from tests.helpers.browser import audio_states, browser, plot_marks
from tests.helpers.report import SENTENCES, two_tagged_runs


@pytest.mark.browser
def test_report_page_and_blind_ratings_in_a_real_browser(project, invoke, tmp_path):
    a, b = two_tagged_runs(project, invoke)
    shutil.rmtree(project.run_dir(a) / "checkpoints")  # its audio must come back from DVC, checked
    page_dir = tmp_path / "page"
    result = invoke(["report", a, b, "--out", str(page_dir), "--json"], project.root)
    assert result.exit_code == 0, result.output
    made = json.loads(result.output)
    assert made["audio_files"] == 2 * (len(SENTENCES) * 2 + 1)  # 2 runs x (2 sentences x 2 epochs + final)
    assert all("restored from its tag" in source for source in made["sources"].values())
    html = (page_dir / "index.html").read_text()
    assert a in html and b in html
    assert "<script src" not in html and "<link rel=\"stylesheet\"" not in html  # scripts inlined: nothing fetched
    assert all(text in html for text in SENTENCES) and "epoch 25 (step 100)" in html

    blind_dir = tmp_path / "blind"
    result = invoke(["report", a, b, "--blind", "--out", str(blind_dir), "--json"], project.root)
    assert result.exit_code == 0, result.output
    blind = json.loads(result.output)
    blind_html = (blind_dir / "index.html").read_text()
    assert a not in blind_html and b not in blind_html and "seed 1" not in blind_html
    assert not [p for p in blind_dir.rglob("*") if a in p.name or b in p.name]
    key = json.loads((blind_dir / review.KEY_FILE).read_text())
    assert sorted(key["runs"].values()) == sorted([a, b]) and key["runs"] == blind["labels"]
    assert (project.state / "blind-keys" / f"{key['page']}.json").exists()

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = browser(downloads)
    try:
        for page in (page_dir, blind_dir):
            driver.get((page / "index.html").as_uri())
            audio = audio_states(driver)
            assert len(audio) == 10 and all(s[0] >= 1 and s[1] > 0 and s[2] is None for s in audio), audio
            assert plot_marks(driver) and all(plot_marks(driver)), "a loss plot drew no marks"
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert errors == []
        assert driver.find_element("tag name", "h1").text == "Blind comparison"
        body = driver.find_element("tag name", "body").text
        assert a not in body and b not in body
        for box in driver.find_elements("css selector", ".rating"):
            label = box.get_attribute("data-label")
            box.find_element("css selector", "select").send_keys("4" if label == "A" else "2")
            box.find_element("css selector", "input[value=%s]" % ("approve" if label == "A" else "reject")).click()
            box.find_element("css selector", "textarea").send_keys(f"heard {label}")
        driver.find_element("id", "reviewer").send_keys("Blind Listener")
        driver.find_element("id", "download-ratings").click()
        target = downloads / f"ratings-{key['page']}.json"
        deadline = time.monotonic() + 20
        while not target.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        if os.environ.get("HENRYVC_REPORT_SCREENSHOT"):  # how docs/report.png is made
            driver.get((page_dir / "index.html").as_uri())
            audio_states(driver)
            plot_marks(driver)
            driver.save_screenshot(os.environ["HENRYVC_REPORT_SCREENSHOT"])
    finally:
        driver.quit()
    assert target.exists(), "the page produced no ratings file"
    ratings = json.loads(target.read_text())
    assert ratings["format"] == review.RATINGS_FORMAT and set(ratings["ratings"]) == {"A", "B"}

    result = invoke(["review", "--from", str(target), "--key", str(blind_dir / review.KEY_FILE)], project.root)
    assert result.exit_code == 0, result.output
    shown = {name: json.loads(invoke(["show", name, "--json"], project.root).output)["reviews"] for name in (a, b)}
    assert shown[key["runs"]["A"]][0]["verdict"] == "approve" and shown[key["runs"]["A"]][0]["rating"] == 4
    assert shown[key["runs"]["B"]][0]["verdict"] == "reject" and shown[key["runs"]["B"]][0]["notes"] == "heard B"
    assert shown[key["runs"]["A"]][0]["reviewer"] == "Blind Listener"
    assert "as A" in shown[key["runs"]["A"]][0]["source"]


def test_report_bad_input(project, invoke, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    for args in (["report", "not-a-run"], ["report", "henry_v2_debug_20990101_000000"],
                 ["report", "henry_v2_debug_20990101_000000", "--out", str(busy)]):
        result = invoke(args, project.root)
        assert result.exit_code == 2, (args, result.output)
    assert list(busy.iterdir()) == [busy / "x"]


def test_report_of_an_untagged_run_reads_its_folder(project, invoke, tmp_path):
    from tests.helpers.project import trained_run
    from tests.helpers.report import audio_project

    audio_project(project)
    name = trained_run(project, seed=3)
    result = invoke(["report", name, "--out", str(tmp_path / "page"), "--json"], project.root)
    assert result.exit_code == 0, result.output
    made = json.loads(result.output)
    assert made["sources"][name].startswith("run folder") and made["audio_files"] == 5
    assert sorted(p.name for p in (tmp_path / "page" / "media" / name).glob("*.wav"))[:2] == [
        "epoch_0025_sentence_0.wav", "epoch_0025_sentence_1.wav"]
