// The waveform seek bar: drawn from the track's peaks (BBC audiowaveform JSON), clickable and
// keyboard-operable (role="slider"). Without peaks it is a plain bar that still seeks.
import { formatTime, spokenTime } from './format.js';

/** Choose the peaks file whose length is closest to (and preferably not below) ``pixels``. */
export function choosePeaks(peaks, pixels) {
  if (!peaks || !peaks.length) return null;
  const withLen = peaks.filter((p) => p.url);
  const enough = withLen.filter((p) => (p.length || 0) >= pixels).sort((a, b) => a.length - b.length);
  if (enough.length) return enough[0];
  return withLen.sort((a, b) => (b.length || 0) - (a.length || 0))[0] || null;
}

/** Reduce audiowaveform data to ``bars`` values in 0..1 (max |amplitude| across channels). */
export function barsFrom(json, bars) {
  const channels = json.channels || 1;
  const full = json.bits === 16 ? 32768 : 128;
  const data = json.data || [];
  const length = json.length || Math.floor(data.length / (2 * channels));
  const out = new Float32Array(bars);
  if (!length) return out;
  for (let b = 0; b < bars; b += 1) {
    const start = Math.floor((b * length) / bars);
    const end = Math.max(start + 1, Math.floor(((b + 1) * length) / bars));
    let peak = 0;
    for (let i = start; i < end && i < length; i += 1) {
      for (let c = 0; c < channels; c += 1) {
        const base = (i * channels + c) * 2;
        peak = Math.max(peak, Math.abs(data[base]), Math.abs(data[base + 1]));
      }
    }
    out[b] = Math.min(1, peak / full);
  }
  // Normalised like other players' waveforms: the loudest bar fills the height, quiet masters stay readable.
  let max = 0;
  for (let b = 0; b < bars; b += 1) max = Math.max(max, out[b]);
  if (max > 0) for (let b = 0; b < bars; b += 1) out[b] /= max;
  return out;
}

export class Waveform {
  /**
   * @param {HTMLElement} el   the slider element (contains a canvas)
   * @param {object} opts      {onSeek(seconds), label}
   */
  constructor(el, { onSeek, label = 'Seek' } = {}) {
    this.el = el;
    this.onSeek = onSeek;
    this.canvas = el.querySelector('canvas');
    this.duration = 0;
    this.time = 0;
    this.buffered = 0;
    this.bars = null;
    this.peaksJson = null;
    this._raf = 0;
    el.setAttribute('role', 'slider');
    el.setAttribute('tabindex', '0');
    el.setAttribute('aria-label', label);
    el.setAttribute('aria-valuemin', '0');
    el.addEventListener('click', (e) => this._click(e));
    el.addEventListener('keydown', (e) => this._key(e));
    if (typeof ResizeObserver === 'function') {
      this._ro = new ResizeObserver(() => this._resize());
      this._ro.observe(el);
    }
    this._resize();
  }

  async loadPeaks(peaks, fetchImpl = fetch) {
    this.peaksJson = null;
    this.bars = null;
    this.draw();
    const width = Math.max(64, Math.round(this.el.clientWidth || 600));
    const choice = choosePeaks(peaks, width);
    if (!choice) return false;
    try {
      const resp = await fetchImpl(choice.url, { mode: 'cors' });
      if (!resp.ok) return false;
      this.peaksJson = await resp.json();
      this._rebars();
      this.draw();
      return true;
    } catch {
      return false;
    }
  }

  setDuration(d) {
    this.duration = Number.isFinite(d) && d > 0 ? d : 0;
    this.el.setAttribute('aria-valuemax', String(Math.round(this.duration)));
    this.setTime(this.time);
  }

  setTime(t, buffered) {
    this.time = t || 0;
    if (buffered !== undefined) this.buffered = buffered;
    this.el.setAttribute('aria-valuenow', String(Math.round(this.time)));
    this.el.setAttribute('aria-valuetext', `${spokenTime(this.time)} of ${spokenTime(this.duration)}`);
    this.el.title = `${formatTime(this.time)} / ${formatTime(this.duration)}`;
    if (!this._raf) this._raf = requestAnimationFrame(() => { this._raf = 0; this.draw(); });
  }

  _click(e) {
    if (!this.duration) return;
    const rect = this.el.getBoundingClientRect();
    const ratio = Math.min(1, Math.max(0, (e.clientX - rect.left) / rect.width));
    this.onSeek && this.onSeek(ratio * this.duration, 'waveform');
  }

  _key(e) {
    if (!this.duration) return;
    const step = e.shiftKey ? 30 : 5;
    let to = null;
    if (e.key === 'Home') to = 0;
    else if (e.key === 'End') to = Math.max(0, this.duration - 1);
    else if (e.key === 'PageUp') to = this.time + 30;
    else if (e.key === 'PageDown') to = this.time - 30;
    else if (e.key === 'ArrowRight' || e.key === 'ArrowUp') to = this.time + step;
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowDown') to = this.time - step;
    if (to === null) return;
    e.preventDefault();
    e.stopPropagation();
    this.onSeek && this.onSeek(Math.min(this.duration, Math.max(0, to)), 'keyboard');
  }

  _resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.el.clientWidth * dpr));
    const hgt = Math.max(1, Math.round(this.el.clientHeight * dpr));
    if (this.canvas.width !== w || this.canvas.height !== hgt) {
      this.canvas.width = w;
      this.canvas.height = hgt;
      this._rebars();
    }
    this.draw();
  }

  _rebars() {
    if (!this.peaksJson) return;
    const dpr = window.devicePixelRatio || 1;
    const barWidth = 3 * dpr;
    this.bars = barsFrom(this.peaksJson, Math.max(16, Math.floor(this.canvas.width / barWidth)));
  }

  draw() {
    const c = this.canvas;
    const ctx = c.getContext('2d');
    if (!ctx) return;
    const style = getComputedStyle(this.el);
    const played = style.getPropertyValue('--shp-accent').trim() || '#e4572e';
    const rest = style.getPropertyValue('--shp-wave').trim() || '#9aa0a6';
    const loaded = style.getPropertyValue('--shp-wave-loaded').trim() || '#6b7177';
    ctx.clearRect(0, 0, c.width, c.height);
    const progress = this.duration ? this.time / this.duration : 0;
    const buffered = this.duration ? this.buffered / this.duration : 0;
    const mid = c.height / 2;
    if (!this.bars) {
      const barH = Math.max(2, Math.round(c.height * 0.12));
      ctx.fillStyle = rest;
      ctx.fillRect(0, mid - barH / 2, c.width, barH);
      ctx.fillStyle = loaded;
      ctx.fillRect(0, mid - barH / 2, c.width * buffered, barH);
      ctx.fillStyle = played;
      ctx.fillRect(0, mid - barH / 2, c.width * progress, barH);
      return;
    }
    const n = this.bars.length;
    const step = c.width / n;
    const w = Math.max(1, step * 0.66);
    for (let i = 0; i < n; i += 1) {
      const x = i * step;
      const frac = (i + 0.5) / n;
      const amp = Math.max(0.04, this.bars[i]) * (c.height - 2) / 2;
      ctx.fillStyle = frac <= progress ? played : frac <= buffered ? loaded : rest;
      ctx.fillRect(x, mid - amp, w, amp * 2);
    }
  }

  destroy() {
    if (this._ro) this._ro.disconnect();
    if (this._raf) cancelAnimationFrame(this._raf);
  }
}
