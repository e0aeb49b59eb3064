// Playback beacons: events are queued and sent in batches with navigator.sendBeacon (as a
// text/plain JSON body, which needs no CORS preflight), on a timer, when the batch is full and
// when the page is hidden or left.

function newSession() {
  const a = new Uint8Array(12);
  (window.crypto || {}).getRandomValues ? crypto.getRandomValues(a) : a.forEach((_, i) => { a[i] = Math.random() * 256; });
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class Beacons {
  constructor(url, { interval = 15000, maxBatch = 40, page = location.href, session, consent } = {}) {
    this.url = url;
    // The site's consent setting as the embedding page knows it (true/false), or undefined when the
    // site does not ask; the companion keeps nothing without it when it asks (analytics_consent).
    // false: nothing is queued nor sent at all (setConsent changes it).
    this.consent = typeof consent === 'boolean' ? consent : undefined;
    // Each batch is numbered within the session: the companion refuses a batch it has seen (a replay).
    this.seq = 0;
    this.maxBatch = maxBatch;
    this.page = page;
    this.session = session || newSession();
    this.queue = [];
    this.sent = 0;
    this.batches = 0;
    this._timer = url ? setInterval(() => this.flush(), interval) : 0;
    this._onHide = () => { if (document.visibilityState === 'hidden') this.flush(); };
    this._onPageHide = () => this.flush();
    document.addEventListener('visibilitychange', this._onHide);
    window.addEventListener('pagehide', this._onPageHide);
  }

  /** Consent given (true), refused or withdrawn (false: the queue is dropped), or not asked (null). */
  setConsent(consent) {
    const value = typeof consent === 'boolean' ? consent : undefined;
    if (value === this.consent) return this.consent ?? null;
    if (value === false) this.queue = [];
    else this.flush(); // what was queued under the earlier setting leaves with it
    this.consent = value;
    return this.consent ?? null;
  }

  /**
   * The attribution the player's tip jar and buy, unlock and subscribe links carry (``sh_play``):
   * this pseudonymous session and the track, so that a tip or a purchase counts for the play that led to
   * it. None when the player reports nothing (no beacon URL, or the fan declined the site's consent).
   */
  playToken(trackId) {
    if (!this.url || this.consent === false || trackId === undefined || trackId === null) return '';
    return `${this.session}.${Number(trackId)}`;
  }

  track(type, trackId, pos, data) {
    if (!this.url || trackId === undefined || trackId === null || this.consent === false) return;
    const ev = { type, track: Number(trackId), t: Date.now() };
    if (Number.isFinite(pos)) ev.pos = Math.round(pos * 100) / 100;
    if (data && Object.keys(data).length) ev.data = data;
    this.queue.push(ev);
    if (this.queue.length >= this.maxBatch) this.flush();
  }

  /** Send what is queued. Returns true when a batch was handed to the browser. */
  flush() {
    if (!this.url || !this.queue.length) return false;
    const events = this.queue.splice(0, this.maxBatch);
    const batch = { v: 1, session: this.session, seq: this.seq, page: String(this.page).slice(0, 2000), events };
    if (typeof this.consent === 'boolean') batch.consent = this.consent;
    this.seq += 1;
    const body = JSON.stringify(batch);
    let ok = false;
    try {
      if (navigator.sendBeacon) ok = navigator.sendBeacon(this.url, new Blob([body], { type: 'text/plain;charset=UTF-8' }));
    } catch { ok = false; }
    if (!ok) {
      try {
        fetch(this.url, { method: 'POST', body, keepalive: true, mode: 'cors', credentials: 'omit', headers: { 'Content-Type': 'text/plain;charset=UTF-8' } }).catch(() => {});
        ok = true;
      } catch { ok = false; }
    }
    if (ok) {
      this.sent += events.length;
      this.batches += 1;
    }
    if (this.queue.length) return this.flush() || ok;
    return ok;
  }

  destroy() {
    this.flush();
    clearInterval(this._timer);
    document.removeEventListener('visibilitychange', this._onHide);
    window.removeEventListener('pagehide', this._onPageHide);
  }
}
