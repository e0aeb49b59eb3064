// Hearing it: FluidSynth compiled to WebAssembly (js-synthesizer) playing the composition's SoundFont
// (the render engine's presets), a loop over a measure range, a metronome, mute and solo per part.
import * as JSSynth from 'js-synthesizer';
import { q } from './model.js';

let libLoading = null;
function loadLibrary(src) {
  if (!libLoading) {
    libLoading = new Promise((resolve, reject) => {
      if (typeof Module !== 'undefined' && Module.cwrap) { resolve(); return; }
      const s = document.createElement('script');
      s.src = src;
      s.onload = resolve;
      s.onerror = () => reject(new Error('the WebAssembly synth could not be loaded'));
      document.head.appendChild(s);
    }).then(() => JSSynth.waitForReady());
  }
  return libLoading;
}

export class Audio {
  constructor(studio) {
    this.studio = studio;
    this.ready = null;
    this.playing = false;
    this.mute = new Set();
    this.solo = new Set();
    this.metronome = false;
    this.timer = null;
  }

  init() {
    if (!this.ready) this.ready = this._init();
    return this.ready;
  }

  async _init() {
    // FluidSynth runs on the audio thread (an AudioWorklet): a busy page never delays its sound
    const ctx = new AudioContext({ latencyHint: 'interactive' });
    this.ctx = ctx;
    const [sf] = await Promise.all([this.studio.api.soundfont(this.studio.model.version.id),
      ctx.audioWorklet.addModule('/studio/assets/libfluidsynth.js')
        .then(() => ctx.audioWorklet.addModule('/studio/assets/synth-worklet.js'))]);
    const synth = new JSSynth.AudioWorkletNodeSynthesizer();
    synth.init(ctx.sampleRate);
    this.node = synth.createAudioNode(ctx);
    this.analyser = ctx.createAnalyser();
    this.analyser.fftSize = 8192;
    this.analyser.smoothingTimeConstant = 0;
    this.gain = ctx.createGain();
    this.node.connect(this.gain);
    this.gain.connect(this.analyser);
    this.analyser.connect(ctx.destination);
    await synth.loadSFont(sf);
    this.synth = synth;
    this.programs();
    if (ctx.state !== 'running') await ctx.resume().catch(() => {});
    return this;
  }

  programs() {
    for (const p of this.studio.model.parts) {
      if (p.channel !== 9) this.synth.midiProgramChange(p.channel || 0, p.program || 0);
    }
  }

  channel(pid) { const p = this.studio.work.parts.get(pid); return p ? (p.channel || 0) : 0; }

  audible(pid) {
    if (this.solo.size) return this.solo.has(pid);
    return !this.mute.has(pid);
  }

  // Sound a note now (an edit's audition).
  async audition(pid, midi, vel, ms = 400) {
    if (!this.synth) await this.init();
    const ch = this.channel(pid);
    this.synth.midiNoteOn(ch, midi, vel);
    setTimeout(() => this.synth.midiNoteOff(ch, midi), ms);
  }

  secondsPerQuarter() {
    const t = this.studio.model.tempo[0];
    return t ? t.value.us_per_quarter / 1e6 : 0.5;
  }

  // Play the loop range over and over until stop(); edits made meanwhile are heard on the next pass.
  async play() {
    await this.init();
    if (this.ctx.state !== 'running') await this.ctx.resume();
    this.stop();
    this.playing = true;
    const spq = this.secondsPerQuarter();
    const pass = () => {
      if (!this.playing) return;
      const w = this.studio.work;
      const [a, b] = this.studio.loop;
      const t0 = w.measureStart(a);
      const t1 = w.measureStart(b) + w.measureLength(b);
      const timers = [];
      for (const pid of w.parts.keys()) {
        if (!this.audible(pid)) continue;
        const ch = this.channel(pid);
        for (const n of w.notes(pid)) {
          if (n.t < t0 - 1e-9 || n.t >= t1 - 1e-9 || n.e.grace) continue;
          const on = (n.t - t0) * spq * 1000;
          const off = Math.min(t1 - t0, n.t - t0 + n.d) * spq * 1000;
          timers.push(setTimeout(() => this.synth.midiNoteOn(ch, n.e.midi, n.e.velocity), on));
          timers.push(setTimeout(() => this.synth.midiNoteOff(ch, n.e.midi), Math.max(on + 10, off - 5)));
        }
      }
      if (this.metronome) {
        for (let beat = 0; beat < t1 - t0 - 1e-9; beat++) timers.push(setTimeout(() => this.click(beat), beat * spq * 1000));
      }
      this.timers = timers;
      this.timer = setTimeout(pass, (t1 - t0) * spq * 1000);
    };
    pass();
  }

  click() {
    const o = this.ctx.createOscillator();
    const g = this.ctx.createGain();
    o.frequency.value = 1760;
    g.gain.setValueAtTime(0.3, this.ctx.currentTime);
    g.gain.exponentialRampToValueAtTime(0.001, this.ctx.currentTime + 0.05);
    o.connect(g); g.connect(this.ctx.destination);
    o.start(); o.stop(this.ctx.currentTime + 0.06);
  }

  stop() {
    this.playing = false;
    clearTimeout(this.timer);
    for (const t of this.timers || []) clearTimeout(t);
    this.timers = [];
    if (this.synth) for (let ch = 0; ch < 16; ch++) this.synth.midiAllNotesOff(ch);
  }

  // Render a MIDI file with a SoundFont as fast as the WASM synth can (no audio device): the bench's
  // real-time factor. Returns {seconds: of audio, wallMs}.
  static async renderOffline(smf, sf, rate = 44100) {
    await loadLibrary('/studio/assets/libfluidsynth.js');
    const s = new JSSynth.Synthesizer();
    s.init(rate);
    await s.loadSFont(sf);
    await s.addSMFDataToPlayer(smf);
    await s.playPlayer();
    const n = 8192;
    const left = new Float32Array(n); const right = new Float32Array(n);
    let frames = 0;
    let peak = 0;
    const t0 = performance.now();
    while (s.isPlayerPlaying()) {
      s.render([left, right]);
      frames += n;
      for (let i = 0; i < n; i += 64) peak = Math.max(peak, Math.abs(left[i]));
    }
    const wallMs = performance.now() - t0;
    s.close();
    return { seconds: frames / rate, wallMs, peak };
  }

  // Listen for the synth's output next passing an RMS level. Resolves, once the detector on the audio
  // thread is armed, to {at}: a promise of that moment on performance.now()'s clock as it reaches the
  // output (the quantum's context time mapped through getOutputTimestamp, so the output latency is
  // counted), or of null after timeoutMs.
  async heard(threshold = 0.01, timeoutMs = 5000) {
    await this.init();
    if (!this.detector) {
      this.detectorLoading = this.detectorLoading || this.ctx.audioWorklet.addModule('/studio/assets/level-worklet.js')
        .then(() => {
          this.detector = new AudioWorkletNode(this.ctx, 'scripthammer-level', { numberOfInputs: 1, numberOfOutputs: 0 });
          this.gain.connect(this.detector);
        });
      await this.detectorLoading;
    }
    const port = this.detector.port;
    await new Promise((resolve) => {
      port.onmessage = (e) => { if (e.data.armed) resolve(); };
      port.postMessage({ threshold });
    });
    const at = new Promise((resolve) => {
      const timer = setTimeout(() => { port.onmessage = null; resolve(null); }, timeoutMs);
      port.onmessage = (e) => {
        if (!e.data.heard) return;
        clearTimeout(timer);
        port.onmessage = null;
        const ts = this.ctx.getOutputTimestamp();
        const when = ts.performanceTime
          ? ts.performanceTime + (e.data.contextTime - ts.contextTime) * 1000
          : performance.now() - (this.ctx.currentTime - e.data.contextTime) * 1000 + (this.ctx.outputLatency || this.ctx.baseLatency || 0) * 1000;
        resolve(when);
      };
    });
    return { at };
  }

  // The strongest frequency (Hz) and the level (dBFS) the analyser hears now.
  listen() {
    const a = this.analyser;
    const bins = new Float32Array(a.frequencyBinCount);
    a.getFloatFrequencyData(bins);
    let best = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    // parabolic interpolation around the peak
    const y0 = bins[best - 1] ?? bins[best]; const y1 = bins[best]; const y2 = bins[best + 1] ?? bins[best];
    const shift = (y0 - y2) / (2 * (y0 - 2 * y1 + y2) || 1);
    const hz = (best + (Number.isFinite(shift) ? shift : 0)) * this.ctx.sampleRate / a.fftSize;
    const wave = new Float32Array(a.fftSize);
    a.getFloatTimeDomainData(wave);
    let sum = 0;
    for (const v of wave) sum += v * v;
    const rms = Math.sqrt(sum / wave.length);
    return { hz, peakDb: y1, rms, rmsDb: 20 * Math.log10(rms || 1e-12) };
  }
}

export { q };
