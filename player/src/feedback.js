// Fans' timed feedback (SoundCloud-style): markers on the waveform for approved reactions and
// comments (and the fan's own pending ones), and, for a signed-in fan, a bar to leave a reaction or
// a short comment at the current playback time. The companion keeps it pending until a moderator
// approves it (docs/feedback.md). Text is only ever set as text, never as markup.
import { authHeaders } from './access.js';
import { formatTime, h } from './format.js';

export const REACTIONS = [
  ['fire', '\u{1F525}'], ['heart', '\u2764\uFE0F'], ['wow', '\u{1F62E}'],
  ['laugh', '\u{1F602}'], ['sad', '\u{1F622}'], ['clap', '\u{1F44F}'],
];
const GLYPH = Object.fromEntries(REACTIONS);

/** What a refusal says: a field's own message (details.fields.json.<field>) before the general one. */
function reason(body) {
  const fields = body && body.details && body.details.fields;
  const inner = fields && (fields.json || fields);
  if (inner && typeof inner === 'object') {
    for (const msgs of Object.values(inner)) {
      const first = Array.isArray(msgs) ? msgs[0] : msgs;
      if (typeof first === 'string') return first;
    }
  }
  return body && body.message;
}

export class Feedback {
  /**
   * @param {object} player  the Player (api, listenerToken, track, duration, currentTime)
   * @param {HTMLElement} wave  the waveform element the markers sit on
   */
  constructor(player, wave) {
    this.player = player;
    this.items = [];
    this.layer = h('div', { class: 'shp-marks', 'aria-label': 'Fans\u2019 reactions', role: 'list' });
    wave.append(this.layer);
    this.input = h('input', { type: 'text', class: 'shp-fb-text', maxlength: '280', 'aria-label': 'Comment at this moment',
      placeholder: 'Comment at this moment' });
    const buttons = REACTIONS.map(([name, glyph]) => h('button', {
      type: 'button', class: 'shp-btn shp-react', 'data-reaction': name, 'aria-label': `React: ${name}`, title: name,
      onclick: () => this.player.react(name, this.input.value.trim() || undefined),
    }, glyph));
    const send = h('button', { type: 'button', class: 'shp-btn shp-fb-send', onclick: () => {
      const text = this.input.value.trim();
      if (text) this.player.react(undefined, text);
    } }, 'Send');
    this.note = h('span', { class: 'shp-fb-note', role: 'status', 'aria-live': 'polite' });
    this.bar = h('div', { class: 'shp-feedback', hidden: true }, ...buttons, this.input, send, this.note);
  }

  get signedIn() { return !!this.player.listenerToken; }

  async load(track) {
    this.items = [];
    this.render();
    this.bar.hidden = !this.signedIn;
    if (!track || track.id === undefined) return;
    try {
      const resp = await fetch(`${this.player.api}/api/tracks/${encodeURIComponent(track.id)}/feedback`, {
        mode: 'cors', headers: authHeaders(this.player.listenerToken) });
      if (!resp.ok || this.player.track !== track) return;
      this.items = (await resp.json()).feedback || [];
      this.render();
    } catch { /* no markers: the player plays on */ }
  }

  /** Send one reaction or comment at ``position``; resolves to the stored item (or null, saying why). */
  async post(track, position, data) {
    if (!this.signedIn) return null;
    let resp;
    try {
      resp = await fetch(`${this.player.api}/api/tracks/${encodeURIComponent(track.id)}/feedback`, {
        method: 'POST', mode: 'cors',
        headers: { 'Content-Type': 'application/json', ...authHeaders(this.player.listenerToken) },
        body: JSON.stringify({ position: Math.round(position * 1000) / 1000, ...data }),
      });
    } catch {
      this.note.textContent = 'Could not send: offline?';
      return null;
    }
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      this.note.textContent = reason(body) || `Not sent (${resp.status}).`;
      return null;
    }
    this.input.value = '';
    this.note.textContent = 'Thanks! It shows to others once approved.';
    if (this.player.track === track) {
      this.items = [...this.items, body].sort((a, b) => a.position - b.position);
      this.render();
    }
    return body;
  }

  render() {
    const d = this.player.duration;
    const marks = d > 0 ? this.items.map((f) => {
      const label = `${formatTime(f.position)} ${f.author_name || 'a fan'}: ${GLYPH[f.emoji] || ''} ${f.text || ''}`.trim()
        + (f.state === 'pending' ? ' (awaiting approval)' : '');
      const el = h('span', {
        class: `shp-mark${f.state === 'pending' ? ' shp-mark-pending' : ''}${f.mine ? ' shp-mark-mine' : ''}`,
        role: 'listitem', title: label, 'aria-label': label, 'data-id': f.id, 'data-state': f.state,
        style: `left:${Math.min(100, (100 * f.position) / d).toFixed(3)}%`,
      }, GLYPH[f.emoji] || '\u{1F4AC}');
      return el;
    }) : [];
    this.layer.replaceChildren(...marks);
  }
}
