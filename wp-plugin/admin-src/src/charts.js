// The dashboard's charts, drawn with uPlot from the companion's figures (the same JSON its API serves):
// per day (plays, listeners, completion, skips, listened seconds, downloads by format, tip-jar clicks, tips
// and purchases attributed to a play with their amounts), the
// per-second heat map over the track's real waveform, and the player-interaction bar chart.
// Each builder returns the uPlot instance (its .data holds the figures drawn), or null with nothing to draw.
import uPlot from 'uplot';

export const COLORS = {
  plays: '#2271b1', plays30: '#0a4b78', listeners: '#d63638', completion: '#00a32a', skips: '#dba617',
  listened: '#8c5fc7', tips: '#d63638', tipClicks: '#dba617', purchases: '#00a32a', wave: '#a7aaad', starts: '#2271b1', seeks: '#dba617',
  replays: '#8c5fc7', dropoffs: '#d63638', reactions: '#00a32a', bar: '#2271b1',
};
const FORMAT_COLORS = ['#2271b1', '#00a32a', '#dba617', '#8c5fc7', '#3c434a', '#e65054'];
export const HEAT_KINDS = ['starts', 'seeks', 'replays', 'dropoffs', 'reactions'];

const bars = (size = 0.6) => uPlot.paths.bars({ size: [size, 60] });

/** Seconds since the epoch of a UTC day ("YYYY-MM-DD"). */
export function dayToX(day) {
  const [y, m, d] = day.split('-').map(Number);
  return Date.UTC(y, m - 1, d) / 1000;
}

function width(el) {
  return Math.max(280, Math.min(1400, Math.floor(el.getBoundingClientRect().width || 900)));
}

function utc(ts) {
  return uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC');
}

/** The x axis of a daily chart: a tick on whole days only (about 8 of them), labelled MM-DD. */
function dayAxis(xs) {
  const every = Math.max(1, Math.ceil(xs.length / 8));
  return {
    splits: () => xs.filter((_, i) => i % every === 0 || i === xs.length - 1),
    values: (u, splits) => splits.map((s) => new Date(s * 1e3).toISOString().slice(5, 10)),
  };
}

/** The x scale of a daily chart: half a day either side, so the first and last bars show whole. */
function dayScale(xs) {
  return { time: true, range: () => [xs[0] - 43200, xs[xs.length - 1] + 43200] };
}

function make(el, opts, data) {
  el.textContent = '';
  const u = new uPlot({ width: width(el), height: 240, tzDate: utc, ...opts }, data, el);
  el.closest('figure')?.setAttribute('data-drawn', '1');
  return u;
}

/** Plays started (bars), plays past 30 s (darker bars over them) and unique listeners (a line) per day. */
export function playsChart(el, days, L) {
  const xs = days.map((d) => dayToX(d.day));
  return make(el, {
    series: [
      { label: L.day, value: (u, v) => (v == null ? '' : new Date(v * 1e3).toISOString().slice(0, 10)) },
      { label: L.plays, stroke: COLORS.plays, fill: `${COLORS.plays}88`, paths: bars(0.7), points: { show: false } },
      { label: L.plays_30s, stroke: COLORS.plays30, fill: `${COLORS.plays30}cc`, paths: bars(0.4), points: { show: false } },
      { label: L.listeners, stroke: COLORS.listeners, width: 2, points: { size: 6 } },
    ],
    axes: [dayAxis(xs), { label: L.count }],
    scales: { x: dayScale(xs), y: { range: (u, min, max) => [0, Math.max(1, max)] } },
  }, [xs, days.map((d) => d.plays), days.map((d) => d.plays_30s), days.map((d) => d.listeners)]);
}

/** Completion rate (a line, %, right axis) and skips (bars) per day. */
export function completionChart(el, days, L) {
  const xs = days.map((d) => dayToX(d.day));
  const rate = days.map((d) => (d.completion_rate == null ? null : Math.round(d.completion_rate * 1000) / 10));
  return make(el, {
    series: [
      { label: L.day, value: (u, v) => (v == null ? '' : new Date(v * 1e3).toISOString().slice(0, 10)) },
      { label: L.skips, stroke: COLORS.skips, fill: `${COLORS.skips}99`, paths: bars(0.6), points: { show: false }, scale: 'n' },
      { label: L.completion, stroke: COLORS.completion, width: 2, scale: '%', spanGaps: false, points: { size: 6 },
        value: (u, v) => (v == null ? '–' : `${v} %`) },
    ],
    axes: [dayAxis(xs), { scale: 'n', label: L.skips }, { scale: '%', side: 1, label: L.completion, grid: { show: false },
      values: (u, s) => s.map((v) => `${v} %`) }],
    scales: { x: dayScale(xs), n: { range: (u, min, max) => [0, Math.max(1, max)] }, '%': { range: [0, 100] } },
  }, [xs, days.map((d) => d.skips), rate]);
}

/** Average listened seconds (the furthest point a session reached) per day. */
export function listenedChart(el, days, L) {
  const xs = days.map((d) => dayToX(d.day));
  return make(el, {
    series: [
      { label: L.day, value: (u, v) => (v == null ? '' : new Date(v * 1e3).toISOString().slice(0, 10)) },
      { label: L.avg_listened_s, stroke: COLORS.listened, width: 2, points: { size: 6 },
        value: (u, v) => (v == null ? '–' : `${v} s`) },
    ],
    axes: [dayAxis(xs), { label: L.seconds }],
    scales: { x: dayScale(xs), y: { range: (u, min, max) => [0, Math.max(1, max)] } },
  }, [xs, days.map((d) => d.avg_listened_s)]);
}

/** The formats downloaded in the range, sorted. */
export function formatsOf(days) {
  return [...new Set(days.flatMap((d) => Object.keys(d.downloads || {})))].sort();
}

/** Downloads per day, one line per format, and the tip jar's clicks. */
export function downloadsChart(el, days, L) {
  const xs = days.map((d) => dayToX(d.day));
  const formats = formatsOf(days);
  return make(el, {
    series: [
      { label: L.day, value: (u, v) => (v == null ? '' : new Date(v * 1e3).toISOString().slice(0, 10)) },
      ...formats.map((f, i) => ({ label: `${L.downloads}: ${f}`, stroke: FORMAT_COLORS[i % FORMAT_COLORS.length],
        width: 2, points: { size: 6 } })),
      { label: L.tip_clicks, stroke: COLORS.tipClicks, width: 2, dash: [6, 4], points: { size: 6 } },
    ],
    axes: [dayAxis(xs), { label: L.count }],
    scales: { x: dayScale(xs), y: { range: (u, min, max) => [0, Math.max(1, max)] } },
  }, [xs, ...formats.map((f) => days.map((d) => (d.downloads || {})[f] || 0)), days.map((d) => d.tip_clicks || 0)]);
}

/** The currencies of the amounts in the range, sorted. */
export function currenciesOf(days) {
  return [...new Set(days.flatMap((d) => [...Object.keys(d.tips_amount || {}), ...Object.keys(d.purchases_amount || {})]))].sort();
}

/** Tips and purchases attributed to a play, per day: their counts (bars) and, on the right axis, their
 * amounts (one line per kind and currency; refunded orders are left out by the companion). */
export function salesChart(el, days, L) {
  const xs = days.map((d) => dayToX(d.day));
  const currencies = currenciesOf(days);
  const amountSeries = [];
  const amountData = [];
  for (const [kind, color] of [['tips', COLORS.tips], ['purchases', COLORS.purchases]]) {
    for (const c of currencies) {
      amountSeries.push({ label: `${L[`${kind}_amount`]} (${c})`, stroke: color, width: 2, dash: [6, 4], scale: 'amount',
        points: { size: 6 } });
      amountData.push(days.map((d) => (d[`${kind}_amount`] || {})[c] || 0));
    }
  }
  return make(el, {
    series: [
      { label: L.day, value: (u, v) => (v == null ? '' : new Date(v * 1e3).toISOString().slice(0, 10)) },
      { label: L.tips, stroke: COLORS.tips, fill: `${COLORS.tips}55`, paths: bars(0.35), points: { show: false } },
      { label: L.purchases, stroke: COLORS.purchases, fill: `${COLORS.purchases}55`, paths: bars(0.35), points: { show: false } },
      ...amountSeries,
    ],
    axes: [dayAxis(xs), { label: L.count }, { scale: 'amount', side: 1, label: L.amount, grid: { show: false } }],
    scales: { x: dayScale(xs), y: { range: (u, min, max) => [0, Math.max(1, max)] },
      amount: { range: (u, min, max) => [0, Math.max(1, max)] } },
  }, [xs, days.map((d) => d.tips || 0), days.map((d) => d.purchases || 0), ...amountData]);
}

/** The player-interaction heat map: one bar per control, as often as it was used (most used first). */
export function interactionsChart(el, interactions, L) {
  const entries = Object.entries(interactions || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (!entries.length) {
    el.textContent = L.none;
    return null;
  }
  const names = entries.map(([k]) => k);
  const peak = Math.max(...entries.map(([, v]) => v));
  const u = make(el, {
    series: [
      { label: L.control, value: (u, v) => (v == null ? '' : names[v] ?? '') },
      { label: L.uses, stroke: COLORS.bar, fill: COLORS.bar, width: 0, paths: uPlot.paths.bars({ size: [0.7, 80], disp: {
        fill: { unit: 3, values: (u, si) => u.data[si].map((v) => `rgba(34,113,177,${(0.25 + 0.75 * v / peak).toFixed(2)})`) },
      } }), points: { show: false } },
    ],
    scales: { x: { time: false, range: [-0.5, names.length - 0.5] }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
    axes: [{ splits: () => names.map((_, i) => i), values: (u, s) => s.map((i) => names[i] ?? ''), gap: 4 }, { label: L.uses }],
  }, [names.map((_, i) => i), entries.map(([, v]) => v)]);
  u.controls = names;
  return u;
}

function mmss(s) {
  const t = Math.max(0, Math.floor(s));
  return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, '0')}`;
}

/** A uPlot plugin that paints the track's waveform envelope behind the series, on the x scale of seconds. */
function waveformPlugin(wave) {
  return {
    hooks: {
      drawAxes: [(u) => {
        if (!wave || !wave.max.length) return;
        const { ctx } = u;
        const { left, top, width: w, height: h } = u.bbox;
        const mid = top + h / 2;
        const amp = h * 0.45;
        const xs = wave.max.map((_, i) => u.valToPos(i * wave.seconds_per_point, 'x', true));
        ctx.save();
        ctx.beginPath();
        ctx.rect(left, top, w, h);
        ctx.clip();
        ctx.beginPath();
        xs.forEach((x, i) => (i ? ctx.lineTo(x, mid - wave.max[i] * amp) : ctx.moveTo(x, mid - wave.max[i] * amp)));
        for (let i = xs.length - 1; i >= 0; i--) ctx.lineTo(xs[i], mid - wave.min[i] * amp);
        ctx.closePath();
        ctx.fillStyle = 'rgba(167,170,173,0.45)';
        ctx.fill();
        ctx.restore();
      }],
    },
  };
}

/** The per-second heat map (starts, seeks, replays, drop-offs, reactions: a step line each) over the waveform. */
export function heatmapChart(el, heat, L) {
  const n = heat.seconds || 0;
  const span = Math.max(n, heat.duration || 0, 1);
  const xs = Array.from({ length: n }, (_, i) => i);
  const u = make(el, {
    height: 300,
    plugins: [waveformPlugin(heat.waveform)],
    series: [
      { label: L.second, value: (u, v) => (v == null ? '' : mmss(v)) },
      ...HEAT_KINDS.map((k) => ({ label: L[k], stroke: COLORS[k], width: 2, paths: uPlot.paths.stepped({ align: 1 }),
        points: { size: 5, filter: (u, si) => u.data[si].flatMap((v, i) => (v ? [i] : [])) } })),
    ],
    scales: { x: { time: false, range: [0, span] }, y: { range: (u, min, max) => [0, Math.max(1, max) * 1.1] } },
    axes: [{ values: (u, s) => s.map(mmss), label: L.position }, { label: L.count }],
  }, [xs, ...HEAT_KINDS.map((k) => heat[k].slice(0, n))]);
  u.waveform = heat.waveform;
  return u;
}
