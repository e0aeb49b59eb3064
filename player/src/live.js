// The player's live mode (/embed/live/<session>): a live session's broadcast, its status, bar and
// parameters, and the audience's vote controls.
//
// Transport: WebRTC first (Janus' offer through the companion: POST .../listen, the answer back to
// POST .../listen/<listener>, receive-only audio), and the live HLS playlist through hls.js where
// WebRTC is not possible: the session has no WebRTC (state.webrtc null, or 409 no_webrtc), the
// listener is not signed in (listening over WebRTC needs a listener token; the HLS broadcast is
// public), the signalling fails, ICE does not connect within a few seconds or fails later, or the
// page asks for it (transport: 'hls', ?transport=hls).
//
// A premium broadcast's session (state.premium) plays only for a caller it lets in (state.access.allowed:
// the band, a subscriber, a ticket holder): the state is polled with the listener token, and its hls is
// then the listener's own signed playlist. Anyone else sees why (sign in / buy a ticket, with the
// ticket's link) instead of a player. An ended session whose recording was released links to it.
import Hls from 'hls.js/dist/hls.light.mjs';
import { authHeaders } from './access.js';
import { h } from './format.js';
import { analyserLevel } from './visualizer.js';

const POLL_MS = 1000;
const ICE_GATHER_MS = 3000;
const CONNECT_MS = 8000;

const LABELS = { key: 'Key', density: 'Intensity', mood: 'Mood', tempo_feel: 'Feel', tempo: 'Tempo' };

function statusOf(st) {
  if (!st) return 'starting';
  if (st.status === 'live') return 'live';
  if (st.status === 'starting') return 'starting';
  return 'ended'; // stopping, ended, failed
}

export class LivePlayer {
  constructor(container, options = {}) {
    this.container = container;
    this.options = options;
    this.api = String(options.api || '').replace(/\/$/, '');
    this.id = options.live.id;
    this.state = options.live.state || null;
    this.token = options.listenerToken || null;
    this.forceHls = options.transport === 'hls';
    this.transport = null; // 'webrtc' | 'hls'
    this.fallbackReason = '';
    this.pc = null;
    this.hls = null;
    this.ctx = null;
    this.analyser = null;
    this.myVotes = [];
    this.stopped = false;
    this.build();
    this.render();
    this.poll();
  }

  url(path) { return `${this.api}/api/live/sessions/${this.id}${path}`; }

  build() {
    this.audio = h('audio', { class: 'shp-live-audio', playsinline: true });
    this.statusEl = h('span', { class: 'shp-live-status', role: 'status' });
    this.transportEl = h('span', { class: 'shp-live-transport' }, 'connecting…');
    this.barEl = h('span', { class: 'shp-live-bar' });
    this.paramsEl = h('dl', { class: 'shp-live-params' });
    this.ballotEl = h('div', { class: 'shp-live-ballot' });
    this.voteMsg = h('p', { class: 'shp-live-vote-msg', 'aria-live': 'polite' });
    this.appliedEl = h('ol', { class: 'shp-live-applied' });
    this.meter = h('span', { class: 'shp-live-meter' }, h('span', { class: 'shp-live-meter-fill' }));
    this.lockEl = h('p', { class: 'shp-live-locked', role: 'status', hidden: true });
    this.recordingEl = h('p', { class: 'shp-live-recording', hidden: true });
    this.playBtn = h('button', { type: 'button', class: 'shp-live-play', hidden: true, onclick: () => this.resume() }, 'Listen');
    this.root = h('div', { class: 'shp-live', 'data-status': 'starting', 'data-transport': '' },
      h('div', { class: 'shp-live-head' },
        h('strong', { class: 'shp-live-title' }, `Live session ${this.id}`), ' ',
        this.statusEl, ' ', this.transportEl, ' ', this.barEl, ' ', this.meter, ' ', this.playBtn),
      this.lockEl, this.recordingEl, this.paramsEl, this.ballotEl, this.voteMsg,
      h('div', { class: 'shp-live-applied-box' }, h('span', {}, 'What the votes changed:'), this.appliedEl),
      this.audio);
    this.container.replaceChildren(this.root);
    this.buildBallot();
  }

  buildBallot() {
    const ballot = (this.state && this.state.ballot) || {};
    this.ballotEl.replaceChildren();
    for (const [param, choices] of Object.entries(ballot)) {
      const row = h('div', { class: 'shp-live-vote', 'data-parameter': param },
        h('span', { class: 'shp-live-vote-label' }, LABELS[param] || param));
      for (const choice of choices) {
        row.append(h('button', {
          type: 'button', class: 'shp-live-choice', 'data-parameter': param, 'data-value': choice,
          disabled: !this.token, title: this.token ? `Vote ${param}: ${choice}` : 'Sign in to vote',
          onclick: () => this.vote(param, choice),
        }, choice));
      }
      this.ballotEl.append(row);
    }
    if (!this.token) {
      this.ballotEl.append(h('p', { class: 'shp-live-signin' }, 'Sign in to vote on what the robots play next.'));
    }
  }

  render() {
    const st = this.state;
    const status = statusOf(st);
    this.root.dataset.status = status;
    const text = { starting: 'Starting…', live: 'Live', ended: 'Ended' }[status];
    this.statusEl.textContent = status === 'ended' && st && st.status === 'failed' ? `Ended (${st.message || st.error})` : text;
    if (!st) return;
    this.renderAccess(st, status);
    this.barEl.textContent = `bar ${st.bar ?? 0}`;
    this.barEl.dataset.bar = String(st.bar ?? 0);
    this.paramsEl.replaceChildren();
    for (const [k, v] of Object.entries(st.params || {})) {
      this.paramsEl.append(h('dt', {}, LABELS[k] || k), h('dd', { 'data-param': k }, String(v)));
    }
    const applied = (st.applied || []).slice(-6).reverse();
    this.appliedEl.replaceChildren(...applied.map((a) => h('li', { 'data-parameter': a.parameter, 'data-value': a.value },
      `bar ${a.bar}: ${LABELS[a.parameter] || a.parameter} → ${a.value} (${a.votes} vote${a.votes === 1 ? '' : 's'})`)));
    for (const v of this.myVotes) {
      if (v.applied) continue;
      const hit = (st.applied || []).find((a) => a.parameter === v.parameter && a.bar >= v.applies_at_bar);
      if (hit) {
        v.applied = hit;
        this.voteMsg.textContent = hit.value === v.value
          ? `Your vote took effect at bar ${hit.bar}: ${LABELS[hit.parameter] || hit.parameter} is now ${hit.value}.`
          : `The audience chose ${hit.value} for ${LABELS[hit.parameter] || hit.parameter} at bar ${hit.bar}.`;
        this.voteMsg.dataset.state = 'applied';
      }
    }
    for (const b of this.ballotEl.querySelectorAll('button')) b.disabled = !this.token || status !== 'live';
  }

  locked() {
    const st = this.state;
    return Boolean(st && st.premium && st.access && !st.access.allowed);
  }

  renderAccess(st, status) {
    if (this.locked()) {
      const why = st.access.why === 'sign_in' || !this.token ? 'sign_in' : 'ticket';
      this.lockEl.replaceChildren(why === 'sign_in'
        ? 'This broadcast is premium: sign in, then buy a ticket (or subscribe) to listen.'
        : 'This broadcast is premium: buy a ticket (or subscribe) to listen.');
      if (st.access.buy_url) {
        this.lockEl.append(' ', h('a', { class: 'shp-live-buy', href: st.access.buy_url, target: '_top' }, 'Buy a ticket'));
      }
      this.lockEl.dataset.why = why;
      this.lockEl.hidden = false;
      this.root.dataset.locked = why;
      if (this.transport) this.stopMedia();
    } else {
      this.lockEl.hidden = true;
      delete this.root.dataset.locked;
    }
    if (status === 'ended' && st.track_id && st.recording_released) {
      const href = `${this.api}/embed/track/${st.track_id}`;
      this.recordingEl.replaceChildren('The broadcast has ended. ',
        h('a', { class: 'shp-live-recording-link', href, 'data-track': String(st.track_id) }, 'Hear the recording'));
      this.recordingEl.hidden = false;
    } else if (status === 'ended') {
      this.recordingEl.textContent = 'The broadcast has ended; its recording is not released yet.';
      this.recordingEl.hidden = false;
    } else {
      this.recordingEl.hidden = true;
    }
  }

  async poll() {
    while (!this.stopped) {
      try {
        const r = await fetch(this.url(''), { cache: 'no-store', headers: authHeaders(this.token) });
        if (r.ok) {
          const first = !this.state || !this.state.ballot;
          this.state = await r.json();
          if (first) this.buildBallot();
          this.render();
        }
      } catch { /* try again */ }
      const status = statusOf(this.state);
      if (status === 'live' && !this.transport && !this.connecting && !this.locked()) this.connect();
      if (status === 'ended') { this.stopMedia(); return; }
      await new Promise((res) => { setTimeout(res, POLL_MS); });
    }
  }

  setTransport(kind, reason = '') {
    this.transport = kind;
    this.fallbackReason = reason;
    this.root.dataset.transport = kind;
    this.transportEl.textContent = kind === 'webrtc' ? 'WebRTC' : `HLS${reason ? ` (${reason})` : ''}`;
    this.transportEl.dataset.transport = kind;
  }

  async connect() {
    this.connecting = true;
    try {
      let reason = '';
      if (this.forceHls) reason = 'chosen';
      else if (!this.state.webrtc) reason = 'no WebRTC for this session';
      else if (!this.token) reason = 'sign in for WebRTC';
      else if (typeof RTCPeerConnection === 'undefined') reason = 'no WebRTC in this browser';
      if (!reason) {
        try {
          await this.webrtc();
          return;
        } catch (err) {
          reason = err.message || 'WebRTC failed';
          this.closePc();
        }
      }
      this.startHls(reason);
    } finally {
      this.connecting = false;
    }
  }

  async webrtc() {
    const headers = { 'Content-Type': 'application/json', ...authHeaders(this.token) };
    const r = await fetch(this.url('/listen'), { method: 'POST', headers, body: '{}' });
    const offer = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(offer.code === 'no_webrtc' ? 'no WebRTC for this session' : `listen: ${offer.code || r.status}`);
    const pc = new RTCPeerConnection({ iceServers: offer.ice_servers || [] });
    this.pc = pc;
    const gotTrack = new Promise((res) => { pc.ontrack = (e) => res(e.streams[0] || new MediaStream([e.track])); });
    await pc.setRemoteDescription(offer.jsep);
    await pc.setLocalDescription(await pc.createAnswer());
    await new Promise((res) => { // no trickle through the companion: the answer carries the candidates
      if (pc.iceGatheringState === 'complete') { res(); return; }
      const t = setTimeout(res, ICE_GATHER_MS);
      pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') { clearTimeout(t); res(); } });
    });
    const a = await fetch(this.url(`/listen/${encodeURIComponent(offer.listener)}`), {
      method: 'POST', headers, body: JSON.stringify({ jsep: { type: 'answer', sdp: pc.localDescription.sdp } }),
    });
    if (!a.ok) throw new Error(`answer: ${a.status}`);
    await new Promise((res, rej) => {
      const ok = () => ['connected', 'completed'].includes(pc.iceConnectionState);
      if (ok()) { res(); return; }
      const t = setTimeout(() => rej(new Error('ICE did not connect')), CONNECT_MS);
      pc.addEventListener('iceconnectionstatechange', () => {
        if (ok()) { clearTimeout(t); res(); } else if (pc.iceConnectionState === 'failed') { clearTimeout(t); rej(new Error('ICE failed')); }
      });
    });
    const stream = await Promise.race([gotTrack, new Promise((_, rej) => setTimeout(() => rej(new Error('no audio track')), CONNECT_MS))]);
    this.audio.srcObject = stream;
    this.setTransport('webrtc');
    this.graph({ stream });
    this.play();
    pc.addEventListener('connectionstatechange', () => {
      if (pc === this.pc && pc.connectionState === 'failed' && !this.stopped) {
        this.closePc();
        this.audio.srcObject = null;
        this.startHls('WebRTC dropped');
      }
    });
  }

  closePc() {
    if (this.pc) { try { this.pc.close(); } catch { /* closed */ } }
    this.pc = null;
  }

  startHls(reason) {
    const old = this.audio;
    this.audio = h('audio', { class: 'shp-live-audio', playsinline: true });
    old.replaceWith(this.audio); // a fresh element: one WebRTC stream may have been attached to the old one
    const src = `${this.api}${this.state.hls}`;
    this.setTransport('hls', reason);
    if (Hls.isSupported()) {
      this.hls = new Hls({ liveSyncDurationCount: 2, liveMaxLatencyDurationCount: 5, manifestLoadingMaxRetry: 10,
        levelLoadingMaxRetry: 10, fragLoadingMaxRetry: 6 });
      let parsed = false;
      const hls = this.hls;
      hls.loadSource(src);
      hls.attachMedia(this.audio);
      hls.on(Hls.Events.MANIFEST_PARSED, () => { parsed = true; this.play(); });
      hls.on(Hls.Events.ERROR, (_e, data) => {
        if (!data.fatal || this.hls !== hls) return;
        if (data.type === Hls.ErrorTypes.NETWORK_ERROR && !parsed) {
          // the broadcast's first playlist is not written yet (a 404 hls.js does not retry): ask again
          setTimeout(() => { if (this.hls === hls) hls.loadSource(src); }, 1000);
        } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) hls.startLoad();
        else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
      });
    } else {
      this.audio.src = src; // native HLS (Safari)
    }
    this.graph({ element: this.audio });
    this.play();
  }

  graph({ stream, element }) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    try {
      if (!this.ctx) this.ctx = new Ctx();
      const analyser = this.ctx.createAnalyser();
      analyser.fftSize = 2048;
      if (stream) {
        // The <audio> element plays the stream; the analyser only listens (through a silent gain).
        this.ctx.createMediaStreamSource(stream).connect(analyser);
        const mute = this.ctx.createGain();
        mute.gain.value = 0;
        analyser.connect(mute).connect(this.ctx.destination);
      } else {
        this.ctx.createMediaElementSource(element).connect(analyser);
        analyser.connect(this.ctx.destination);
      }
      this.analyser = analyser;
      if (!this.meterTimer) this.meterTimer = setInterval(() => this.showLevel(), 200);
    } catch (err) {
      console.warn('[scripthammer-player] no Web Audio graph:', err);
    }
  }

  /** RMS of what the analyser hears now (0 when silent or no graph). */
  level() { return analyserLevel(this.analyser); }

  showLevel() {
    const l = this.level();
    this.meter.firstChild.style.width = `${Math.min(100, Math.round(Math.sqrt(l) * 200))}%`;
  }

  play() {
    if (this.ctx && this.ctx.state === 'suspended') this.ctx.resume().catch(() => {});
    const p = this.audio.play();
    if (p && p.catch) {
      p.then(() => { this.playBtn.hidden = true; }).catch(() => { this.playBtn.hidden = false; }); // needs a click first
    }
  }

  resume() {
    this.playBtn.hidden = true;
    this.play();
  }

  async vote(parameter, value) {
    if (!this.token) {
      this.voteMsg.textContent = 'Sign in to vote.';
      return null;
    }
    const r = await fetch(this.url('/votes'), {
      method: 'POST', headers: { 'Content-Type': 'application/json', ...authHeaders(this.token) },
      body: JSON.stringify({ parameter, value }),
    });
    const body = await r.json().catch(() => ({}));
    this.voteMsg.dataset.status = String(r.status);
    if (r.status === 202) {
      this.myVotes.push({ ...body, applied: null });
      this.voteMsg.dataset.state = 'counted';
      this.voteMsg.textContent = `Your vote for ${LABELS[parameter] || parameter}: ${value} is counted; it applies at bar ${body.applies_at_bar}.`;
    } else {
      this.voteMsg.dataset.state = 'refused';
      this.voteMsg.textContent = body.message || `The vote was not taken (${r.status}).`;
    }
    return r.status;
  }

  stopMedia() {
    this.closePc();
    if (this.hls) { this.hls.destroy(); this.hls = null; }
    try { this.audio.pause(); } catch { /* gone */ }
    if (this.meterTimer) { clearInterval(this.meterTimer); this.meterTimer = null; }
    this.render();
  }

  destroy() {
    this.stopped = true;
    this.stopMedia();
    if (this.ctx) this.ctx.close().catch(() => {});
  }
}
