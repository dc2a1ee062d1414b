"""henryvc.ops.report_page, read back with an HTML parser: the listening page puts the audio first, then verdicts,
metrics with signed deltas and the curves; no run text can close a script or add markup, and the inlined data and
bundle come back byte for byte. The page in a real browser is tests/ops/test_report.py (browser tier)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from henryvc.ops import report_page
from henryvc.ops.report_page import RunData

HOSTILE = "</script><img src=x onerror=alert(1)><marquee>"


class Page(HTMLParser):
    """Every start tag (name, attributes) and the text of every <script>, as a browser's tokenizer sees them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._script: dict[str, str | None] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def find(self, tag: str, **wanted: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.rstrip("_")) == v for k, v in wanted.items())]


def _runs() -> list[RunData]:
    a = RunData(name="henry_v2_debug_20240101_000001", label="a", folder=Path("a"), status="success",
                legend="000001", description=HOSTILE, source="run folder",
                verdict={"status": "success", "reasons": ["every criterion met"], "advice": ["train longer " + HOSTILE]})
    b = RunData(name="henry_v2_debug_20240101_000002", label="b", folder=Path("b"), status="failed",
                legend="000002", source="restored from its tag",
                verdict={"status": "failed", "reasons": ["align_error 0.4 > 0.1"]})
    return [a, b]


def _data(rows: bool = True) -> dict:
    row = {"key": "sentence_0", "text": "Hello " + HOSTILE, "recording": "media/henry/sentence_0.wav",
           "cells": {"final": {"a": {"audio": "media/a/final/sentence_0.wav", "scores": {"wer": 0.1}}}}}
    no_recording = {"key": "eval_clip1", "text": "Bye.", "recording": None, "cells": {}}
    return {"evaluations": [{"id": "final", "title": "final model"}], "runs": [], "scores": ["wer", "mcd"],
            "rows": [row, no_recording] if rows else []}


METRICS = [{"key": "align_error", "values": [0.1, 0.4], "deltas": [None, 0.30000000000000004]},
           {"key": "total_loss", "values": [2.0, 1.5], "deltas": [None, -0.5]},
           {"key": "steps", "values": [1000, 1000], "deltas": [None, 0.0]},
           {"key": "wer", "values": [None, 0.2], "deltas": [None, None]}]
SPECS = [{"id": "loss-plot", "spec": {"mark": "line", "title": "loss </script>"}}]
BUNDLE = "var vega = 1; // a bundle that says </script> in a comment\n"


def test_no_run_text_can_close_a_script_or_add_markup():
    html = report_page.render(_runs(), METRICS, SPECS, _data(), BUNDLE, "pg1")
    page = Page(html)
    assert page.find("img") == [] and page.find("marquee") == []  # HOSTILE stayed text
    assert [a.get("id") or a.get("type") for a, _ in page.scripts] == ["listen-data", None, "vega-bundle", None]
    [(_, listen_data)] = [(a, t) for a, t in page.scripts if a.get("id") == "listen-data"]
    assert json.loads(listen_data) == _data()  # the data comes back whole
    [(_, bundle)] = [(a, t) for a, t in page.scripts if a.get("id") == "vega-bundle"]
    assert bundle == BUNDLE.replace("</script", "<\\/script")  # the same script to JavaScript's parser
    assert HOSTILE not in html


def test_the_audio_comes_first_then_verdicts_metrics_and_curves():
    html = report_page.render(_runs(), METRICS, SPECS, _data(), BUNDLE, "pg2")
    order = [html.index(f"<h2>{h}</h2>") for h in ("Listen", "Verdicts", "Metrics", "Loss curves")]
    assert order == sorted(order)
    page = Page(html)
    assert page.find("body")[0]["data-page"] == "pg2"
    rows = page.find("tr", **{"data-key": "sentence_0"}) + page.find("tr", **{"data-key": "eval_clip1"})
    assert [r["data-row"] for r in rows] == ["0", "1"]
    assert [a["data-label"] for a in page.find("td", class_="clip")] == ["a", "b", "a", "b"]  # a cell per run per row
    assert page.find("audio", src="media/henry/sentence_0.wav")  # Henry's recording where there is one
    sorts = [a["value"] for a in page.find("option") if a["value"] and "|" in a["value"]]
    assert sorts == ["wer|a", "mcd|a", "wer|b", "mcd|b"]
    assert "henryvcShow(DATA.evaluations[0].id)" in html  # the listening script is there to fill the cells
    assert page.find("div", id="loss-plot", class_="plot") and "vegaEmbed('#loss-plot'" in html


def test_metric_deltas_are_signed_and_a_missing_value_is_a_dash():
    html = report_page.render(_runs(), METRICS, [], _data(), BUNDLE, "pg3")
    table = html[html.index("<table id='metrics'>"):]
    table = table[:table.index("</table>")]
    assert "<th>000001</th><th>000002</th><th>&Delta; vs 000001</th>" in table
    assert ("<tr><th>status</th><td class='verdict-success'>success</td><td class='verdict-failed'>failed</td>"
            "<td></td></tr>") in table
    assert "<th>align_error</th><td class='num'>0.1</td><td class='num'>0.4</td><td class='num up'>0.3</td>" in table
    assert "<th>total_loss</th><td class='num'>2</td><td class='num'>1.5</td><td class='num down'>-0.5</td>" in table
    assert "<th>steps</th><td class='num'>1000</td><td class='num'>1000</td><td class='num'>0</td>" in table
    assert "<th>wer</th><td class='num'>-</td><td class='num'>0.2</td><td class='num'></td>" in table


def test_verdicts_show_each_reason_and_its_fix():
    page = Page(report_page.render(_runs(), [], [], _data(), BUNDLE, "pg4"))
    assert [a["data-label"] for a in page.find("div", class_="verdict")] == ["a", "b"]
    html = report_page.render(_runs(), [], [], _data(), BUNDLE, "pg4")
    verdict_a = html[html.index("<div class='verdict' data-label='a'>"):html.index("<div class='verdict' data-label='b'>")]
    assert "<li class='problem'>every criterion met</li>" in verdict_a
    assert "<li class='fix'><b>fix:</b> train longer &lt;/script&gt;" in verdict_a
    assert "align_error 0.4 &gt; 0.1" in html[html.index("<div class='verdict' data-label='b'>"):]


def test_without_audio_or_curves_the_page_says_so_and_runs_no_listening_script():
    html = report_page.render(_runs(), METRICS, [], _data(rows=False), BUNDLE, "pg5")
    assert "<p>No evaluation audio in these runs.</p>" in html and "<p>No loss curves recorded.</p>" in html
    page = Page(html)
    assert page.find("table", id="listen") == [] and "henryvcShow" not in html
    assert "vegaEmbed(" not in html
