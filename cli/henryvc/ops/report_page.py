"""The HTML of `henryvc report`: one static page, scripts inlined, media referenced relative to it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any


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
    legend: str = ""  # the shortest name that tells it from the other runs (blind: its label)
    # evaluation ("final" | "epoch_N") -> utterance key -> {"wav": Path, "text": str, "scores": {...}}
    clips: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    recordings: dict[str, Path] = field(default_factory=dict)  # eval_<clip> -> Henry's recording


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.num{text-align:right;font-variant-numeric:tabular-nums}
.up{color:#b00}.down{color:#070}.plots{display:flex;flex-wrap:wrap;gap:1em}
audio{width:220px;display:block}img.align{max-width:220px;display:block;margin-top:.2em}
.verdict-success{color:#070;font-weight:bold}.verdict-failed{color:#b00;font-weight:bold}
.scores{font-size:.8em;color:#555}td.text{max-width:22em}li.fix{list-style:none;color:#036}li.note{color:#666}
button.play{font-size:1.1em;min-width:2.4em;cursor:pointer}
"""

LISTEN_SCRIPT = """
const DATA=JSON.parse(document.getElementById('listen-data').textContent);
const NAMES={wer:['WER ',3,''],seconds:['',3,' s'],speaker_similarity:['similarity ',3,''],mcd:['MCD ',2,' dB'],
             log_f0_rmse:['log-F0 RMSE ',3,'']};
function henryvcScores(scores){
  return DATA.scores.filter(k=>k in scores).map(k=>NAMES[k][0]+(+scores[k]).toFixed(NAMES[k][1])+NAMES[k][2])
    .join(' \\u00b7 ');
}
function henryvcShow(evaluation){
  for(const tr of document.querySelectorAll('#listen tbody tr')){
    const row=DATA.rows[+tr.dataset.row], cells=(row.cells[evaluation]||{});
    for(const td of tr.querySelectorAll('td.clip')){
      const cell=cells[td.dataset.label], audio=td.querySelector('audio'), scores=td.querySelector('.scores');
      audio.pause();
      if(cell){audio.src=cell.audio;td.querySelector('button').hidden=false;scores.textContent=henryvcScores(cell.scores);}
      else{audio.removeAttribute('src');audio.load();td.querySelector('button').hidden=true;scores.textContent='-';}
      td.dataset.sort=JSON.stringify(cell?cell.scores:{});
    }
  }
  document.getElementById('evaluation').value=evaluation;
}
// One light play button per clip (hundreds of native <audio controls> made the page take seconds to open):
// a click plays that cell's clip and stops any other.
function henryvcPlay(button){
  const audio=button.parentElement.querySelector('audio');
  for(const other of document.querySelectorAll('#listen audio')){if(other!==audio){other.pause();}}
  if(audio.paused){audio.play();}else{audio.pause();}
}
document.addEventListener('play',e=>{const b=e.target.parentElement.querySelector('button.play');
  if(b){b.textContent='\\u275a\\u275a';}},true);
for(const kind of ['pause','ended']){document.addEventListener(kind,e=>{
  const b=e.target.parentElement.querySelector('button.play');if(b){b.textContent='\\u25b6';}},true);}
document.getElementById('listen').addEventListener('click',e=>{
  if(e.target.matches('button.play')){henryvcPlay(e.target);}});
function henryvcSort(how){
  const body=document.querySelector('#listen tbody'), rows=[...body.querySelectorAll('tr')];
  const [what,label]=how.split('|');
  const value=tr=>{
    if(what==='order'){return +tr.dataset.row;}
    if(what==='text'){return DATA.rows[+tr.dataset.row].text.toLowerCase();}
    const td=tr.querySelector('td.clip[data-label="'+CSS.escape(label)+'"]');
    const v=JSON.parse(td.dataset.sort||'{}')[what];
    return v===undefined?Infinity:v;
  };
  rows.sort((a,b)=>{const x=value(a),y=value(b);return x<y?-1:(x>y?1:0);});
  for(const tr of rows){body.appendChild(tr);}
}
document.getElementById('evaluation').addEventListener('change',e=>henryvcShow(e.target.value));
document.getElementById('sort').addEventListener('change',e=>henryvcSort(e.target.value));
henryvcShow(DATA.evaluations[0].id);
"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _metrics_table(runs: list[RunData], rows: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{escape(r.legend)}</th>" + (f"<th>&Delta; vs {escape(runs[0].legend)}</th>" if i else "")
                   for i, r in enumerate(runs))
    body = []
    status = "".join(f"<td class='verdict-{escape(r.status)}'>{escape(r.status)}</td>" + ("<td></td>" if i else "")
                     for i, r in enumerate(runs))
    body.append(f"<tr><th>status</th>{status}</tr>")
    for row in rows:
        cells = []
        for i, (value, delta) in enumerate(zip(row["values"], row["deltas"], strict=True)):
            cells.append(f"<td class='num'>{escape(_fmt(value))}</td>")
            if i:
                css = "" if not delta else (" up" if delta > 0 else " down")
                cells.append(f"<td class='num{css}'>{escape(_fmt(delta)) if delta is not None else ''}</td>")
        body.append(f"<tr><th>{escape(row['key'])}</th>{''.join(cells)}</tr>")
    return f"<table id='metrics'><tr><th>metric</th>{head}</tr>{''.join(body)}</table>"


def _verdicts(runs: list[RunData]) -> str:
    """Each run's verdict: each distinct problem once with the utterances it hit, under its fix."""
    from henryvc.core.verdict import summary_lines

    parts = []
    for run in runs:
        items = []
        for label, text in summary_lines(run.verdict):
            css = {"try": "fix", "note": "note"}.get(label, "problem")
            items.append(f"<li class='{css}'>{'<b>fix:</b> ' if label == 'try' else ''}{escape(text)}</li>")
        parts.append(f"<div class='verdict' data-label='{escape(run.label)}'><h3>{escape(run.legend)}: "
                     f"<span class='verdict-{escape(run.status)}'>{escape(run.status)}</span></h3>"
                     f"<ul>{''.join(items) or '<li>no verdict recorded</li>'}</ul></div>")
    return "".join(parts)


PLAY = "<button class='play' type='button' title='play'>&#9654;</button>"


def _listen_table(runs: list[RunData], data: dict[str, Any]) -> str:
    """One row per utterance: text, Henry's recording, each run's clip (the selector's evaluation) and scores."""
    if not data["rows"]:
        return "<p>No evaluation audio in these runs.</p>"
    options = "".join(f"<option value='{escape(e['id'])}'>{escape(e['title'])}</option>" for e in data["evaluations"])
    sorts = ["<option value='order'>utterance order</option>", "<option value='text'>text</option>"]
    names = {"wer": "WER", "seconds": "duration", "speaker_similarity": "speaker similarity", "mcd": "MCD",
             "log_f0_rmse": "log-F0 RMSE"}
    sorts += [f"<option value='{k}|{escape(r.label)}'>{names[k]}: {escape(r.legend)}</option>"
              for r in runs for k in data["scores"]]
    head = "".join(f"<th>{escape(r.legend)}</th>" for r in runs)
    body = []
    for index, row in enumerate(data["rows"]):
        henry = (f"{PLAY}<audio preload='none' src='{escape(row['recording'])}'></audio>" if row["recording"] else "-")
        cells = "".join(f"<td class='clip' data-label='{escape(r.label)}'>{PLAY}<audio preload='none'></audio>"
                        f"<div class='scores'>-</div></td>" for r in runs)
        body.append(f"<tr data-row='{index}' data-key='{escape(row['key'])}'><td class='text'>{escape(row['text'])}"
                    f"</td><td class='henry'>{henry}</td>{cells}</tr>")
    return (f"<p><label>evaluation <select id='evaluation'>{options}</select></label> "
            f"<label>sort by <select id='sort'>{''.join(sorts)}</select></label></p>"
            f"<table id='listen'><thead><tr><th>text</th><th>Henry's recording</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>"
            f"<script type='application/json' id='listen-data'>{_json_script(data)}</script>")


def _json_script(data: Any) -> str:
    return json.dumps(data).replace("</", "<\\/")


def _runs_list(runs: list[RunData]) -> str:
    items = "".join(f"<li><b>{escape(r.legend)}</b>: {escape(r.name)}, {escape(r.description or 'no description')} "
                    f"(reviews: {escape(_reviews(r))}; {escape(r.source)})</li>" for r in runs)
    return f"<ul id='runs'>{items}</ul>"


def _reviews(run: RunData) -> str:
    from henryvc.core.review import brief

    return brief(run.reviews)


def render(runs: list[RunData], metric_rows: list[dict[str, Any]], specs: list[dict[str, Any]],
           data: dict[str, Any], bundle: str, page_id: str) -> str:
    """The listening page: audio first (one row per utterance), then verdicts, metrics and loss curves."""
    title = "Runs: " + ", ".join(r.name for r in runs)
    plots = "".join(f"<div id='{s['id']}' class='plot'></div>" for s in specs) or "<p>No loss curves recorded.</p>"
    embeds = "\n".join(f"vegaEmbed('#{s['id']}', {json.dumps(s['spec'])}, {{actions: false, renderer: 'svg'}})"
                       f".catch(function(e){{console.error(e);}});" for s in specs)
    safe_bundle = bundle.replace("</script", "<\\/script")
    listen = _listen_table(runs, data)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<link rel="icon" href="data:,">
<style>{STYLE}</style>
</head><body data-page="{escape(page_id)}" data-blind="false">
<h1>{escape(title)}</h1>
{_runs_list(runs)}
<h2>Listen</h2>
{listen}
<h2>Verdicts</h2>
<div id='verdicts'>{_verdicts(runs)}</div>
<h2>Metrics</h2>
{_metrics_table(runs, metric_rows)}
<h2>Loss curves</h2>
<div class="plots">{plots}</div>
<script>{LISTEN_SCRIPT if data["rows"] else ""}</script>
<script type="text/plain" id="vega-bundle">{safe_bundle}</script>
<script>
// The curves come last: Vega (~1 MB of script) is parsed only after the first paint, so the audio table
// is there and usable first (benchmarks/bench_report_page.py).
function henryvcPlots(){{
  const code=document.createElement('script');
  code.textContent=document.getElementById('vega-bundle').textContent;
  document.head.appendChild(code);
  {embeds}
}}
requestAnimationFrame(()=>setTimeout(henryvcPlots,0));
</script>
</body></html>
"""
