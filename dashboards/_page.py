"""The HTML page both the report and the live dashboard use, and the script that draws it.

The script draws every view from a payload (:mod:`._payload`): the report embeds its payload;
the live page fetches a fresh one every few seconds and redraws in place (``Plotly.react``).
"""

from __future__ import annotations

import html
import json
from functools import lru_cache

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;background:#fff}
#sf-app{display:flex;min-height:100vh}
#sf-nav{width:220px;flex:none;border-right:1px solid #d0d7de;padding:12px;background:#f6f8fa}
#sf-nav a{display:block;padding:4px 6px;border-radius:4px;color:#0969da;text-decoration:none;overflow-wrap:anywhere}
#sf-nav a.sf-current{background:#ddf4ff;font-weight:600}
#sf-nav small{display:block;color:#656d76}
main{flex:1;min-width:0;padding:12px 24px;max-width:1300px}
h1{margin:8px 0 4px}h2{margin:28px 0 4px;font-size:1.2em;border-bottom:1px solid #d0d7de}
#sf-subtitle,.sf-note,#sf-updated{color:#656d76;margin:2px 0}
#sf-alert{background:#fff8c5;border:1px solid #d4a72c;padding:8px 12px;border-radius:6px;margin:8px 0}
#sf-error{background:#ffebe9;border:1px solid #cf222e;padding:8px 12px;border-radius:6px;margin:8px 0}
.sf-empty{color:#656d76;font-style:italic;padding:12px 0}
.sf-table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin-top:8px}
.sf-table th,.sf-table td{border:1px solid #d0d7de;padding:4px 8px;text-align:right}
.sf-table th:first-child,.sf-table td:first-child{text-align:left}
.sf-table thead{background:#f6f8fa}
.sf-config{display:inline-block;vertical-align:top;margin:8px 16px 8px 0}
.sf-config pre{background:#f6f8fa;border:1px solid #d0d7de;padding:8px 12px;border-radius:6px;margin:4px 0}
"""

_SCRIPT = r"""
function sfById(id){return document.getElementById(id);}
function sfSection(view){
  let section = sfById('view-' + view.id);
  if (section) return section;
  section = document.createElement('section');
  section.id = 'view-' + view.id;
  section.className = 'sf-view';
  for (const [tag, cls] of [['h2',''],['p','sf-note'],['div','sf-body']]) {
    const el = document.createElement(tag); if (cls) el.className = cls; section.appendChild(el);
  }
  sfById('sf-views').appendChild(section);
  return section;
}
function sfConfigs(body, configs){
  body.replaceChildren();
  for (const c of configs) {
    const box = document.createElement('div'); box.className = 'sf-config';
    const head = document.createElement('div'); head.textContent = c.heading;
    const pre = document.createElement('pre'); pre.textContent = c.yaml;
    box.append(head, pre); body.appendChild(box);
  }
}
function sfRender(p){
  document.title = p.title;
  sfById('sf-title').textContent = p.title;
  sfById('sf-subtitle').textContent = p.subtitle;
  const alert = sfById('sf-alert'); alert.textContent = p.alert || ''; alert.hidden = !p.alert;
  sfById('sf-updated').textContent = 'Data read ' + p.generated + ' from ' + p.tracking_uri;
  for (const view of p.views) {
    const section = sfSection(view);
    section.querySelector('h2').textContent = view.title;
    section.querySelector('.sf-note').textContent = view.note || '';
    const body = section.querySelector('.sf-body');
    if (view.id === 'summary') { body.innerHTML = p.summary_html; continue; }
    if (view.id === 'configs') { sfConfigs(body, p.configs); continue; }
    if (view.figure) {
      if (body.dataset.state !== 'drawn') { body.replaceChildren(); body.className = 'sf-body sf-plot'; }
      body.dataset.state = 'drawn';
      Plotly.react(body, view.figure.data, view.figure.layout, {responsive: true, displaylogo: false});
    } else {
      if (body.dataset.state === 'drawn') Plotly.purge(body);
      body.className = 'sf-body sf-empty'; body.dataset.state = 'empty';
      body.textContent = view.empty || '';
    }
  }
}
"""

_LIVE_SCRIPT = r"""
const sfLive = JSON.parse(sfById('sf-live').textContent);
function sfShowError(message){
  const box = sfById('sf-error'); box.textContent = message || ''; box.hidden = !message;
}
async function sfCampaigns(){
  const reply = await fetch('api/campaigns', {cache: 'no-store'});
  const data = await reply.json();
  if (data.error) { sfShowError(data.error); return; }
  const nav = sfById('sf-campaign-list'); nav.replaceChildren();
  if (!sfLive.campaign && data.campaigns.length) sfLive.campaign = data.campaigns[0].name;
  for (const c of data.campaigns) {
    const link = document.createElement('a');
    link.href = '?campaign=' + encodeURIComponent(c.name);
    link.textContent = c.name;
    if (c.name === sfLive.campaign) link.className = 'sf-current';
    const note = document.createElement('small'); note.textContent = c.status + ', ' + c.started;
    link.appendChild(note); nav.appendChild(link);
  }
  if (!data.campaigns.length) sfShowError('No campaigns in ' + data.tracking_uri + ' yet.');
}
async function sfRefresh(){
  try {
    await sfCampaigns();
    if (sfLive.campaign) {
      const reply = await fetch('api/payload?campaign=' + encodeURIComponent(sfLive.campaign), {cache: 'no-store'});
      const data = await reply.json();
      if (data.error) sfShowError(data.error); else { sfShowError(''); sfRender(data); }
    }
  } catch (err) {
    sfShowError('The dashboard server stopped answering (' + err + '); retrying.');
  }
  setTimeout(sfRefresh, sfLive.interval_ms);
}
sfRefresh();
"""


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """plotly.js as shipped inside the installed plotly package (no network needed)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def report_page(title: str, payload_json: str) -> str:
    """A self-contained page: plotly.js, the payload and the script, all inline."""
    return _page(
        title,
        head_script=f"<script>{plotly_js()}</script>",
        nav="",
        tail=(
            f'<script type="application/json" id="sf-payload">{payload_json}</script>\n'
            f"<script>{_SCRIPT}\nsfRender(JSON.parse(sfById('sf-payload').textContent));</script>"
        ),
    )


def live_page(campaign: str | None, interval_s: float) -> str:
    """The live page: plotly.js from the server, a campaign list, a refresh every few seconds."""
    settings = json.dumps({"campaign": campaign, "interval_ms": int(interval_s * 1000)})
    settings = settings.replace("<", "\\u003c")
    return _page(
        "sweepforge dashboard",
        head_script='<script src="plotly.min.js"></script>',
        nav='<nav id="sf-nav"><strong>Campaigns</strong><div id="sf-campaign-list"></div></nav>',
        tail=(
            f'<script type="application/json" id="sf-live">{settings}</script>\n'
            f"<script>{_SCRIPT}\n{_LIVE_SCRIPT}</script>"
        ),
    )


def _page(title: str, *, head_script: str, nav: str, tail: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{html.escape(title)}</title>
<style>{_STYLE}</style>
{head_script}
</head><body><div id="sf-app">{nav}<main>
<h1 id="sf-title">{html.escape(title)}</h1>
<p id="sf-subtitle"></p><p id="sf-updated"></p>
<div id="sf-error" hidden></div><div id="sf-alert" hidden></div>
<div id="sf-views"></div>
</main></div>
{tail}
</body></html>
"""
