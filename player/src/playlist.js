// Album and playlist mode: the track list, next/previous, continuous play, and the position
// per track remembered (localStorage) so a listener comes back where they left off.
import { Emitter } from './emitter.js';

const KEY = 'scripthammer:pos:';

export class Positions {
  constructor(storage) {
    try {
      this.storage = storage || window.localStorage;
      this.storage.getItem('x');
    } catch {
      this.storage = null; // private mode or blocked storage: remember in memory only
    }
    this.memory = new Map();
  }

  get(trackId) {
    const raw = this.storage ? this.storage.getItem(KEY + trackId) : this.memory.get(trackId);
    const v = raw === null || raw === undefined ? 0 : Number(raw);
    return Number.isFinite(v) && v > 0 ? v : 0;
  }

  set(trackId, seconds) {
    const v = String(Math.max(0, Math.round(seconds * 10) / 10));
    if (this.storage) {
      try { this.storage.setItem(KEY + trackId, v); } catch { this.memory.set(trackId, v); }
    } else this.memory.set(trackId, v);
  }

  clear(trackId) {
    if (this.storage) this.storage.removeItem(KEY + trackId);
    this.memory.delete(trackId);
  }
}

/** Where to resume ``trackId``: its remembered position unless near either end. */
export function resumeAt(positions, trackId, duration) {
  const t = positions.get(trackId);
  if (t < 5) return 0;
  if (duration && t > duration - 5) return 0;
  return t;
}

export class Playlist extends Emitter {
  constructor(tracks = [], { loop = false } = {}) {
    super();
    this.tracks = tracks;
    this.index = tracks.length ? 0 : -1;
    this.loop = loop;
  }

  set(tracks, index = 0) {
    this.tracks = tracks;
    this.index = tracks.length ? Math.min(Math.max(0, index), tracks.length - 1) : -1;
    this.emit('change', { tracks, index: this.index });
  }

  get current() {
    return this.index >= 0 ? this.tracks[this.index] : null;
  }

  get hasNext() {
    return this.loop ? this.tracks.length > 1 : this.index < this.tracks.length - 1;
  }

  get hasPrevious() {
    return this.loop ? this.tracks.length > 1 : this.index > 0;
  }

  indexOf(trackId) {
    return this.tracks.findIndex((t) => String(t.id) === String(trackId));
  }

  go(index) {
    if (index < 0 || index >= this.tracks.length) return null;
    this.index = index;
    this.emit('select', { index, track: this.tracks[index] });
    return this.tracks[index];
  }

  next() {
    if (!this.hasNext) return null;
    return this.go((this.index + 1) % this.tracks.length);
  }

  previous() {
    if (!this.hasPrevious) return null;
    return this.go((this.index - 1 + this.tracks.length) % this.tracks.length);
  }
}
