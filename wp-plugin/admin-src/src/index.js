// The wp-admin Listening dashboard: draws the companion's figures (inlined by Dashboard.php as
// window.scripthammerListening, the same JSON as the companion's API) with uPlot, and redraws them for
// another date range (the range form and the 7/30/90-day presets) from the admin-ajax route
// scripthammer_listening_data (capability and nonce checked). The tables in <details> keep the numbers
// for screen readers and browsers without script; they are refreshed with the charts.
import 'uplot/dist/uPlot.min.css';
import './dashboard.css';
import {
  completionChart, currenciesOf, downloadsChart, formatsOf, heatmapChart, HEAT_KINDS, interactionsChart, listenedChart,
  playsChart, salesChart,
} from './charts.js';

const cfg = window.scripthammerListening;

function figure(col, v) {
  if (v == null) return '–';
  if (col === 'completion_rate') return `${(100 * v).toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 })} %`;
  if (col === 'avg_listened_s') return `${Number(v).toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 })} s`;
  if (col === 'downloads' && typeof v === 'object') {
    const parts = Object.entries(v).map(([f, n]) => `${f} ${n}`);
    return parts.length ? parts.join(', ') : '0';
  }
  if (col.endsWith('_amount') && typeof v === 'object') {
    const parts = Object.entries(v).sort().map(([c, n]) => `${c} ${Number(n).toFixed(2)}`);
    return parts.length ? parts.join(', ') : '0';
  }
  return Number(v).toLocaleString('en-US');
}

function cell(text, cls) {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  td.textContent = text;
  return td;
}

/** A chart's place: a <figure> with its caption, made once and kept across redraws. */
function slot(host, key, caption) {
  let fig = host.querySelector(`figure[data-chart="${key}"]`);
  if (!fig) {
    fig = document.createElement('figure');
    fig.className = 'scripthammer-plot';
    fig.id = `scripthammer-plot-${key}`;
    fig.dataset.chart = key;
    const cap = document.createElement('figcaption');
    cap.textContent = caption;
    const div = document.createElement('div');
    div.className = 'scripthammer-plot-area';
    div.setAttribute('aria-hidden', 'true'); // the numbers are in the tables below
    fig.append(cap, div);
    host.append(fig);
  }
  return fig.querySelector('.scripthammer-plot-area');
}

function drawCharts(data) {
  const host = document.getElementById('scripthammer-charts');
  if (!host) return;
  const L = cfg.labels;
  for (const u of Object.values(cfg.charts || {})) u?.destroy();
  cfg.charts = {};
  const days = data.daily?.days || [];
  // every place first, so each chart is sized to its own column of the grid
  const at = {};
  for (const key of ['plays', 'completion', 'listened', 'downloads', 'sales', 'heatmap', 'interactions']) {
    if (key === 'heatmap' && !data.heatmap) continue;
    at[key] = slot(host, key, L[`chart_${key}`]);
  }
  cfg.charts.plays = playsChart(at.plays, days, L);
  cfg.charts.completion = completionChart(at.completion, days, L);
  cfg.charts.listened = listenedChart(at.listened, days, L);
  cfg.charts.downloads = downloadsChart(at.downloads, days, L);
  cfg.charts.sales = salesChart(at.sales, days, L);
  if (data.heatmap) cfg.charts.heatmap = heatmapChart(at.heatmap, data.heatmap, L);
  const inter = data.heatmap ? data.heatmap.interactions : data.daily?.interactions;
  cfg.charts.interactions = interactionsChart(at.interactions, inter, L);
  host.dataset.range = `${data.from}/${data.to}`;
  host.dataset.formats = formatsOf(days).join(',');
  host.dataset.currencies = currenciesOf(days).join(',');
}

function fillDays(days) {
  const table = document.getElementById('scripthammer-days');
  if (!table) return;
  const cols = [...table.querySelectorAll('thead th')].map((th) => th.dataset.col);
  const body = table.tBodies[0];
  body.textContent = '';
  for (const row of [...days].reverse()) {
    const tr = document.createElement('tr');
    for (const col of cols) tr.append(cell(col === 'day' ? row.day : figure(col, row[col]), `col-${col}`));
    body.append(tr);
  }
}

function fillHeat(heat) {
  const table = document.getElementById('scripthammer-heat-table');
  if (!table || !heat) return;
  const body = table.tBodies[0];
  body.textContent = '';
  for (let i = 0; i < heat.seconds; i++) {
    if (!HEAT_KINDS.some((k) => heat[k][i])) continue;
    const tr = document.createElement('tr');
    tr.append(cell(String(i), 'col-second'), ...HEAT_KINDS.map((k) => cell(String(heat[k][i]), `col-${k}`)));
    body.append(tr);
  }
}

function fillInteractions(inter) {
  const table = document.getElementById('scripthammer-interactions-table');
  if (!table) return;
  const body = table.tBodies[0];
  body.textContent = '';
  for (const [control, n] of Object.entries(inter || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
    const tr = document.createElement('tr');
    tr.append(cell(control, 'col-control'), cell(String(n), 'col-uses'));
    body.append(tr);
  }
}

function fillSummary(summary) {
  if (!summary) return;
  for (const [key, rows] of [["tracks", summary.tracks], ["albums", summary.albums], ["performances", summary.performances]]) {
    const table = document.getElementById(`scripthammer-${key}`);
    if (!table) continue;
    for (const row of rows || []) {
      const tr = table.querySelector(`tr[data-id="${Number(row.id)}"]`);
      if (!tr) continue;
      for (const td of tr.querySelectorAll('td[class^="col-"]')) {
        const col = td.className.slice(4);
        td.textContent = figure(col, row[col]);
      }
    }
  }
}

/** Links that carry the range (CSV exports, items, back to all) follow the range shown. */
function relink(from, to) {
  for (const a of document.querySelectorAll('.scripthammer-listening a[href]:not(.scripthammer-preset)')) {
    const url = new URL(a.href, window.location.href);
    if (!url.searchParams.has('from')) continue;
    url.searchParams.set('from', from);
    url.searchParams.set('to', to);
    a.href = url.toString();
  }
  const here = new URL(window.location.href);
  here.searchParams.set('from', from);
  here.searchParams.set('to', to);
  window.history.replaceState(null, '', here.toString());
}

function show(data) {
  cfg.from = data.from;
  cfg.to = data.to;
  cfg.data = data;
  const form = document.getElementById('scripthammer-range');
  if (form) {
    form.elements.from.value = data.from;
    form.elements.to.value = data.to;
  }
  drawCharts(data);
  fillDays(data.daily?.days || []);
  fillHeat(data.heatmap);
  fillInteractions(data.heatmap ? data.heatmap.interactions : data.daily?.interactions);
  fillSummary(data.summary);
  relink(data.from, data.to);
}

function status(text) {
  const el = document.getElementById('scripthammer-status');
  if (el) el.textContent = text;
}

async function load(from, to) {
  const q = new URLSearchParams({ action: cfg.ajax.action, _ajax_nonce: cfg.ajax.nonce, from, to });
  if (cfg.item) {
    q.set('item', cfg.item.kind);
    q.set('id', String(cfg.item.id));
  }
  status(cfg.labels.loading);
  try {
    const r = await fetch(`${cfg.ajax.url}?${q}`, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    const body = await r.json();
    if (!r.ok) throw new Error(body.message || `HTTP ${r.status}`);
    show(body);
    status(cfg.labels.shown.replace('%1$s', body.from).replace('%2$s', body.to));
  } catch (err) {
    status(`${cfg.labels.failed} ${err.message}`);
  }
}

function boot() {
  if (!cfg || !document.getElementById('scripthammer-charts')) return;
  for (const d of document.querySelectorAll('details.scripthammer-figures')) d.open = false; // the charts show them
  show(cfg.data);
  const form = document.getElementById('scripthammer-range');
  form?.addEventListener('submit', (ev) => {
    ev.preventDefault();
    let [from, to] = [form.elements.from.value, form.elements.to.value];
    if (from && to && from > to) [from, to] = [to, from];
    load(from, to);
  });
  for (const a of document.querySelectorAll('a.scripthammer-preset')) {
    a.addEventListener('click', (ev) => {
      ev.preventDefault();
      load(a.dataset.from, a.dataset.to);
    });
  }
  let last = 0;
  window.addEventListener('resize', () => {
    clearTimeout(last);
    last = setTimeout(() => drawCharts(cfg.data), 200);
  });
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
