"""SVG charts of the listening figures, drawn on the server with plain string building (no charting
dependency): the wp-admin dashboard fetches them with its signed request and inlines them, so the
companion's secret never reaches a browser.

- :func:`daily_svg`: one bar per day (plays; the part past 30 s darker) and one point per day
  (unique listeners) on a line, with the day's figures in each element's ``<title>`` (a hover tooltip);
- :func:`heatmap_svg`: the track's real waveform (its peaks) with, over it, one column per second where
  anything happened, as dark as the second's total; and under it a lane per kind (starts, seeks to,
  replays, drop-offs, reactions) with one cell per second that has any.

Every element that carries a figure has a class (``bar``, ``point``, ``heat``, ``cell <kind>``) and
``data-`` attributes, so the tests (and anyone) can read the numbers back from the picture.
"""
from __future__ import annotations

from html import escape

from companion.analytics.metrics import HEAT_KINDS

COLORS = {"plays": "#9db4d8", "plays_30s": "#2f5d9e", "listeners": "#d9822b", "starts": "#2f9e44",
          "seeks": "#1c7ed6", "replays": "#7048e8", "dropoffs": "#e03131", "reactions": "#f08c00",
          "wave": "#495057", "heat": "#c92a2a", "text": "#343a40", "grid": "#dee2e6"}
FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="11"'


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def _open(width: int, height: int, label: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{escape(label)}" class="scripthammer-chart">',
            f"<title>{escape(label)}</title>",
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>']


def daily_svg(rows: list[dict], title: str, *, width: int = 900, height: int = 280) -> str:
    """Bars of plays per day (past 30 s darker), points of unique listeners, axes and labels."""
    left, right, top, bottom = 44, 16, 28, 44
    pw, ph = width - left - right, height - top - bottom
    n = max(1, len(rows))
    peak = max([1] + [max(r["plays"], r["listeners"]) for r in rows])
    step = pw / n
    bw = max(1.0, step * 0.7)
    out = _open(width, height, title)
    out.append(f'<text x="{left}" y="16" {FONT} fill="{COLORS["text"]}" font-weight="600">{escape(title)}</text>')
    legend_x = width - right - 330
    for i, (key, text) in enumerate((("plays", "plays"), ("plays_30s", "past 30 s"), ("listeners", "listeners"))):
        x = legend_x + i * 110
        out.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{COLORS[key]}"/>'
                   f'<text x="{x + 14}" y="17" {FONT} fill="{COLORS["text"]}">{text}</text>')
    for frac in (0, 0.5, 1):  # grid lines with their values
        y = top + ph - ph * frac
        out.append(f'<line x1="{left}" y1="{_n(y)}" x2="{width - right}" y2="{_n(y)}" stroke="{COLORS["grid"]}"/>'
                   f'<text x="{left - 6}" y="{_n(y + 4)}" {FONT} text-anchor="end" '
                   f'fill="{COLORS["text"]}">{_n(round(peak * frac, 1))}</text>')

    def y_of(v: float) -> float:
        return top + ph - ph * v / peak

    points = []
    out.append('<g class="bars">')
    for i, r in enumerate(rows):
        x = left + i * step + (step - bw) / 2
        tip = (f'{r["day"]}: {r["plays"]} plays, {r["plays_30s"]} past 30 s, {r["listeners"]} listeners, '
               f'{r["completions"]} completions, {r["skips"]} skips')
        for key, cls in (("plays", "bar"), ("plays_30s", "bar-30s")):
            v = r[key]
            out.append(f'<rect class="{cls}" data-day="{r["day"]}" data-value="{v}" x="{_n(x)}" y="{_n(y_of(v))}" '
                       f'width="{_n(bw)}" height="{_n(ph * v / peak)}" fill="{COLORS[key]}"><title>{escape(tip)}'
                       f'</title></rect>')
        points.append((x + bw / 2, y_of(r["listeners"]), r))
    out.append("</g>")
    if points:
        out.append(f'<polyline fill="none" stroke="{COLORS["listeners"]}" stroke-width="1.5" points="'
                   + " ".join(f"{_n(x)},{_n(y)}" for x, y, _ in points) + '"/>')
    out.append('<g class="points">')
    for x, y, r in points:
        out.append(f'<circle class="point" data-day="{r["day"]}" data-value="{r["listeners"]}" cx="{_n(x)}" '
                   f'cy="{_n(y)}" r="3" fill="{COLORS["listeners"]}"><title>{r["day"]}: {r["listeners"]} listeners'
                   f'</title></circle>')
    out.append("</g>")
    every = max(1, len(rows) // 8)  # about 8 day labels
    for i, r in enumerate(rows):
        if i % every == 0 or i == len(rows) - 1:
            x = left + i * step + step / 2
            out.append(f'<text x="{_n(x)}" y="{height - bottom + 16}" {FONT} text-anchor="middle" '
                       f'fill="{COLORS["text"]}">{r["day"][5:]}</text>')
    out.append("</svg>")
    return "".join(out)


def _wave(peaks: dict | None, seconds: float) -> tuple[list[float], list[float]] | None:
    """(mins, maxs) in [-1, 1] per waveform pixel of the peaks document, over ``seconds`` of audio."""
    if not peaks or not peaks.get("data"):
        return None
    data = peaks["data"]
    # drawn to the band's height: a quiet recording still shows its shape (as the player draws it)
    scale = float(max([1] + [abs(v) for v in data]))
    mins = [v / scale for v in data[0::2]]
    maxs = [v / scale for v in data[1::2]]
    return mins, maxs


def heatmap_svg(heat: dict, peaks: dict | None, title: str, *, width: int = 900) -> str:
    """The heat map over the waveform (peaks: the audiowaveform JSON; None draws without it)."""
    left, right = 70, 12
    wave_top, wave_h = 28, 120
    lane_h, lane_gap = 16, 4
    lanes_top = wave_top + wave_h + 14
    height = lanes_top + len(HEAT_KINDS) * (lane_h + lane_gap) + 24
    pw = width - left - right
    seconds = max(1, int(heat["seconds"]))
    duration = float(heat.get("duration") or seconds)
    last = max([0] + [i + 1 for k in HEAT_KINDS for i, v in enumerate(heat[k]) if v])
    span = max(duration, float(last), 1.0)  # the track's length (longer only if events lie beyond it)
    sx = pw / span
    out = _open(width, height, title)
    out.append(f'<text x="{left}" y="16" {FONT} fill="{COLORS["text"]}" font-weight="600">{escape(title)}</text>')
    totals = [sum(heat[k][i] for k in HEAT_KINDS) for i in range(seconds)]
    peak = max([1] + totals)
    out.append('<g class="heat-over-wave">')
    for i, t in enumerate(totals):
        if t:
            tip = f"{i // 60}:{i % 60:02d} — " + ", ".join(f"{heat[k][i]} {k}" for k in HEAT_KINDS if heat[k][i])
            out.append(f'<rect class="heat" data-second="{i}" data-total="{t}" x="{_n(left + i * sx)}" '
                       f'y="{wave_top}" width="{_n(max(1.0, sx))}" height="{wave_h}" fill="{COLORS["heat"]}" '
                       f'fill-opacity="{0.15 + 0.6 * t / peak:.2f}"><title>{escape(tip)}</title></rect>')
    out.append("</g>")
    mid = wave_top + wave_h / 2
    wave = _wave(peaks, duration)
    if wave:
        mins, maxs = wave
        rate = float(peaks.get("sample_rate") or 44100)
        spp = float(peaks.get("samples_per_pixel") or 256)
        px_s = spp / rate  # seconds per peaks pixel
        cols = min(len(maxs), pw)  # at most one column per drawn pixel
        per = len(maxs) / cols if cols else 1
        top_pts, bot_pts = [], []
        for c in range(cols):
            a, b = int(c * per), max(int(c * per) + 1, int((c + 1) * per))
            t = a * px_s
            x = left + t * sx
            hi, lo = max(maxs[a:b]), min(mins[a:b])
            top_pts.append(f"{_n(x)},{_n(mid - hi * wave_h * 0.42)}")
            bot_pts.append(f"{_n(x)},{_n(mid - lo * wave_h * 0.42)}")
        out.append(f'<path class="waveform" data-pixels="{len(maxs)}" fill="{COLORS["wave"]}" fill-opacity="0.55" d="M'
                   + " L".join(top_pts + bot_pts[::-1]) + ' Z"/>')
    else:
        out.append(f'<line class="waveform-missing" x1="{left}" y1="{mid}" x2="{width - right}" y2="{mid}" '
                   f'stroke="{COLORS["wave"]}"/>')
    for j, kind in enumerate(HEAT_KINDS):
        y = lanes_top + j * (lane_h + lane_gap)
        lane_peak = max([1] + heat[kind])
        out.append(f'<text x="{left - 6}" y="{y + lane_h - 4}" {FONT} text-anchor="end" '
                   f'fill="{COLORS["text"]}">{kind}</text>'
                   f'<rect x="{left}" y="{y}" width="{pw}" height="{lane_h}" fill="#f8f9fa"/>')
        out.append(f'<g class="lane" data-kind="{kind}" data-total="{sum(heat[kind])}">')
        for i, v in enumerate(heat[kind]):
            if v:
                out.append(f'<rect class="cell {kind}" data-second="{i}" data-value="{v}" x="{_n(left + i * sx)}" '
                           f'y="{y}" width="{_n(max(1.0, sx))}" height="{lane_h}" fill="{COLORS[kind]}" '
                           f'fill-opacity="{0.25 + 0.75 * v / lane_peak:.2f}"><title>{i // 60}:{i % 60:02d} '
                           f'{v} {kind}</title></rect>')
        out.append("</g>")
    axis_y = height - 8
    tick = 1 if span <= 15 else 5 if span <= 60 else 10 if span <= 120 else 30 if span <= 600 else 60
    for s in range(0, int(span) + 1, tick):
        out.append(f'<text x="{_n(left + s * sx)}" y="{axis_y}" {FONT} text-anchor="middle" '
                   f'fill="{COLORS["text"]}">{s // 60}:{s % 60:02d}</text>')
    out.append("</svg>")
    return "".join(out)
