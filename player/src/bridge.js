// The JavaScript API across an iframe. Inside the embed, ``serveBridge`` answers commands posted
// by the parent page and forwards the player's events to it. On the parent page, ``connect(iframe)``
// gives a remote player with the same methods (returning promises) and events.
import { Emitter } from './emitter.js';

export const PROTOCOL = 'scripthammer-player';
export const COMMANDS = ['play', 'pause', 'toggle', 'seek', 'load', 'next', 'previous', 'setLevel', 'setVolume',
  'setMuted', 'setVisualizer', 'getState', 'setConsent'];
export const FORWARDED_EVENTS = ['ready', 'play', 'pause', 'timeupdate', 'ended', 'levelswitch', 'trackchange',
  'seeked', 'error', 'download', 'tip', 'volumechange'];

function clone(x) {
  try { return JSON.parse(JSON.stringify(x ?? null)); } catch { return null; }
}

/** Inside the iframe: let the parent window drive ``player``. */
export function serveBridge(player, { target = window.parent, allowedOrigins = ['*'] } = {}) {
  if (!target || target === window) return () => {};
  const allowed = (origin) => allowedOrigins.includes('*') || allowedOrigins.includes(origin);
  const post = (msg) => { try { target.postMessage({ protocol: PROTOCOL, ...msg }, '*'); } catch { /* gone */ } };
  const onMessage = async (e) => {
    const msg = e.data;
    if (e.source !== target || !msg || msg.protocol !== PROTOCOL || msg.kind !== 'command') return;
    if (!allowed(e.origin)) return;
    const { id, method, args = [] } = msg;
    if (!COMMANDS.includes(method) || typeof player[method] !== 'function') {
      post({ kind: 'response', id, error: `unknown method ${method}` });
      return;
    }
    try {
      const result = await player[method](...(Array.isArray(args) ? args : [args]));
      post({ kind: 'response', id, result: clone(result) });
    } catch (err) {
      post({ kind: 'response', id, error: String(err && err.message ? err.message : err) });
    }
  };
  window.addEventListener('message', onMessage);
  const offs = FORWARDED_EVENTS.map((type) => player.on(type, (detail) => post({ kind: 'event', type, detail: clone(detail) })));
  return () => {
    window.removeEventListener('message', onMessage);
    offs.forEach((off) => off());
  };
}

/** On the parent page: a remote control for the player inside ``iframe``. */
export class RemotePlayer extends Emitter {
  constructor(iframe, { timeout = 10000 } = {}) {
    super();
    this.iframe = iframe;
    this.timeout = timeout;
    this.ready = false;
    this.state = null;
    this._pending = new Map();
    this._seq = 0;
    this._origin = (() => { try { return new URL(iframe.src, location.href).origin; } catch { return '*'; } })();
    this._onMessage = (e) => {
      const msg = e.data;
      if (e.source !== iframe.contentWindow || !msg || msg.protocol !== PROTOCOL) return;
      if (msg.kind === 'response') {
        const p = this._pending.get(msg.id);
        if (!p) return;
        this._pending.delete(msg.id);
        clearTimeout(p.timer);
        msg.error ? p.reject(new Error(msg.error)) : p.resolve(msg.result);
      } else if (msg.kind === 'event') {
        if (msg.type === 'ready') {
          this.ready = true;
          this.state = msg.detail;
        } else if (msg.type === 'timeupdate' && this.state) this.state = { ...this.state, ...msg.detail };
        this.emit(msg.type, msg.detail);
      }
    };
    window.addEventListener('message', this._onMessage);
    for (const m of COMMANDS) this[m] = (...args) => this.call(m, ...args);
  }

  call(method, ...args) {
    return this._call(method, args, this.timeout);
  }

  _call(method, args, timeout) {
    const id = `${Date.now().toString(36)}-${(this._seq += 1)}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new Error(`${method}: no answer from the player`));
      }, timeout);
      this._pending.set(id, { resolve, reject, timer });
      this.iframe.contentWindow.postMessage({ protocol: PROTOCOL, kind: 'command', id, method, args }, this._origin);
    });
  }

  /**
   * Resolves with the player's state once the embedded player is ready. The 'ready' event may have
   * been sent before this page connected, so the player is also asked (getState) until it answers.
   */
  whenReady({ timeout = 15000 } = {}) {
    if (this.ready) return Promise.resolve(this.state);
    return new Promise((resolve, reject) => {
      let done = false;
      const stop = () => { done = true; clearInterval(poll); clearTimeout(timer); };
      const finish = (state) => {
        if (done || !state || !state.ready) return;
        stop();
        this.ready = true;
        this.state = state;
        resolve(state);
      };
      this.once('ready', finish);
      const ask = () => this._call('getState', [], 1000).then(finish, () => {});
      const poll = setInterval(ask, 250);
      const timer = setTimeout(() => {
        if (done) return;
        stop();
        reject(new Error('The embedded player did not answer.'));
      }, timeout);
      ask();
    });
  }

  destroy() {
    window.removeEventListener('message', this._onMessage);
  }
}

export function connect(iframe, opts) {
  return new RemotePlayer(iframe, opts);
}
