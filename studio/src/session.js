// The shared studio view of a live session (/studio/session/<id>): who is in the room, their levels
// and parts, what each robot plays in the bar in force, what the robots hear, the chat and the marks;
// a member joins the room from here (session-room.js). It polls GET /api/live/sessions/<id>/view.
import { readToken } from './api.js';
import { joinRoom } from './session-room.js';

const POLL_MS = 500;

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function meter(db) {
  const m = el('meter', { min: '-80', max: '0', value: String(db == null ? -80 : Math.max(-80, Math.min(0, db))) });
  m.setAttribute('aria-label', db == null ? 'level unknown' : `level ${Math.round(db)} dB`);
  return m;
}

class SessionView {
  constructor(root) {
    this.root = root;
    this.id = root.dataset.session;
    this.api = root.dataset.api;
    this.token = readToken();
    this.room = null;
    this.myLevel = null;
    this.$ = (s) => root.querySelector(s);
    this.$('#join').addEventListener('click', () => this.join());
    this.$('#chat-form').addEventListener('submit', (e) => { e.preventDefault(); this.say('chat', '#chat-text'); });
    this.$('#mark-form').addEventListener('submit', (e) => { e.preventDefault(); this.say('marks', '#mark-text'); });
    this.poll();
  }

  status(text, state) {
    const s = this.$('#sv-status');
    s.textContent = text;
    if (state) s.dataset.state = state;
  }

  async request(path, opts = {}) {
    const r = await fetch(`${this.api}/live/sessions/${this.id}${path}`, {
      ...opts,
      headers: { Authorization: `Bearer ${this.token}`, ...(opts.body ? { 'Content-Type': 'application/json' } : {}) },
    });
    const body = await r.json().catch(() => ({}));
    return { status: r.status, body };
  }

  async join() {
    const btn = this.$('#join');
    btn.disabled = true;
    this.status('Joining the room…', 'joining');
    try {
      this.room = await joinRoom({ api: this.api, sessionId: this.id, token: this.token, audio: this.$('#sv-audio') });
      const ctx = new AudioContext();
      const an = ctx.createAnalyser();
      an.fftSize = 2048;
      ctx.createMediaStreamSource(this.room.mic).connect(an);
      const buf = new Float32Array(an.fftSize);
      this.micLevel = () => {
        an.getFloatTimeDomainData(buf);
        let s = 0;
        for (const v of buf) s += v * v;
        return Math.sqrt(s / buf.length);
      };
      this.root.dataset.joined = 'true';
      this.status('In the room', 'joined');
    } catch (e) {
      btn.disabled = false;
      this.root.dataset.joined = 'false';
      this.status(`Could not join: ${e.message}`, 'error');
    }
  }

  async say(kind, input) {
    const box = this.$(input);
    const text = box.value;
    const { status, body } = await this.request(`/${kind}`, { method: 'POST', body: JSON.stringify({ text }) });
    if (status === 201) { box.value = ''; this.status(kind === 'chat' ? 'Sent' : 'Marked'); this.poll(true); }
    else this.status(body.message || `refused (${status})`, 'error');
  }

  async poll(once = false) {
    try {
      const { status, body } = await this.request('/view');
      if (status === 200) this.render(body);
      else this.status(body.message || `The view is not available (${status})`, 'error');
      if (status === 401 || status === 403 || status === 404) return;
    } catch (e) { /* the next poll tries again */ }
    if (!once) setTimeout(() => this.poll(), POLL_MS);
  }

  render(v) {
    this.root.dataset.status = v.status;
    this.root.dataset.bar = String(v.bar);
    this.$('#sv-bar').textContent = `Bar ${v.bar}`;
    this.$('#sv-me').textContent = v.me;
    const params = this.$('#sv-params');
    params.replaceChildren(...Object.entries(v.params || {}).filter(([k]) => k !== 'lyrics').flatMap(([k, val]) => [
      el('dt', {}, k), el('dd', { 'data-param': k }, String(val))]));

    const people = this.$('#sv-people');
    people.replaceChildren(...v.participants.map((p) => {
      const li = el('li', { 'data-who': p.who, 'data-kind': p.kind, 'data-talking': String(p.talking) });
      let db = p.level_db;
      if (p.who === v.me && this.micLevel) {
        const rms = this.micLevel();
        this.myLevel = rms > 0 ? 20 * Math.log10(rms) : -120;
        li.dataset.micLevel = this.myLevel.toFixed(1);
        if (db == null) db = this.myLevel;
      }
      if (db != null) li.dataset.level = db.toFixed(1);
      li.append(el('span', { class: 'sv-who' }, p.who === v.me ? `${p.who} (you)` : p.who),
        el('span', { class: 'sv-kind' }, p.kind),
        el('span', { class: 'sv-parts' }, (p.parts || []).join('; ')), meter(db));
      return li;
    }));
    this.root.dataset.people = v.participants.map((p) => p.who).sort().join(',');

    const robots = this.$('#sv-robots');
    robots.replaceChildren(...v.robots.map((r) => el('li', { 'data-robot': r.robot, 'data-bar': String(r.bar), 'data-count': String(r.count) },
      `${r.robot} (${r.parts.join(', ')}), bar ${r.bar}: ${r.notes.length ? r.notes.join(' ') : 'rest'}`)));

    const heard = this.$('#sv-heard');
    if (v.heard) {
      heard.dataset.pitchClass = v.heard.pitch_class || '';
      heard.textContent = `The robots hear the members at ${v.heard.level_db} dB` +
        (v.heard.pitch_class ? `, around ${v.heard.pitch_class}` : '');
      const f = (v.followed || [])[v.followed.length - 1];
      if (f) heard.textContent += `; they followed into ${f.value} at bar ${f.bar}`;
    } else heard.textContent = 'The robots hear nothing from the members yet.';

    const notes = this.$('#sv-notes');
    notes.replaceChildren(...v.notes.map((n) => el('li', { 'data-kind': n.kind, 'data-id': String(n.id), 'data-author': n.author },
      `${n.media_time.toFixed(1)} s (bar ${n.bar}) ${n.kind === 'mark' ? '⚑' : ''} ${n.author}: ${n.text}`)));
  }
}

const root = document.getElementById('session');
if (root) window.sessionView = new SessionView(root);
