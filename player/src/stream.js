// Streaming: the track's HLS ladder through hls.js (MSE), native HLS where the browser has it,
// and progressive MP3 (Range requests, done by the browser) as the fallback.
import Hls from 'hls.js/dist/hls.light.mjs';
import { Emitter } from './emitter.js';
import { mark } from './marks.js';

const HLS_MIME = 'application/vnd.apple.mpegurl';

/** The rendition to stream progressively: a listenable MP3 (smallest good one first), else the preview. */
export function pickProgressive(track) {
  const rs = (track.renditions || []).filter((r) => r.url);
  const mp3 = rs.filter((r) => r.codec === 'mp3' || r.format === 'mp3' || r.extension === 'mp3');
  const order = ['mp3-v0', 'mp3-320'];
  mp3.sort((a, b) => (order.indexOf(a.name) + 10) % 10 - (order.indexOf(b.name) + 10) % 10);
  const full = mp3.find((r) => r.kind !== 'preview');
  if (full) return { url: full.url, bitrate: full.bitrate || null, mode: 'progressive', name: full.name };
  if (track.preview_url) return { url: track.preview_url, bitrate: null, mode: 'preview', name: 'preview' };
  const any = rs.find((r) => r.kind === 'preview');
  return any ? { url: any.url, bitrate: any.bitrate || null, mode: 'preview', name: any.name } : null;
}

export function hlsEngineAvailable() {
  return Hls.isSupported();
}

/**
 * Plays one track at a time on an <audio> element.
 * Events: 'mode' {mode}, 'levels' {levels}, 'levelswitch' {level, bitrate, auto}, 'error' {message, fatal}.
 */
export class Stream extends Emitter {
  constructor(audio, { preferNative = false, hlsConfig = {}, startLevel } = {}) {
    super();
    this.audio = audio;
    this.preferNative = preferNative;
    this.hlsConfig = hlsConfig;
    this.startLevel = Number.isInteger(startLevel) ? startLevel : -1;
    this.hls = null;
    this.mode = null;
    this.levels = [];
    this.level = -1;
    this.autoLevel = true;
    this.track = null;
    this._recovered = 0;
  }

  /** Start loading ``track`` (catalog JSON) from ``startAt`` seconds. Returns the mode used. */
  load(track, { startAt = 0, boot = null } = {}) {
    this.destroyEngine();
    if (this.track) this.startLevel = -1; // only the first track was preloaded
    this.track = track;
    this._recovered = 0;
    const audio = this.audio;
    const nativeHls = !!(track.hls_url && audio.canPlayType(HLS_MIME));
    if (track.hls_url && Hls.isSupported() && !(this.preferNative && nativeHls)) {
      this._loadHlsJs(track, startAt, boot);
    } else if (nativeHls) {
      this._setMode('native-hls');
      this.levels = [];
      this._progressive(track.hls_url, startAt);
    } else {
      this._loadProgressive(track, startAt);
    }
    return this.mode;
  }

  /** Play a file saved for offline (served by the service worker from this listener's store). */
  loadOffline(track, url, { startAt = 0 } = {}) {
    this.destroyEngine();
    this.track = track;
    this._recovered = 0;
    this._setMode('offline');
    this.levels = [];
    this.level = -1;
    this._progressive(url, startAt);
    return this.mode;
  }

  _setMode(mode) {
    this.mode = mode;
    this.emit('mode', { mode });
  }

  _progressive(url, startAt) {
    const audio = this.audio;
    audio.src = url;
    if (startAt > 0) {
      const seekOnce = () => {
        audio.removeEventListener('loadedmetadata', seekOnce);
        try { audio.currentTime = startAt; } catch { /* not seekable yet */ }
      };
      audio.addEventListener('loadedmetadata', seekOnce);
    }
    audio.load();
  }

  _loadProgressive(track, startAt) {
    const pick = pickProgressive(track);
    if (!pick) {
      this.mode = null;
      this.emit('error', { message: 'This track has nothing to stream yet.', fatal: true, code: 'no_stream' });
      return;
    }
    this._setMode(pick.mode);
    this.levels = [{ index: 0, bitrate: pick.bitrate, name: pick.name }];
    this.level = 0;
    this._progressive(pick.url, startAt);
  }

  _loadHlsJs(track, startAt, boot = null) {
    if (boot) this.startLevel = boot.level; // the rung the fast start buffered
    const sb = boot && boot.sourceBuffer;
    const bootEnd = sb && sb.buffered.length ? sb.buffered.end(sb.buffered.length - 1) : 0;
    const hls = new Hls({
      startPosition: startAt > 0 ? startAt : -1,
      maxBufferLength: 30,
      backBufferLength: 30,
      startFragPrefetch: true,
      // The embed page preloads this rung's playlist and first segment; later tracks start by estimate.
      startLevel: this.startLevel,
      testBandwidth: false,
      capLevelToPlayerSize: false,
      ...this.hlsConfig,
      // After a fast start: load from the end of its buffer, once the levels are known (below).
      ...(boot ? { autoStartLoad: false, startFragPrefetch: false } : {}),
    });
    this.hls = hls;
    this._setMode('hls.js');
    if (boot) {
      // Go on where the fast start's buffer ends, without seeking the playing element: restart
      // loading there once the start level's playlist is in (its first load would begin at 0).
      hls.once(Hls.Events.MANIFEST_PARSED, () => hls.startLoad(-1));
      // (A little past the buffer's end, which can fall a hair short of the playlist's segment boundary.)
      hls.once(Hls.Events.LEVEL_LOADED, () => hls.startLoad(Math.max(bootEnd + 0.1, this.audio.currentTime), true));
    }
    hls.on(Hls.Events.MANIFEST_PARSED, (_e, data) => {
      this.levels = data.levels.map((l, index) => ({ index, bitrate: l.bitrate, name: l.name || `${Math.round(l.bitrate / 1000)} kbps` }));
      this.emit('levels', { levels: this.levels });
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_e, data) => {
      this.level = data.level;
      const l = hls.levels[data.level];
      this.emit('levelswitch', { level: data.level, bitrate: l ? l.bitrate : null, auto: hls.autoLevelEnabled });
    });
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && this._recovered < 2) {
        this._recovered += 1;
        hls.recoverMediaError();
        return;
      }
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR && this._recovered < 1) {
        this._recovered += 1;
        hls.startLoad();
        return;
      }
      // Give up on adaptive streaming for this track: progressive MP3 instead.
      const at = this.audio.currentTime || startAt;
      this.emit('error', { message: `Adaptive stream failed (${data.details}); playing the MP3 instead.`, fatal: false });
      this.destroyEngine();
      this._loadProgressive(track, at);
    });
    for (const ev of ['MEDIA_ATTACHED', 'MANIFEST_PARSED', 'LEVEL_LOADED', 'FRAG_LOADED', 'BUFFER_CODECS', 'FRAG_BUFFERED']) {
      hls.once(Hls.Events[ev], () => mark(ev.toLowerCase()));
    }
    mark('hls');
    this.fastStart = !!boot;
    this._bootLevel = boot ? boot.level : -1;
    this._bootEnd = bootEnd;
    if (boot) {
      // Take over the fast start's MediaSource and SourceBuffer (init + first segment appended,
      // maybe playing): hls.js goes on from the end of that buffer.
      hls.attachMedia({
        media: this.audio,
        mediaSource: boot.mediaSource,
        tracks: { audio: { id: 'main', container: 'audio/mp4', codec: boot.codecs, levelCodec: boot.codecs, buffer: boot.sourceBuffer, listeners: [] } },
      });
    } else hls.attachMedia(this.audio);
    hls.loadSource(track.hls_url);
  }

  /** Choose a level: an index into ``levels``, or -1 for automatic. Returns false when not possible. */
  setLevel(index) {
    if (!this.hls) return false;
    index = Number(index);
    if (!Number.isInteger(index) || index < -1 || index >= this.hls.levels.length) return false;
    this.autoLevel = index === -1;
    // currentLevel switches now (flushing the buffer ahead); -1 gives control back to the ABR.
    this.hls.currentLevel = index;
    return true;
  }

  /** The level being heard (hls.js knows it from the fragments it loaded; the fast start's before those). */
  get currentLevel() {
    if (!this.hls) return this.level;
    const l = this.hls.currentLevel;
    if (l === -1 && this.fastStart && this.audio.currentTime < this._bootEnd + 0.5) return this._bootLevel;
    return l;
  }

  get currentBitrate() {
    if (this.hls) {
      const l = this.hls.levels[this.currentLevel];
      return l ? l.bitrate : null;
    }
    return this.levels[0] ? this.levels[0].bitrate : null;
  }

  destroyEngine() {
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
    this.levels = [];
    this.level = -1;
    this.autoLevel = true;
    this.fastStart = false;
  }

  destroy() {
    this.destroyEngine();
    this.audio.removeAttribute('src');
    this.audio.load();
  }
}
