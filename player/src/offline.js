// Offline saves: what this fan may download, kept in this browser to play with no network.
//
// The companion decides what may be saved: a track is saved from one of its download links, which the
// companion only lists (signed for this fan) when they may download it. Each listener has their own
// store, named by their offline key (GET /api/offline/key: an HMAC of who they are, so one fan cannot
// name another's store); anyone not signed in has the "anon" store (public tracks only). The service
// worker answers /offline/<key>/<track>/<part> from that key's store only.
import { authHeaders } from './access.js';
import { downloadsOf } from './downloads.js';
import { offlineCacheName } from './offline-keys.js';

/** Download formats a browser plays, best for offline listening first (small and good). */
const PLAYABLE = ['mp3-v0', 'mp3-320', 'aac', 'opus', 'vorbis', 'flac'];
const REMEMBERED = 'scripthammer-offline-key';

export function offlineSupported(api) {
  if (typeof window === 'undefined' || !('caches' in window) || !('serviceWorker' in navigator)) return false;
  if (!window.isSecureContext) return false;
  try { return new URL(api, location.href).origin === location.origin; } catch { return false; }
}

/** The rendition a track is saved from: a playable download this listener was given, or null. */
export function savable(track) {
  if (!track || (track.access && track.access.download === false)) return null;
  const items = downloadsOf(track).filter((d) => PLAYABLE.includes(d.name) || /^(mp3|aac|opus|vorbis|flac)/.test(d.name));
  items.sort((a, b) => (PLAYABLE.indexOf(a.name) + 99) % 99 - (PLAYABLE.indexOf(b.name) + 99) % 99);
  return items[0] || null;
}

export class OfflineStore {
  /** ``token()``: the listener token now (or null); ``keyUrl``: GET /api/offline/key. */
  constructor(api, token, keyUrl) {
    this.api = api.replace(/\/$/, '');
    this.token = token;
    this.keyUrl = keyUrl || `${this.api}/api/offline/key`;
    this._key = null;
    this._keyFor = undefined;
  }

  /** This listener's offline key (asked once per token; offline, the one remembered for this browser). */
  async key() {
    const token = this.token();
    if (this._key && this._keyFor === token) return this._key;
    let key = 'anon';
    if (token) {
      try {
        const r = await fetch(this.keyUrl, { headers: authHeaders(token), credentials: 'omit', cache: 'no-store' });
        if (!r.ok) throw new Error(`offline key: ${r.status}`);
        key = (await r.json()).key;
        try { localStorage.setItem(REMEMBERED, key); } catch { /* storage off */ }
      } catch (err) {
        // No network: the fan who last signed in on this browser (an app started offline).
        let remembered = null;
        try { remembered = localStorage.getItem(REMEMBERED); } catch { /* storage off */ }
        if (!remembered || navigator.onLine) throw err;
        key = remembered;
      }
    } else if (!navigator.onLine) {
      try { key = localStorage.getItem(REMEMBERED) || 'anon'; } catch { key = 'anon'; }
    }
    this._key = key;
    this._keyFor = token;
    return key;
  }

  /** Forget the remembered key (sign-out): the next offline start opens the anonymous store. */
  static forget() {
    try { localStorage.removeItem(REMEMBERED); } catch { /* storage off */ }
  }

  /** This listener's store; ``create`` false: null when they saved nothing (nothing is made just by looking). */
  async _cache(create = true) {
    const name = await offlineCacheName(await this.key());
    if (!create && !(await caches.has(name))) return null;
    return caches.open(name);
  }

  async url(trackId, part) {
    return `${location.origin}/offline/${await this.key()}/${encodeURIComponent(trackId)}/${part}`;
  }

  /** The saved tracks: [{id, title, artist, album_title, duration, format, bytes, saved_at}]. */
  async list() {
    const cache = await this._cache(false);
    const out = [];
    if (!cache) return out;
    for (const req of await cache.keys()) {
      if (!/\/track$/.test(new URL(req.url).pathname)) continue;
      const r = await cache.match(req);
      if (r) out.push(await r.json());
    }
    return out.sort((a, b) => String(a.saved_at).localeCompare(String(b.saved_at)));
  }

  async get(trackId) {
    const cache = await this._cache(false);
    const r = cache && await cache.match(await this.url(trackId, 'track'));
    return r ? r.json() : null;
  }

  /** Save ``track`` (the catalog JSON this fan was given). Rejects when it may not be downloaded. */
  async save(track) {
    const pick = savable(track);
    if (!pick) {
      const err = new Error(track && track.access && track.access.download === false
        ? 'This track is not yours to download, so it cannot be saved for offline.'
        : 'This track has no download to save.');
      err.code = 'not_downloadable';
      throw err;
    }
    let audio = null;
    try {
      audio = await fetch(pick.url, { mode: 'cors', credentials: 'omit', cache: 'no-store' });
    } catch { /* refused without CORS headers (an error page), or no network */ }
    if (!audio || !audio.ok) {
      const err = new Error(audio ? `The companion refused the download (${audio.status}).`
        : 'The download was refused or could not be reached.');
      err.code = 'download_refused';
      throw err;
    }
    const blob = await audio.blob();
    const cache = await this._cache();
    const id = track.id;
    const put = async (part, body, type) => cache.put(await this.url(id, part),
      new Response(body, { headers: { 'Content-Type': type, 'Content-Length': String(body.size ?? body.length) } }));
    await put('audio', blob, audio.headers.get('Content-Type') || 'audio/mpeg');
    const saved = {
      id, title: track.title, artist: track.artist, album_id: track.album_id, album_title: track.album_title,
      track_number: track.track_number, duration: track.duration, release_state: track.release_state,
      format: pick.name, bytes: blob.size, saved_at: new Date().toISOString(),
      audio_url: await this.url(id, 'audio'), cover_url: null, peaks: [],
    };
    const peaks = (track.peaks || [])[0];
    if (peaks && peaks.url) {
      try {
        const r = await fetch(peaks.url, { mode: 'cors', credentials: 'omit' });
        if (r.ok) {
          await put('peaks', await r.blob(), 'application/json');
          saved.peaks = [{ samples_per_pixel: peaks.samples_per_pixel, length: peaks.length, url: await this.url(id, 'peaks') }];
        }
      } catch { /* the waveform is optional */ }
    }
    if (track.cover_url) {
      try {
        const r = await fetch(track.cover_url, { mode: 'cors', credentials: 'omit' });
        if (r.ok) {
          await put('cover', await r.blob(), r.headers.get('Content-Type') || 'image/jpeg');
          saved.cover_url = await this.url(id, 'cover');
        }
      } catch { /* the cover is optional */ }
    }
    await cache.put(await this.url(id, 'track'), new Response(JSON.stringify(saved), { headers: { 'Content-Type': 'application/json' } }));
    return saved;
  }

  async remove(trackId) {
    const cache = await this._cache(false);
    let removed = false;
    if (!cache) return false;
    for (const part of ['track', 'audio', 'peaks', 'cover']) removed = (await cache.delete(await this.url(trackId, part))) || removed;
    return removed;
  }
}

/** Register the app's service worker (once per page). */
let registering = null;
export function registerServiceWorker(swUrl) {
  if (registering) return registering;
  if (!swUrl || typeof navigator === 'undefined' || !('serviceWorker' in navigator)) return Promise.resolve(null);
  registering = navigator.serviceWorker.register(swUrl, { scope: '/' }).then((reg) => {
    // This page came before the worker: ask it to keep the page for offline starts (public pages only).
    navigator.serviceWorker.ready.then((ready) => {
      if (ready.active) ready.active.postMessage({ type: 'sh-keep-page', url: `${location.origin}${location.pathname}${location.search}` });
    });
    return reg;
  }).catch((err) => {
    console.warn('[scripthammer-player] no service worker:', err);
    return null;
  });
  return registering;
}
