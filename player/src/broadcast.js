// The countdown of a scheduled broadcast (/embed/broadcast/<id>): its title, its start time in the
// viewer's locale and a countdown; it polls the broadcast (GET /api/live/broadcasts/<id>, with backoff)
// and once the broadcast is live becomes the live player of its session (live.js), handing it the
// listener token it keeps in memory (never in a URL). A cancelled or failed broadcast says so.
//
// Accessibility: the ticking countdown is hidden from screen readers; a polite live region says the
// time left at a calm pace (every ten minutes, each minute in the last ten, at 30 and 10 seconds) and
// every change of state.
import { h } from './format.js';
import { LivePlayer } from './live.js';

const TICK_MS = 1000;
const POLL_MIN_MS = 1000;
const POLL_MAX_MS = 30000;

/** "2 days 03:04:05", "1:02:03", "04:09" for ``ms`` milliseconds left. */
export function countdownText(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const days = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const two = (n) => String(n).padStart(2, '0');
  const clock = hh || days ? `${days ? two(hh) : hh}:${two(mm)}:${two(ss)}` : `${two(mm)}:${two(ss)}`;
  return days ? `${days} day${days === 1 ? '' : 's'} ${clock}` : clock;
}

/** The words a screen reader hears for ``ms`` left, or null when this is no moment to say anything. */
export function announcement(ms, last) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const min = Math.ceil(s / 60);
  let key;
  let text;
  if (s <= 10) { key = '10s'; text = 'Starts in a few seconds.'; }
  else if (s <= 30) { key = '30s'; text = 'Starts in less than 30 seconds.'; }
  else if (min <= 10) { key = `m${min}`; text = `Starts in ${min} minute${min === 1 ? '' : 's'}.`; }
  else if (min <= 120) { const t = Math.ceil(min / 10) * 10; key = `m${t}`; text = `Starts in about ${t} minutes.`; }
  else { const hrs = Math.round(min / 60); key = `h${hrs}`; text = hrs >= 48 ? `Starts in ${Math.round(hrs / 24)} days.` : `Starts in about ${hrs} hours.`; }
  return key === last ? null : { key, text };
}

/** How long to wait before asking again: rarely while the start is far, every second near it and while
 *  it starts, doubling (up to 30 s) after failed requests. */
export function pollDelay(msLeft, failures = 0) {
  if (failures > 0) return Math.min(POLL_MAX_MS, POLL_MIN_MS * 2 ** Math.min(failures, 5));
  if (msLeft > 0) return Math.max(POLL_MIN_MS, Math.min(POLL_MAX_MS, msLeft / 10));
  return POLL_MIN_MS;
}

const MESSAGES = {
  cancelled: 'This broadcast was cancelled.',
  failed: 'This broadcast could not go on air.',
  ended: 'This broadcast has ended.',
};

export class BroadcastPlayer {
  constructor(container, options = {}) {
    this.container = container;
    this.options = options;
    this.api = String(options.api || '').replace(/\/$/, '');
    this.id = options.broadcast.id;
    this.state = options.broadcast.state || null;
    this.token = options.listenerToken || null; // memory only: handed to the live player
    this.live = null;
    this.stopped = false;
    this.failures = 0;
    this.said = null;
    this.build();
    this.render();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.poll();
  }

  url() { return `${this.api}/api/live/broadcasts/${this.id}`; }

  startsAt() { return this.state && this.state.starts_at ? Date.parse(this.state.starts_at) : NaN; }

  build() {
    this.titleEl = h('strong', { class: 'shp-broadcast-title' });
    this.whenEl = h('time', { class: 'shp-broadcast-when' });
    this.countEl = h('span', { class: 'shp-broadcast-countdown', 'aria-hidden': 'true' });
    this.sayEl = h('p', { class: 'shp-broadcast-announce shp-sr', 'aria-live': 'polite', role: 'status' });
    this.msgEl = h('p', { class: 'shp-broadcast-message' });
    this.premiumEl = h('p', { class: 'shp-broadcast-premium', hidden: true });
    this.liveHost = h('div', { class: 'shp-broadcast-live' });
    this.countdownBox = h('div', { class: 'shp-broadcast-countdown-box' },
      h('span', {}, 'Starts '), this.whenEl, h('span', {}, ' · in '), this.countEl);
    this.root = h('div', { class: 'shp-broadcast', 'data-state': '' },
      h('div', { class: 'shp-broadcast-head' }, this.titleEl),
      this.countdownBox, this.premiumEl, this.msgEl, this.sayEl, this.liveHost);
    this.container.replaceChildren(this.root);
  }

  say(text) {
    if (this.sayEl.textContent !== text) this.sayEl.textContent = text;
  }

  render() {
    const st = this.state || {};
    const state = st.state || 'scheduled';
    this.root.dataset.state = state;
    this.titleEl.textContent = st.title || `Broadcast ${this.id}`;
    const at = this.startsAt();
    if (Number.isFinite(at)) {
      this.whenEl.dateTime = st.starts_at;
      this.whenEl.textContent = new Date(at).toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'short' });
    }
    const waiting = state === 'scheduled' || state === 'starting';
    // a premium broadcast says so while it counts down (the live player says who may listen once live)
    this.premiumEl.hidden = !(st.premium && waiting);
    this.premiumEl.textContent = this.token
      ? 'Premium broadcast: a ticket (or a subscription) lets you listen.'
      : 'Premium broadcast: sign in and get a ticket (or a subscription) to listen.';
    this.countdownBox.hidden = !waiting || this.live !== null;
    if (MESSAGES[state] && !(state === 'ended' && this.live)) {
      const text = state === 'failed' && st.reason ? `${MESSAGES.failed} (${st.reason})` : MESSAGES[state];
      this.msgEl.textContent = text;
      this.msgEl.dataset.state = state;
      this.say(text);
    } else if (state === 'starting' || (state === 'scheduled' && Number.isFinite(at) && at <= Date.now())) {
      this.msgEl.textContent = 'Starting…';
      this.msgEl.dataset.state = 'starting';
      this.say('The broadcast is starting.');
    } else {
      this.msgEl.textContent = '';
      delete this.msgEl.dataset.state;
    }
    this.tick();
  }

  tick() {
    const st = this.state || {};
    const at = this.startsAt();
    if (!Number.isFinite(at) || !(st.state === 'scheduled' || st.state === 'starting')) return;
    const left = at - Date.now();
    this.countEl.textContent = countdownText(left);
    this.countEl.dataset.seconds = String(Math.max(0, Math.ceil(left / 1000)));
    if (left > 0) {
      const a = announcement(left, this.said);
      if (a) { this.said = a.key; this.say(a.text); }
    }
  }

  async poll() {
    while (!this.stopped) {
      try {
        const r = await fetch(this.url(), { cache: 'no-store' });
        if (r.ok) {
          this.state = await r.json();
          this.failures = 0;
        } else {
          this.failures += 1;
        }
      } catch {
        this.failures += 1;
      }
      this.render();
      const st = this.state || {};
      if (st.state === 'live' && st.session_id) { this.goLive(st.session_id); return; }
      if (['cancelled', 'failed', 'ended'].includes(st.state)) { this.finish(); return; }
      const left = this.startsAt() - Date.now();
      await new Promise((res) => { setTimeout(res, pollDelay(Number.isFinite(left) ? left : 0, this.failures)); });
    }
  }

  goLive(sessionId) {
    clearInterval(this.timer);
    this.countdownBox.hidden = true;
    this.msgEl.textContent = '';
    this.say('The broadcast is live.');
    const { broadcast, ...rest } = this.options;
    this.live = new LivePlayer(this.liveHost, { ...rest, live: { id: sessionId, state: null }, listenerToken: this.token });
    this.root.dataset.state = 'live';
    this.root.dataset.session = String(sessionId);
  }

  finish() {
    clearInterval(this.timer);
    this.stopped = true;
  }

  /** RMS of what the live player hears (0 before the broadcast is live). */
  level() { return this.live ? this.live.level() : 0; }

  get transport() { return this.live ? this.live.transport : null; }

  destroy() {
    this.finish();
    if (this.live) this.live.destroy();
  }
}
