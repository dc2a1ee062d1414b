"""The HTML of `henryvc report`: one static page, scripts inlined, media referenced relative to it."""

from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from henryvc.report import RunData

from henryvc.review import RATINGS_FORMAT

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.num{text-align:right;font-variant-numeric:tabular-nums}
.up{color:#b00}.down{color:#070}.plots{display:flex;flex-wrap:wrap;gap:1em}
audio{width:220px;display:block}img.align{max-width:220px;display:block;margin-top:.2em}
.verdict-success{color:#070;font-weight:bold}.verdict-failed{color:#b00;font-weight:bold}
.rating{border:1px solid #ccc;padding:.5em;margin:.5em 0;display:inline-block;vertical-align:top}
"""

RATINGS_SCRIPT = """
function henryvcRatings(){
  const out={format:%(format)s,page:%(page)s,reviewer:document.getElementById('reviewer').value,ratings:{}};
  for(const box of document.querySelectorAll('.rating')){
    const label=box.dataset.label, rating=box.querySelector('select').value;
    const verdict=box.querySelector('input[type=radio]:checked');
    if(!rating||!verdict){continue;}
    out.ratings[label]={rating:parseInt(rating,10),verdict:verdict.value,notes:box.querySelector('textarea').value};
  }
  return out;
}
function henryvcDownload(){
  const data=henryvcRatings();
  const status=document.getElementById('ratings-status');
  if(!Object.keys(data.ratings).length){status.textContent='rate at least one run first';return;}
  const blob=new Blob([JSON.stringify(data,null,2)],{type:'application/json'});
  const link=document.createElement('a');
  link.href=URL.createObjectURL(blob);link.download='ratings-'+data.page+'.json';
  document.body.appendChild(link);link.click();link.remove();
  status.textContent='saved ratings-'+data.page+'.json: record it with `henryvc review --from FILE`';
}
"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _metrics_table(runs: list[RunData], rows: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{escape(r.label)}</th>" + (f"<th>&Delta; vs {escape(runs[0].label)}</th>" if i else "")
                   for i, r in enumerate(runs))
    body = []
    status = "".join(f"<td class='verdict-{escape(r.status)}'>{escape(r.status)}</td>" + ("<td></td>" if i else "")
                     for i, r in enumerate(runs))
    body.append(f"<tr><th>status</th>{status}</tr>")
    reasons = "".join(f"<td>{'<br>'.join(escape(str(x)) for x in (r.verdict.get('reasons') or [])) or '-'}</td>"
                      + ("<td></td>" if i else "") for i, r in enumerate(runs))
    body.append(f"<tr><th>verdict</th>{reasons}</tr>")
    for row in rows:
        cells = []
        for i, (value, delta) in enumerate(zip(row["values"], row["deltas"], strict=True)):
            cells.append(f"<td class='num'>{escape(_fmt(value))}</td>")
            if i:
                css = "" if not delta else (" up" if delta > 0 else " down")
                cells.append(f"<td class='num{css}'>{escape(_fmt(delta)) if delta is not None else ''}</td>")
        body.append(f"<tr><th>{escape(row['key'])}</th>{''.join(cells)}</tr>")
    return f"<table id='metrics'><tr><th>metric</th>{head}</tr>{''.join(body)}</table>"


def _audio_rows(runs: list[RunData], media: dict[str, Any]) -> str:
    parts = []
    finals_last = sorted(media["grid"].items(), key=lambda item: item[0].startswith("final"))
    for number, (text, epochs) in enumerate(finals_last):
        head = "".join(f"<th>{escape(r.label)}</th>" for r in runs)
        rows = []
        for epoch, cells in sorted(epochs.items(), key=lambda item: (item[0] < 0, item[0])):
            steps = media["steps"].get(epoch, {})
            where = "final model" if epoch < 0 else f"epoch {epoch}" + (
                f" (step {', '.join(sorted({str(s) for s in steps.values() if s is not None}))})"
                if any(s is not None for s in steps.values()) else "")
            tds = []
            for run in runs:
                cell = cells.get(run.label)
                if not cell:
                    tds.append("<td>-</td>")
                    continue
                audio = (f"<audio controls preload='auto' src='{escape(cell['audio'])}'></audio>"
                         if "audio" in cell else "")
                image = f"<img class='align' alt='alignment' src='{escape(cell['image'])}'>" if "image" in cell else ""
                tds.append(f"<td>{audio}{image}</td>")
            rows.append(f"<tr><th>{escape(where)}</th>{''.join(tds)}</tr>")
        parts.append(f"<h3 id='sentence-{number}'>{escape(text)}</h3>"
                     f"<table class='audio'><tr><th>evaluation</th>{head}</tr>{''.join(rows)}</table>")
    return "".join(parts) or "<p>No evaluation audio in these runs.</p>"


def _runs_list(runs: list[RunData], blind: bool) -> str:
    if blind:
        return ("<p>Blind comparison: the runs are shown as " + ", ".join(escape(r.label) for r in runs)
                + " in random order; the key is in blind-key.json next to this page.</p>")
    items = "".join(f"<li><b>{escape(r.name)}</b>: {escape(r.description or 'no description')} "
                    f"(reviews: {escape(_reviews(r))}; {escape(r.source)})</li>" for r in runs)
    return f"<ul id='runs'>{items}</ul>"


def _reviews(run: RunData) -> str:
    from henryvc.review import brief

    return brief(run.reviews)


def _ratings_form(runs: list[RunData], page_id: str) -> str:
    boxes = []
    for run in runs:
        label = escape(run.label)
        options = "".join(f"<option value='{n}'>{n}</option>" for n in range(1, 6))
        boxes.append(
            f"<div class='rating' data-label='{label}'><b>{label}</b><br>"
            f"<label>rating <select><option value=''>-</option>{options}</select></label><br>"
            f"<label><input type='radio' name='verdict-{label}' value='approve'> approve</label> "
            f"<label><input type='radio' name='verdict-{label}' value='reject'> reject</label><br>"
            f"<textarea rows='3' cols='28' placeholder='what you heard'></textarea></div>")
    return (f"<h2>Your ratings</h2><p><label>reviewer <input id='reviewer' size='30'></label></p>{''.join(boxes)}"
            f"<p><button id='download-ratings' onclick='henryvcDownload()'>Download ratings</button> "
            f"<span id='ratings-status'></span></p>")


def render(runs: list[RunData], metric_rows: list[dict[str, Any]], specs: list[dict[str, Any]],
           media: dict[str, Any], bundle: str, blind: bool, page_id: str) -> str:
    """The whole page."""
    title = "Blind comparison" if blind else "Runs: " + ", ".join(r.name for r in runs)
    plots = "".join(f"<div id='{s['id']}' class='plot'></div>" for s in specs) or "<p>No loss curves recorded.</p>"
    embeds = "\n".join(f"vegaEmbed('#{s['id']}', {json.dumps(s['spec'])}, {{actions: false, renderer: 'svg'}})"
                       f".catch(function(e){{console.error(e);}});" for s in specs)
    ratings = _ratings_form(runs, page_id) if blind else ""
    safe_bundle = bundle.replace("</script", "<\\/script")
    script = RATINGS_SCRIPT % {"format": json.dumps(RATINGS_FORMAT), "page": json.dumps(page_id)}
    html = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<link rel="icon" href="data:,">
<style>{STYLE}</style>
<script>{safe_bundle}</script>
<script>{script}</script>
</head><body data-page="{escape(page_id)}" data-blind="{str(blind).lower()}">
<h1>{escape(title)}</h1>
{_runs_list(runs, blind)}
<h2>Metrics and verdicts</h2>
{_metrics_table(runs, metric_rows)}
<h2>Loss curves</h2>
<div class="plots">{plots}</div>
<h2>Listen: test sentences at each evaluation</h2>
{_audio_rows(runs, media)}
{ratings}
<script>{embeds}</script>
</body></html>
"""
    if blind:  # no run name reaches a blind page, whatever text carried it (verdict reasons, metrics)
        for run in runs:
            html = html.replace(run.name, run.label)
    return html
