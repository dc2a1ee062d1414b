"""The blind page of `henryvc report --blind`: audio only, nothing that gives a run away.

One row per utterance of the final model (every run's clip of the same text), in a fresh random order per
row, labelled A, B, ...; a rating 1-5 per clip and a preference per row; the page downloads the ratings
as a file `henryvc review --from` imports. No run name, metric, verdict, plot or telling file name reaches
the page's folder: the clips are copied under random names, and the key (which clip is which run) is
returned to be kept in the project, never beside the page.
"""

from __future__ import annotations

import secrets
import shutil
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.errors import BadInput

if TYPE_CHECKING:
    from henryvc.ops.report_page import RunData

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:70em}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.4em .6em;vertical-align:top}
audio{width:220px;display:block}.text{max-width:20em}
"""

SCRIPT = """
function henryvcRatings(){
  const out={format:%(format)s,page:%(page)s,reviewer:document.getElementById('reviewer').value,
             notes:document.getElementById('notes').value,rows:{}};
  for(const tr of document.querySelectorAll('tr.row')){
    const ratings={};
    for(const td of tr.querySelectorAll('td.clip')){
      const value=td.querySelector('select').value;
      if(value){ratings[td.dataset.label]=parseInt(value,10);}
    }
    const chosen=tr.querySelector('input[type=radio]:checked');
    if(Object.keys(ratings).length||chosen){out.rows[tr.dataset.row]={ratings:ratings,preference:chosen?chosen.value:null};}
  }
  return out;
}
function henryvcDownload(){
  const data=henryvcRatings();
  const status=document.getElementById('ratings-status');
  if(!Object.keys(data.rows).length){status.textContent='rate at least one clip first';return;}
  const blob=new Blob([JSON.stringify(data,null,2)],{type:'application/json'});
  const link=document.createElement('a');
  link.href=URL.createObjectURL(blob);link.download='ratings-'+data.page+'.json';
  document.body.appendChild(link);link.click();link.remove();
  status.textContent='saved ratings-'+data.page+'.json: give it back to whoever sent you this page';
}
"""


UTTERANCE_ORDER = ("short_text", "sentence_", "eval_")  # both pages' row order


def utterance_order(key: str) -> tuple[int, str]:
    """Sort key of an utterance: the short text, the test sentences by number, then the held-out clips."""
    rank = next((i for i, p in enumerate(UTTERANCE_ORDER) if key.startswith(p)), len(UTTERANCE_ORDER))
    number = key.rsplit("_", 1)[-1]
    return rank, number.zfill(8) if number.isdigit() else key


def _labels(count: int) -> list[str]:
    return [chr(ord("A") + i) for i in range(count)]


def build(runs: list[RunData], out: Path, page_id: str) -> tuple[str, dict[str, Any], int]:
    """Copy the clips under OUT/media/ with random names; return (the page, the key, clips copied)."""
    from henryvc.ops.review import KEY_FORMAT_ROWS

    if len(runs) > 26:
        raise BadInput("a blind page compares at most 26 runs (labels A-Z)")
    evaluation = "final" if all("final" in r.clips for r in runs) else None
    if evaluation is None:
        common = set.intersection(*(set(r.clips) for r in runs)) if runs else set()
        epochs = sorted((e for e in common if e.startswith("epoch_")), key=lambda e: int(e.split("_")[1]))
        if not epochs:
            raise BadInput("the runs share no evaluation with audio: nothing to compare blind")
        evaluation = epochs[-1]
    keys = sorted(set.intersection(*(set(r.clips[evaluation]) for r in runs)), key=utterance_order)
    if not keys:
        raise BadInput(f"the runs share no utterance at their {evaluation} evaluation: nothing to compare blind")
    rng = secrets.SystemRandom()
    media = out / "media"
    media.mkdir(parents=True)
    key: dict[str, Any] = {"format": KEY_FORMAT_ROWS, "page": page_id, "evaluation": evaluation,
                           "runs": sorted(r.name for r in runs), "rows": {}}
    rows = []
    for index, utterance in enumerate(keys):
        row_id = f"r{index + 1}"
        order = list(runs)
        rng.shuffle(order)  # a fresh order per row: "A" is not the same run twice in a row
        cells, clips = [], {}
        for label, run in zip(_labels(len(order)), order, strict=True):
            name = f"{secrets.token_hex(8)}.wav"
            shutil.copyfile(run.clips[evaluation][utterance]["wav"], media / name)
            clips[label] = run.name
            options = "".join(f"<option value='{n}'>{n}</option>" for n in range(1, 6))
            cells.append(f"<td class='clip' data-label='{label}'><b>{label}</b>"
                         f"<audio controls preload='metadata' src='media/{name}'></audio>"
                         f"<label>rating <select><option value=''>-</option>{options}</select></label></td>")
        choices = "".join(f"<label><input type='radio' name='prefer-{row_id}' value='{label}'> {label}</label> "
                          for label in clips)
        key["rows"][row_id] = {"utterance": utterance, "clips": clips}
        text = runs[0].clips[evaluation][utterance]["text"]
        rows.append(f"<tr class='row' data-row='{row_id}'><td class='text'>{escape(text)}</td>{''.join(cells)}"
                    f"<td class='prefer'>{choices}<label><input type='radio' name='prefer-{row_id}' value=''> "
                    f"none</label></td></tr>")
    return _page(rows, page_id), key, len(keys) * len(runs)


def _page(rows: list[str], page_id: str) -> str:
    import json

    from henryvc.ops.review import RATINGS_FORMAT_ROWS

    script = SCRIPT % {"format": json.dumps(RATINGS_FORMAT_ROWS), "page": json.dumps(page_id)}
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Blind listening test</title>
<link rel="icon" href="data:,"><style>{STYLE}</style><script>{script}</script>
</head><body data-page="{escape(page_id)}">
<h1>Blind listening test</h1>
<p>Each row is one sentence spoken by every voice under test, in a new random order per row. Rate each clip from
1 (unusable) to 5 (ready to ship) and choose the one you prefer in each row.</p>
<table id="blind"><thead><tr><th>sentence</th><th colspan="{max(1, rows[0].count("class='clip'"))}">clips</th>
<th>you prefer</th></tr></thead><tbody>{''.join(rows)}</tbody></table>
<p><label>your name <input id="reviewer" size="30"></label></p>
<p><label>notes<br><textarea id="notes" rows="4" cols="60"></textarea></label></p>
<p><button id="download-ratings" onclick="henryvcDownload()">Download ratings</button>
<span id="ratings-status"></span></p>
</body></html>
"""
