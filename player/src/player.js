// The player: builds its DOM in a container and wires stream, waveform, visualizer, playlist,
// downloads, tip jar, beacons and keyboard together behind a small public API.
import { authHeaders, expiring, renderPrompt } from './access.js';
import { Beacons } from './beacons.js';
import { Emitter } from './emitter.js';
import { Feedback } from './feedback.js';
import { mark } from './marks.js';
import { renderDownloads } from './downloads.js';
import { OfflineStore, offlineSupported, registerServiceWorker, savable } from './offline.js';
import { AppBar } from './app.js';
import { formatTime, h } from './format.js';
import { ICONS } from './icons.js';
import { Playlist, Positions, resumeAt } from './playlist.js';
import { Stream } from './stream.js';
import { renderTipJar, tipConfigured } from './tipjar.js';
import { bindKeyboard } from './keyboard.js';
import { AudioGraph, VIS_MODES, Visualizer } from './visualizer.js';
import { Waveform } from './waveform.js';

const PROGRESS_EVERY = 10; // seconds of listening between 'progress' beacons
let uid = 0;

function iconButton(cls, label, icon, onclick, extra = {}) {
  return h('button', { type: 'button', class: `shp-btn ${cls}`, 'aria-label': label, title: label, html: icon, onclick, ...extra });
}

export class Player extends Emitter {
  /**
   * @param {HTMLElement} container
   * @param {object} options  {track, album, tracks, index, api, beaconUrl, tip, unlock, visualizer, autoplay,
   *                           continuous, keyboardTarget, hlsConfig, listenerToken}
   */
  constructor(container, options = {}) {
    super();
    mark('mount');
    this.container = container;
    this.options = options;
    this.api = (options.api || location.origin).replace(/\/$/, '');
    this.id = `shp-${(uid += 1)}`;
    this.track = null;
    // A signed-in fan's token (from the embed's fragment): kept here only, sent to the companion's API.
    this.listenerToken = typeof options.listenerToken === 'string' ? options.listenerToken : null;
    this.positions = new Positions(options.storage);
    this.playlist = new Playlist([], { loop: !!options.loop });
    // The embed page's fast start (boot.js) may already be playing the first segment on its own element.
    const boot = takeBoot(options);
    this.audio = boot ? boot.audio : h('audio', { preload: 'auto', crossorigin: 'anonymous' });
    this.audio.crossOrigin = 'anonymous';
    this.stream = new Stream(this.audio, {
      hlsConfig: options.hlsConfig || {}, preferNative: !!options.preferNative, startLevel: options.startLevel,
    });
    this.graph = new AudioGraph(this.audio);
    this._prestarted = this._prestart(boot && boot.state === 'ready' ? boot : null);
    const beaconUrl = options.beaconUrl === false ? null : options.beaconUrl || `${this.api}/api/beacons`;
    this.beacons = new Beacons(beaconUrl, { page: options.page || location.href, consent: options.consent });
    this._played = 0;
    this._lastTime = 0;
    this._lastSaved = 0;
    // The installable app (options.pwa): the service worker, and offline saves on the companion's own pages.
    // The app's start page (/app) installs the service worker; an embed page offers offline saves once the
    // worker controls it (the fan has the app), and never starts a worker of its own (embeds live in iframes).
    const pwa = options.pwa || null;
    if (pwa && pwa.sw && pwa.app) registerServiceWorker(pwa.sw);
    const withWorker = pwa && (pwa.app || (typeof navigator !== 'undefined' && navigator.serviceWorker && navigator.serviceWorker.controller));
    this.offline = withWorker && offlineSupported(this.api) ? new OfflineStore(this.api, () => this.listenerToken, pwa.offlineKey) : null;
    this._saved = new Set();
    this._build();
    this._mediaSession();
    // The installed app's start page (/app): sign-in (device grant) and notifications.
    this.app = pwa && pwa.app ? new AppBar(this) : null;
    this.visualizer = new Visualizer(this.el.viz, this.graph, { mode: options.visualizer });
    this.el.vizSelect.value = this.visualizer.mode;
    this._wire();
    this.ready = this._init().catch((err) => this._fail(err));
  }

  // ---- public API ---------------------------------------------------------------------------------

  get currentTime() { return this.audio.currentTime || 0; }

  get duration() {
    const d = this.audio.duration;
    return Number.isFinite(d) && d > 0 ? d : (this.track && this.track.duration) || 0;
  }

  get paused() { return this.audio.paused; }

  get volume() { return this.audio.volume; }

  get muted() { return this.audio.muted; }

  async play() {
    mark('play');
    if (this.track && this.listenerToken && expiring(this.track)) await this._renew(true);
    this.graph.resume();
    if (this.visualizer.mode !== 'off') this.visualizer.start();
    try {
      await this.audio.play();
      return true;
    } catch (err) {
      if (err && err.name === 'AbortError') return false; // a new source replaced this one
      this._status('Press play to start listening.');
      return false;
    }
  }

  pause() {
    this.audio.pause();
    return true;
  }

  toggle() {
    return this.audio.paused ? this.play() : this.pause();
  }

  seek(seconds, source = 'api') {
    const to = Math.max(0, Math.min(Number(seconds) || 0, this.duration || Number(seconds) || 0));
    const from = this.currentTime;
    this.audio.currentTime = to;
    this.waveform.setTime(to);
    this._lastTime = to;
    if (this.track) this.beacons.track('seek', this.track.id, to, { from: Math.round(from * 100) / 100, to: Math.round(to * 100) / 100 });
    this.emit('seeked', { from, to, source });
    return to;
  }

  /** Load a track (catalog JSON or id). In album mode an id of the album's track selects it. */
  async load(trackOrId, { autoplay = false } = {}) {
    const i = typeof trackOrId === 'object' ? -1 : this.playlist.indexOf(trackOrId);
    if (i >= 0) return this._select(i, { autoplay });
    const track = typeof trackOrId === 'object' ? trackOrId : await this._fetchJson(`/api/tracks/${encodeURIComponent(trackOrId)}`);
    this.playlist.set([track], 0);
    this._renderList();
    return this._select(0, { autoplay });
  }

  next() { return this._step(this.playlist.next()); }

  previous() {
    if (this.currentTime > 3) return this.seek(0, 'previous');
    return this._step(this.playlist.previous());
  }

  setLevel(index) {
    const ok = this.stream.setLevel(index);
    this.el.quality.value = String(this.stream.autoLevel ? -1 : index);
    return ok;
  }

  setVolume(v) {
    this.audio.volume = Math.max(0, Math.min(1, Number(v)));
    if (this.audio.volume > 0 && this.audio.muted) this.audio.muted = false;
    return this.audio.volume;
  }

  setMuted(m) {
    this.audio.muted = !!m;
    return this.audio.muted;
  }

  /**
   * The visitor's consent to listening statistics, as the embedding site knows it: true, false, or
   * null when the site does not ask. Without consent the player queues and sends no beacons (what is
   * queued is dropped); a change applies at once (the WordPress plugin's consent script calls it).
   */
  setConsent(consent) {
    return this.beacons.setConsent(consent);
  }

  /** A timed reaction (one of fire, heart, wow, laugh, sad, clap; optional plain-text comment) at the
   * current position, sent with the beacons (the heat map counts it); a signed-in fan's is kept
   * as feedback too (a marker on the waveform, pending until approved; ``lastFeedback`` is the promise of
   * the stored item, null when refused). Returns true, or false without a track. */
  react(emoji, text) {
    if (!this.track) return false;
    const data = {};
    if (emoji) data.emoji = String(emoji);
    if (text) data.text = String(text).slice(0, 280);
    const at = this.audio.currentTime;
    const track = this.track;
    if (!this.feedback.signedIn) {
      this.beacons.track('reaction', track.id, at, data);
      return true;
    }
    // A fan's: the beacon follows once the companion kept it (a refused one, e.g. with markup, would
    // make the whole beacon batch refused).
    this.lastFeedback = this.feedback.post(track, at, data).then((kept) => {
      if (kept) this.beacons.track('reaction', track.id, at, data);
      return kept;
    });
    return true;
  }

  setVisualizer(mode) {
    if (this.track) this.beacons.track('ui', this.track.id, this.audio.currentTime, { control: 'visualizer' });
    const ok = this.visualizer.setMode(mode);
    this.el.vizSelect.value = this.visualizer.mode;
    if (ok && mode !== 'off' && !this.audio.paused) this.visualizer.start();
    return ok;
  }

  /** How loud the output is right now (RMS seen by the AnalyserNode); creates the graph if needed. */
  audioLevel() {
    this.graph.ensure();
    this.graph.resume();
    return this.graph.level();
  }

  /** Save the current track (or ``track``) for offline listening; resolves to the saved item. Rejects
   * (err.code not_downloadable / download_refused) when the companion gave this fan no download of it. */
  async saveOffline(track = this.track) {
    if (!this.offline) throw Object.assign(new Error('Offline saves need the app (this companion\'s own page).'), { code: 'offline_unavailable' });
    try {
      const saved = await this.offline.save(track);
      this._saved.add(String(saved.id));
      this._status(`${saved.title} saved for offline.`);
      this.emit('offline', { action: 'saved', track: saved.id });
      return saved;
    } finally {
      if (this.track) this._renderOffline(this.track);
    }
  }

  async removeOffline(trackId = this.track && this.track.id) {
    if (!this.offline) return false;
    const removed = await this.offline.remove(trackId);
    this._saved.delete(String(trackId));
    this.emit('offline', { action: 'removed', track: trackId });
    if (this.track) this._renderOffline(this.track);
    return removed;
  }

  /** What this listener saved in this browser. */
  async offlineItems() {
    return this.offline ? this.offline.list() : [];
  }

  getState() {
    return {
      ready: !!this._ready,
      track: this.track ? { id: this.track.id, title: this.track.title, artist: this.track.artist } : null,
      index: this.playlist.index, tracks: this.playlist.tracks.map((t) => t.id),
      currentTime: this.currentTime, duration: this.duration, paused: this.paused, ended: this.audio.ended,
      volume: this.volume, muted: this.muted, mode: this.stream.mode,
      levels: this.stream.levels.map((l) => ({ index: l.index, bitrate: l.bitrate })),
      level: this.stream.currentLevel,
      autoLevel: this.stream.autoLevel, bitrate: this.stream.currentBitrate, visualizer: this.visualizer.mode,
      fastStart: !!this.stream.fastStart, offline: this.stream.mode === 'offline',
      consent: typeof this.beacons.consent === 'boolean' ? this.beacons.consent : null,
    };
  }

  destroy() {
    this._savePosition();
    this.beacons.destroy();
    this.stream.destroy();
    this.visualizer.stop();
    this.waveform.destroy();
    if (this._unbindKeys) this._unbindKeys();
    this.root.remove();
  }

  // ---- building -----------------------------------------------------------------------------------

  _build() {
    const id = this.id;
    const el = (this.el = {});
    el.cover = h('div', { class: 'shp-cover', 'aria-hidden': 'true' });
    el.play = iconButton('shp-play', 'Play', ICONS.play, () => this.toggle(), { 'aria-pressed': 'false' });
    el.title = h('div', { class: 'shp-title', id: `${id}-title` }, '\u00a0');
    el.artist = h('div', { class: 'shp-artist' }, '\u00a0');
    el.badge = h('span', { class: 'shp-badge', hidden: true }, 'Preview');
    el.prompt = h('div', { class: 'shp-prompt', role: 'note', hidden: true });
    el.time = h('div', { class: 'shp-time', 'aria-hidden': 'true' }, '0:00 / 0:00');
    el.wave = h('div', { class: 'shp-wave' }, h('canvas', { 'aria-hidden': 'true' }));
    el.prev = iconButton('shp-prev', 'Previous track', ICONS.prev, () => this.previous());
    el.next = iconButton('shp-next', 'Next track', ICONS.next, () => this.next());
    el.mute = iconButton('shp-mute', 'Mute', ICONS.volume, () => this.setMuted(!this.muted), { 'aria-pressed': 'false' });
    el.quality = h('select', { class: 'shp-select shp-quality', 'aria-label': 'Streaming quality', disabled: true },
      h('option', { value: '-1' }, 'Auto'));
    el.vizSelect = h('select', { class: 'shp-select shp-vizmode', 'aria-label': 'Visualization' },
      h('option', { value: 'spectrum' }, 'Spectrum'), h('option', { value: 'oscilloscope' }, 'Scope'),
      h('option', { value: 'off' }, 'Vis off'));
    el.dlPanel = h('div', { class: 'shp-panel shp-downloads', id: `${id}-downloads`, hidden: true });
    el.tipPanel = h('div', { class: 'shp-panel shp-tipjar', id: `${id}-tip`, hidden: true });
    el.dlButton = iconButton('shp-dl-toggle', 'Downloads', ICONS.download, () => this._togglePanel('dl'),
      { 'aria-expanded': 'false', 'aria-controls': `${id}-downloads` });
    el.tipButton = iconButton('shp-tip-toggle', 'Tip the band', ICONS.heart, () => this._togglePanel('tip'),
      { 'aria-expanded': 'false', 'aria-controls': `${id}-tip`, hidden: !tipConfigured(this.options.tip) });
    el.viz = h('canvas', { class: 'shp-viz', 'aria-hidden': 'true' });
    el.list = h('ol', { class: 'shp-list', 'aria-label': 'Tracks', hidden: true });
    el.status = h('div', { class: 'shp-status shp-sr', role: 'status', 'aria-live': 'polite' });
    this.root = h('section', { class: 'shp', id, 'aria-labelledby': `${id}-title`, 'aria-roledescription': 'audio player', tabindex: '-1' },
      h('div', { class: 'shp-main' },
        el.cover,
        h('div', { class: 'shp-body' },
          h('div', { class: 'shp-head' }, el.play,
            h('div', { class: 'shp-meta' }, el.title, h('div', { class: 'shp-sub' }, el.artist, el.badge)), el.time),
          el.wave,
          h('div', { class: 'shp-controls' }, el.prev, el.next, el.mute, el.quality, el.vizSelect,
            h('span', { class: 'shp-spacer' }), el.dlButton, el.tipButton))),
      el.prompt, el.viz, el.dlPanel, el.tipPanel, el.list, el.status, this.audio);
    this.container.replaceChildren(this.root);
    this.waveform = new Waveform(el.wave, { onSeek: (t, src) => this.seek(t, src), label: 'Seek' });
    this.feedback = new Feedback(this, el.wave);
    el.wave.after(this.feedback.bar);
  }

  _wire() {
    const a = this.audio;
    this._onPlay = () => {
      this._setPlaying(true);
      if (this.track) this.beacons.track('play', this.track.id, a.currentTime, { mode: this.stream.mode || undefined });
      this.emit('play', { track: this.track && this.track.id, currentTime: a.currentTime });
    };
    a.addEventListener('play', this._onPlay);
    a.addEventListener('pause', () => {
      this._setPlaying(false);
      this._savePosition();
      if (!a.ended && this.track) this.beacons.track('pause', this.track.id, a.currentTime);
      this.emit('pause', { track: this.track && this.track.id, currentTime: a.currentTime });
    });
    a.addEventListener('timeupdate', () => this._tick());
    a.addEventListener('durationchange', () => {
      this.waveform.setDuration(this.duration);
      this._renderTime();
      this.feedback.render();
    });
    a.addEventListener('progress', () => this._tick(true));
    a.addEventListener('ended', () => this._ended());
    a.addEventListener('volumechange', () => {
      this.el.mute.innerHTML = a.muted || a.volume === 0 ? ICONS.muted : ICONS.volume;
      this.el.mute.setAttribute('aria-pressed', String(a.muted));
      this.el.mute.setAttribute('aria-label', a.muted ? 'Unmute' : 'Mute');
      this.emit('volumechange', { volume: a.volume, muted: a.muted });
    });
    a.addEventListener('waiting', () => this.root.classList.add('shp-loading'));
    a.addEventListener('playing', () => this.root.classList.remove('shp-loading'));
    this.stream.on('levels', ({ levels }) => this._renderLevels(levels));
    const showMode = (mode) => {
      this.root.dataset.mode = mode;
      this.el.badge.hidden = mode !== 'preview';
    };
    this.stream.on('mode', ({ mode }) => showMode(mode));
    if (this.stream.mode) showMode(this.stream.mode); // set by the fast start, before the DOM was built
    this.stream.on('levelswitch', (d) => {
      if (this.track) this.beacons.track('bitrate', this.track.id, a.currentTime, { level: d.level, bitrate: d.bitrate || 0, mode: 'hls.js' });
      this.root.dataset.level = String(d.level);
      this.emit('levelswitch', d);
    });
    this.stream.on('error', (d) => {
      this._status(d.message);
      this.emit('error', d);
    });
    this.el.quality.addEventListener('change', () => this.setLevel(Number(this.el.quality.value)));
    this.el.vizSelect.addEventListener('change', () => this.setVisualizer(this.el.vizSelect.value));
    this.playlist.on('select', ({ track }) => this._renderCurrent(track));
    this._unbindKeys = bindKeyboard(this.options.keyboardTarget || this.root, this, { root: this.root });
    window.addEventListener('pagehide', () => this._savePosition());
  }

  /**
   * The fast start: when the first track is inline (embed pages), start streaming it (and playing
   * it, with autoplay) before the player's DOM is built; ``_select`` then adopts this stream.
   */
  _prestart(boot) {
    const o = this.options;
    let tracks = null;
    if (o.album && typeof o.album === 'object') tracks = o.album.tracks || [];
    else if (o.tracks) tracks = o.tracks;
    else if (o.track && typeof o.track === 'object') tracks = [o.track];
    if (!tracks || !tracks.length) return null;
    let index = 0;
    if (o.index !== undefined) index = Number(o.index) || 0;
    else if (o.startTrack !== undefined) index = Math.max(0, tracks.findIndex((t) => String(t.id) === String(o.startTrack)));
    const track = tracks[Math.min(Math.max(0, index), tracks.length - 1)];
    if (!track || !track.hls_url) return null;
    if (typeof navigator !== 'undefined' && navigator.onLine === false) return null; // _select plays a saved copy
    // A signed-in fan's view of a track that is not public comes from the API (_personalize) first.
    if (this.listenerToken && track.release_state !== 'public') return null;
    const startAt = o.startAt > 0 ? Number(o.startAt) : resumeAt(this.positions, track.id, track.duration);
    const adopt = boot && String(boot.track) === String(track.id) && !startAt ? boot : null;
    this.stream.load(track, { startAt, boot: adopt });
    if (o.autoplay && this.audio.paused) this.audio.play().catch(() => {}); // play() below reports a refusal
    return { track, startAt, booted: !!adopt };
  }

  async _init() {
    const o = this.options;
    if (o.album) {
      const album = typeof o.album === 'object' ? o.album : await this._fetchJson(`/api/albums/${encodeURIComponent(o.album)}`);
      this.album = album;
      this.playlist.set(album.tracks || [], 0);
    } else if (o.tracks) {
      this.playlist.set(o.tracks, 0);
    } else if (o.track !== undefined && o.track !== null) {
      const track = typeof o.track === 'object' ? o.track : await this._fetchJson(`/api/tracks/${encodeURIComponent(o.track)}`);
      this.playlist.set([track], 0);
    }
    if (this.listenerToken) await this._personalize();
    await this._loadSaved();
    this._renderList();
    let index = 0;
    if (o.index !== undefined) index = Number(o.index) || 0;
    else if (o.startTrack !== undefined && this.playlist.indexOf(o.startTrack) >= 0) index = this.playlist.indexOf(o.startTrack);
    if (this.playlist.tracks.length) await this._select(index, { autoplay: !!o.autoplay, startAt: o.startAt });
    this._ready = true;
    this.emit('ready', this.getState());
  }

  async _fetchJson(path) {
    const resp = await fetch(`${this.api}${path}`, {
      mode: 'cors', credentials: credentialsOf(this.options), headers: authHeaders(this.listenerToken),
    });
    if (resp.status === 401 && this.listenerToken) {
      // The fan's token expired (an open tab) or was refused: go on as anyone, and say so.
      this.listenerToken = null;
      this._signInExpired = true;
      return this._fetchJson(path);
    }
    if (!resp.ok) throw new Error(`The companion answered ${resp.status} for ${path}.`);
    return resp.json();
  }

  /** The listener changed (the app signed in or out): their view of the tracks, their offline saves. */
  async refreshAccess() {
    const wasPlaying = !this.audio.paused;
    const at = this.audio.currentTime || 0;
    if (this.listenerToken) await this._personalize();
    else if (this.album && this.album.id !== undefined) {
      const album = await this._fetchJson(`/api/albums/${encodeURIComponent(this.album.id)}`);
      this.album = album;
      this.playlist.set(album.tracks || [], this.playlist.index);
    }
    await this._loadSaved();
    this._renderList();
    if (this.playlist.tracks.length) await this._select(Math.max(0, this.playlist.index), { autoplay: wasPlaying, startAt: at });
    this.emit('access', { signedIn: !!this.listenerToken });
  }

  /** Which tracks this listener saved for offline in this browser. */
  async _loadSaved() {
    if (!this.offline) return;
    try {
      this._saved = new Set((await this.offline.list()).map((t) => String(t.id)));
    } catch (err) {
      this._saved = new Set();
    }
  }

  /** A signed-in fan: replace the page's anonymous track JSON with theirs (signed URLs when entitled). */
  async _personalize() {
    const tracks = this.playlist.tracks;
    // Public tracks are the same for everyone: only the others are asked for again.
    if (!tracks.some((t) => t.release_state !== 'public')) return;
    try {
      if (this.album && this.album.id !== undefined) {
        const album = await this._fetchJson(`/api/albums/${encodeURIComponent(this.album.id)}`);
        this.album = album;
        this.playlist.set(album.tracks || [], this.playlist.index);
      } else {
        const fresh = await Promise.all(tracks.map((t) => (t.release_state === 'public' ? t
          : this._fetchJson(`/api/tracks/${encodeURIComponent(t.id)}`))));
        this.playlist.set(fresh, this.playlist.index);
      }
    } catch (err) {
      this._status(String(err.message || err));
    }
  }

  /** New signed URLs for the current track (they expire); ``resume`` reloads the stream where it is. */
  async _renew(resume = false) {
    const old = this.track;
    if (!old || !this.listenerToken) return old;
    let fresh;
    try {
      fresh = await this._fetchJson(`/api/tracks/${encodeURIComponent(old.id)}`);
    } catch (err) {
      this._status(String(err.message || err));
      return old;
    }
    const i = this.playlist.tracks.indexOf(old);
    if (i >= 0) this.playlist.tracks[i] = fresh;
    this.track = fresh;
    if (resume) this.stream.load(fresh, { startAt: this.audio.currentTime || 0 });
    this._renderAccess(fresh);
    this._renderDownloadsFor(fresh);
    return fresh;
  }

  _fail(err) {
    this._status(String(err.message || err));
    this.root.classList.add('shp-failed');
    this.emit('error', { message: String(err.message || err), fatal: true });
  }

  // ---- track changes ------------------------------------------------------------------------------

  async _select(index, { autoplay = false, startAt: requested } = {}) {
    const wasPlaying = !this.audio.paused;
    this._savePosition();
    const track = this.playlist.go(index);
    if (!track) return null;
    this.track = track;
    this._played = 0;
    const startAt = requested > 0 ? Number(requested) : resumeAt(this.positions, track.id, track.duration);
    this._lastTime = startAt;
    this.waveform.setDuration(track.duration || 0);
    this.waveform.setTime(startAt, 0);
    // Saved for offline by THIS listener (their own store): played from the saved copy, network or not.
    const saved = this.offline && this._saved.has(String(track.id)) ? await this.offline.get(track.id).catch(() => null) : null;
    if (this.track !== track) return null; // another track was chosen meanwhile
    if (saved) await serviceWorkerControls();
    const pre = saved ? null : this._prestarted;
    this._prestarted = null;
    const adopted = pre && pre.track === track && pre.startAt === startAt;
    if (saved) this.stream.loadOffline(track, saved.audio_url, { startAt });
    else if (!adopted) this.stream.load(track, { startAt });
    // Already playing (the fast start): what the 'play' event would have done before we listened.
    if (adopted && pre.booted && !this.audio.paused) this._onPlay();
    if (startAt && this.stream.mode !== 'hls.js' && !saved) {
      try { this.audio.currentTime = startAt; } catch { /* after metadata */ }
    }
    // With autoplay the peaks wait until the audio plays (or 1 s): the first fragment comes first.
    const peaks = () => { if (this.track === track) this.waveform.loadPeaks((saved ? saved.peaks : track.peaks) || []); };
    if (autoplay || wasPlaying) this._afterStart(peaks);
    else peaks();
    this._renderAccess(track);
    this._renderDownloadsFor(track);
    this._renderTip(track);
    this.feedback.load(track);
    this.emit('trackchange', { track: track.id, index, title: track.title, startAt });
    if (autoplay || wasPlaying) await this.play();
    return { id: track.id, index, startAt };
  }

  _afterStart(fn, timeout = 1000) {
    if (!this.audio.paused && this.audio.readyState >= 3) {
      fn();
      return;
    }
    let done = false;
    const run = () => {
      if (done) return;
      done = true;
      this.audio.removeEventListener('playing', run);
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(run, timeout);
    this.audio.addEventListener('playing', run);
  }

  _step(track) {
    if (!track) return null;
    return this._select(this.playlist.index, { autoplay: !this.audio.paused });
  }

  _ended() {
    const t = this.track;
    if (t) {
      this.positions.clear(t.id);
      this.beacons.track('complete', t.id, this.duration, { duration: Math.round(this.duration * 100) / 100 });
      this.beacons.flush();
    }
    this.emit('ended', { track: t && t.id });
    if (this.options.continuous !== false && this.playlist.hasNext) {
      this.playlist.next();
      this._select(this.playlist.index, { autoplay: true });
    } else this._setPlaying(false);
  }

  _tick(progressOnly = false) {
    const a = this.audio;
    let buffered = 0;
    for (let i = 0; i < a.buffered.length; i += 1) {
      if (a.buffered.start(i) <= a.currentTime + 0.5) buffered = Math.max(buffered, a.buffered.end(i));
    }
    this.waveform.setTime(a.currentTime, buffered);
    if (progressOnly) return;
    this._renderTime();
    const delta = a.currentTime - this._lastTime;
    this._lastTime = a.currentTime;
    if (!a.paused && delta > 0 && delta < 1.5) {
      this._played += delta;
      if (this._played >= PROGRESS_EVERY && this.track) {
        this.beacons.track('progress', this.track.id, a.currentTime, { played: Math.round(this._played * 100) / 100 });
        this._played = 0;
      }
    }
    if (Math.abs(a.currentTime - this._lastSaved) >= 2) this._savePosition();
    this.emit('timeupdate', { currentTime: a.currentTime, duration: this.duration });
  }

  _savePosition() {
    if (!this.track || this.audio.ended) return;
    const t = this.audio.currentTime || 0;
    this._lastSaved = t;
    if (t > 0) this.positions.set(this.track.id, t);
  }

  // ---- rendering ----------------------------------------------------------------------------------

  _setPlaying(playing) {
    const b = this.el.play;
    b.innerHTML = playing ? ICONS.pause : ICONS.play;
    b.setAttribute('aria-label', playing ? 'Pause' : 'Play');
    b.title = playing ? 'Pause' : 'Play';
    b.setAttribute('aria-pressed', String(playing));
    this.root.classList.toggle('shp-playing', playing);
    if (typeof navigator !== 'undefined' && navigator.mediaSession) navigator.mediaSession.playbackState = playing ? 'playing' : 'paused';
    if (playing && this.visualizer.mode !== 'off') this.visualizer.start();
    if (!playing) this.visualizer.stop();
  }

  _renderCurrent(track) {
    const el = this.el;
    el.title.textContent = track.title || 'Untitled';
    el.artist.textContent = [track.artist, track.album_title].filter(Boolean).join(' · ') || '\u00a0';
    el.cover.replaceChildren();
    const cover = track.cover_url || (this.album && this.album.cover_url);
    if (cover) el.cover.append(h('img', { src: cover, alt: '', width: 96, height: 96, decoding: 'async' }));
    el.play.setAttribute('aria-label', this.audio.paused ? `Play ${track.title}` : 'Pause');
    el.prev.disabled = !this.playlist.hasPrevious;
    el.next.disabled = !this.playlist.hasNext;
    for (const li of el.list.children) {
      const current = li.dataset.track === String(track.id);
      const btn = li.querySelector('button');
      if (current) btn.setAttribute('aria-current', 'true');
      else btn.removeAttribute('aria-current');
    }
    this._renderTime();
    this._mediaMetadata(track);
    this._status(`${track.title} loaded.`);
  }

  _renderTime() {
    this.el.time.textContent = `${formatTime(this.currentTime)} / ${formatTime(this.duration)}`;
  }

  _renderList() {
    const tracks = this.playlist.tracks;
    const list = this.el.list;
    list.replaceChildren(...tracks.map((t, i) => h('li', { 'data-track': t.id },
      h('button', { type: 'button', class: 'shp-item', onclick: () => this._select(i, { autoplay: true }) },
        h('span', { class: 'shp-item-n' }, String(t.track_number || i + 1)),
        h('span', { class: 'shp-item-title' }, t.title),
        h('span', { class: 'shp-item-time' }, formatTime(t.duration || 0))))));
    list.hidden = tracks.length < 2;
    this.root.classList.toggle('shp-album', tracks.length > 1);
  }

  _renderLevels(levels) {
    const q = this.el.quality;
    q.replaceChildren(h('option', { value: '-1' }, 'Auto'),
      ...levels.map((l) => h('option', { value: String(l.index) }, `${Math.round((l.bitrate || 0) / 1000)} kbps`)));
    q.disabled = levels.length < 2;
    q.value = '-1';
  }

  _renderAccess(track) {
    const isLocked = renderPrompt(this.el.prompt, track, this.options.unlock || {}, this.beacons.playToken(track.id));
    if (isLocked && this._signInExpired) {
      const note = 'Your sign-in has expired: reload the page to hear what you have bought.';
      this.el.prompt.append(h('span', { class: 'shp-prompt-expired' }, ` ${note}`));
      this._status(note);
    }
    this.root.dataset.access = (track.access && track.access.why) || '';
    this.root.classList.toggle('shp-locked', isLocked);
  }

  _renderDownloadsFor(track) {
    const items = renderDownloads(this.el.dlPanel, track, {
      unlock: this.options.unlock || {},
      play: this.beacons.playToken(track.id),
      onDownload: (it) => {
        this.beacons.track('download', track.id, this.currentTime, { format: it.name });
        this.beacons.flush();
        // Not the URL: a signed link is this fan's own, and events cross to the parent page.
        this.emit('download', { track: track.id, format: it.name });
      },
    });
    this.el.dlButton.hidden = false;
    this.el.dlButton.dataset.count = String(items.length);
    this._renderOffline(track);
  }

  /** The panel's "Save for offline" part: save or remove this track, and the list of saved tracks. */
  _renderOffline(track) {
    if (!this.offline) return;
    let box = this.el.dlPanel.querySelector('.shp-offline');
    if (!box) {
      box = h('div', { class: 'shp-offline' });
      this.el.dlPanel.append(box);
    }
    const isSaved = this._saved.has(String(track.id));
    const parts = [h('h3', { class: 'shp-panel-title' }, 'Offline')];
    if (isSaved) {
      parts.push(h('p', { class: 'shp-note shp-offline-saved' }, 'Saved on this device: it plays with no network. ',
        h('button', { type: 'button', class: 'shp-offline-remove', onclick: () => this.removeOffline(track.id) }, 'Remove')));
    } else if (savable(track)) {
      const btn = h('button', { type: 'button', class: 'shp-offline-save', onclick: () => {
        btn.disabled = true;
        btn.textContent = 'Saving…';
        this.saveOffline(track).catch((err) => this._status(String(err.message || err)));
      } }, 'Save for offline');
      parts.push(btn);
    } else {
      parts.push(h('p', { class: 'shp-note shp-offline-locked' }, 'Only what you may download can be saved for offline.'));
    }
    const list = h('ul', { class: 'shp-offline-list', 'aria-label': 'Saved for offline' });
    parts.push(list);
    box.replaceChildren(...parts);
    this.offlineItems().then((items) => {
      list.replaceChildren(...items.map((it) => h('li', { 'data-track': it.id },
        h('span', { class: 'shp-offline-title' }, `${it.title}${it.artist ? ` · ${it.artist}` : ''}`), ' ',
        h('button', { type: 'button', class: 'shp-offline-remove-item', 'aria-label': `Remove ${it.title} from this device`,
          onclick: () => this.removeOffline(it.id) }, 'Remove'))));
    }).catch(() => {});
  }

  // ---- Media Session (lock screen, headset and notification controls) -----------------------------

  _mediaSession() {
    const ms = typeof navigator !== 'undefined' && navigator.mediaSession;
    if (!ms) return;
    const set = (action, fn) => {
      try { ms.setActionHandler(action, fn); } catch { /* an action this browser does not know */ }
    };
    set('play', () => { this.play(); });
    set('pause', () => { this.pause(); });
    set('stop', () => { this.pause(); this.seek(0, 'mediasession'); });
    set('seekto', (d) => { this.seek(d.seekTime, 'mediasession'); this._positionState(); });
    set('seekbackward', (d) => { this.seek(this.currentTime - ((d && d.seekOffset) || 10), 'mediasession'); this._positionState(); });
    set('seekforward', (d) => { this.seek(this.currentTime + ((d && d.seekOffset) || 10), 'mediasession'); this._positionState(); });
    set('previoustrack', () => { this.previous(); });
    set('nexttrack', () => { this.next(); });
    const a = this.audio;
    for (const ev of ['durationchange', 'ratechange', 'seeked', 'play', 'pause', 'loadedmetadata']) a.addEventListener(ev, () => this._positionState());
    let last = 0;
    a.addEventListener('timeupdate', () => {
      const now = Date.now();
      if (now - last > 5000) { last = now; this._positionState(); }
    });
  }

  _mediaMetadata(track) {
    const ms = typeof navigator !== 'undefined' && navigator.mediaSession;
    if (!ms || typeof MediaMetadata === 'undefined') return;
    const cover = track.cover_url || (this.album && this.album.cover_url);
    ms.metadata = new MediaMetadata({
      title: track.title || 'Untitled', artist: track.artist || '', album: track.album_title || (this.album && this.album.title) || '',
      artwork: cover ? [{ src: cover, sizes: '512x512' }] : [],
    });
  }

  _positionState() {
    const ms = typeof navigator !== 'undefined' && navigator.mediaSession;
    if (!ms || typeof ms.setPositionState !== 'function') return;
    const duration = this.duration;
    if (!(duration > 0) || !Number.isFinite(duration)) return;
    try {
      ms.setPositionState({ duration, playbackRate: this.audio.playbackRate || 1, position: Math.min(Math.max(0, this.currentTime), duration) });
    } catch { /* a position past a changing duration: the next update fixes it */ }
  }

  _renderTip(track) {
    renderTipJar(this.el.tipPanel, this.options.tip, {
      trackId: track.id,
      play: this.beacons.playToken(track.id),
      onTip: ({ amount, currency }) => {
        this.beacons.track('tip_click', track.id, this.currentTime, { amount, currency });
        this.beacons.flush();
        this.emit('tip', { track: track.id, amount, currency });
      },
    });
  }

  _togglePanel(which) {
    // Download links expire (an hour): a menu opened later asks for new ones first.
    if (which === 'dl' && this.el.dlPanel.hidden && this.track && this.listenerToken && expiring(this.track, 60)) {
      this._renew(false).then(() => this._togglePanel(which));
      return;
    }
    const panels = { dl: [this.el.dlPanel, this.el.dlButton], tip: [this.el.tipPanel, this.el.tipButton] };
    for (const [key, [panel, button]] of Object.entries(panels)) {
      const open = key === which ? panel.hidden : false;
      panel.hidden = !open;
      button.setAttribute('aria-expanded', String(open));
      if (open) {
        const first = panel.querySelector('a, button, input');
        if (first) first.focus({ preventScroll: true });
      }
    }
  }

  _status(text) {
    this.el.status.textContent = text;
  }
}

/** Wait (a little) until the service worker controls this page: saved files are served by it. */
async function serviceWorkerControls(timeout = 5000) {
  if (typeof navigator === 'undefined' || !navigator.serviceWorker || navigator.serviceWorker.controller) return;
  await new Promise((resolve) => {
    const t = setTimeout(resolve, timeout);
    navigator.serviceWorker.addEventListener('controllerchange', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

/** The fast start's element and buffer when it started this page's first track (at most once). */
function takeBoot(options) {
  const boot = typeof window !== 'undefined' && window.ScriptHammerBoot;
  if (!boot || options.boot === false || typeof boot.take !== 'function') return null;
  return boot.take();
}

function credentialsOf(options) {
  return options.credentials || 'omit';
}

export { VIS_MODES };
