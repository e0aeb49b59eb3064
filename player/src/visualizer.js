// The live visualization: an AnalyserNode on the player's output drawn as a spectrum or an
// oscilloscope. It can be switched off and starts off when the listener prefers reduced motion.
import { prefersReducedMotion } from './format.js';

/** RMS of what an AnalyserNode sees now (0 without one). */
export function analyserLevel(analyser) {
  if (!analyser) return 0;
  const buf = new Float32Array(analyser.fftSize);
  analyser.getFloatTimeDomainData(buf);
  let sum = 0;
  for (let i = 0; i < buf.length; i += 1) sum += buf[i] * buf[i];
  return Math.sqrt(sum / buf.length);
}

export const VIS_MODES = ['spectrum', 'oscilloscope', 'off'];

/** The Web Audio graph: <audio> -> MediaElementSource -> AnalyserNode -> destination. Made once per element. */
export class AudioGraph {
  constructor(audio) {
    this.audio = audio;
    this.ctx = null;
    this.analyser = null;
  }

  ensure() {
    if (this.ctx) return this;
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return this;
    try {
      this.ctx = new Ctx({ latencyHint: 'playback' });
      const source = this.ctx.createMediaElementSource(this.audio);
      this.analyser = this.ctx.createAnalyser();
      this.analyser.fftSize = 2048;
      this.analyser.smoothingTimeConstant = 0.75;
      source.connect(this.analyser);
      this.analyser.connect(this.ctx.destination);
    } catch (err) {
      console.warn('[scripthammer-player] no Web Audio graph:', err);
      this.ctx = null;
      this.analyser = null;
    }
    return this;
  }

  resume() {
    if (this.ctx && this.ctx.state === 'suspended') return this.ctx.resume().catch(() => {});
    return Promise.resolve();
  }

  /** RMS of what the analyser sees now (0 when silent or no graph). */
  level() { return analyserLevel(this.analyser); }
}

export class Visualizer {
  constructor(canvas, graph, { mode } = {}) {
    this.canvas = canvas;
    this.graph = graph;
    this.reducedMotion = prefersReducedMotion();
    this.mode = mode && VIS_MODES.includes(mode) ? mode : this.reducedMotion ? 'off' : 'spectrum';
    this.running = false;
    this._raf = 0;
    this._frames = 0;
    this._loop = this._loop.bind(this);
    this._applyVisibility();
  }

  setMode(mode) {
    if (!VIS_MODES.includes(mode)) return false;
    this.mode = mode;
    this._applyVisibility();
    if (mode === 'off') this.stop();
    else if (this.running || this._wanted) this.start();
    return true;
  }

  _applyVisibility() {
    this.canvas.dataset.mode = this.mode;
    if (this.mode === 'off') this._clear();
  }

  /** Start drawing (while playing). Creates the audio graph the first time. */
  start() {
    this._wanted = true;
    if (this.mode === 'off') return;
    this.graph.ensure();
    if (!this.graph.analyser || this.running) return;
    this.running = true;
    this._raf = requestAnimationFrame(this._loop);
  }

  stop() {
    this._wanted = false;
    this.running = false;
    if (this._raf) cancelAnimationFrame(this._raf);
    this._raf = 0;
  }

  get frames() {
    return this._frames;
  }

  _clear() {
    const ctx = this.canvas.getContext('2d');
    if (ctx) ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  _loop() {
    if (!this.running) return;
    this._raf = requestAnimationFrame(this._loop);
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(c.clientWidth * dpr));
    const hgt = Math.max(1, Math.round(c.clientHeight * dpr));
    if (c.width !== w || c.height !== hgt) {
      c.width = w;
      c.height = hgt;
    }
    const ctx = c.getContext('2d');
    const an = this.graph.analyser;
    if (!ctx || !an) return;
    this._frames += 1;
    const color = getComputedStyle(c).getPropertyValue('--shp-accent').trim() || '#e4572e';
    ctx.clearRect(0, 0, w, hgt);
    if (this.mode === 'spectrum') {
      const bins = new Uint8Array(an.frequencyBinCount);
      an.getByteFrequencyData(bins);
      const bars = Math.min(96, Math.floor(w / (4 * dpr)));
      const bw = w / bars;
      ctx.fillStyle = color;
      // Log-spaced bands: low frequencies get more bars.
      for (let i = 0; i < bars; i += 1) {
        const lo = Math.floor(Math.pow(bins.length, i / bars));
        const hi = Math.max(lo + 1, Math.floor(Math.pow(bins.length, (i + 1) / bars)));
        let v = 0;
        for (let k = lo; k < hi && k < bins.length; k += 1) v = Math.max(v, bins[k]);
        const bh = (v / 255) * hgt;
        ctx.fillRect(i * bw, hgt - bh, Math.max(1, bw - dpr), bh);
      }
    } else {
      const buf = new Uint8Array(an.fftSize);
      an.getByteTimeDomainData(buf);
      ctx.strokeStyle = color;
      ctx.lineWidth = 2 * dpr;
      ctx.beginPath();
      for (let i = 0; i < buf.length; i += 1) {
        const x = (i / (buf.length - 1)) * w;
        const y = (buf[i] / 255) * hgt;
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
      ctx.stroke();
    }
  }
}
