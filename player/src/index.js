// The bundle's entry: mount players, expose window.ScriptHammer, auto-mount
// <div data-scripthammer-player data-config='{"track": 12}'> elements, and in an iframe answer the
// parent page's postMessage commands.
import { mark } from './marks.js';
import './player.css';
import { takeConsent, takeListenerToken } from './access.js';
import { connect, serveBridge } from './bridge.js';
import { BroadcastPlayer } from './broadcast.js';
import { LivePlayer } from './live.js';
import { Player } from './player.js';

mark('bundle');
// First thing: the listener token leaves the address bar (it lives in memory only).
const listenerToken = typeof window !== 'undefined' ? takeListenerToken() : null;
// The embedding site's consent to statistics (#shc=1 / #shc=0), when it asks for it.
const siteConsent = typeof window !== 'undefined' ? takeConsent() : undefined;
const players = [];

/** Mount a player in ``el`` (an element or a selector). Returns the Player. */
export function mount(el, options = {}) {
  const container = typeof el === 'string' ? document.querySelector(el) : el;
  if (!container) throw new Error(`no element ${el}`);
  // Live mode (/embed/live/<session>): a live session's broadcast and the audience's votes; a scheduled
  // broadcast (/embed/broadcast/<id>) counts down, then becomes the live player of its session.
  let player;
  if (options.broadcast) player = new BroadcastPlayer(container, options);
  else if (options.live) player = new LivePlayer(container, options);
  else player = new Player(container, options);
  players.push(player);
  container.scripthammerPlayer = player;
  const inFrame = window.parent && window.parent !== window;
  if (inFrame && !options.live && !options.broadcast && options.bridge !== false && players.length === 1) serveBridge(player, { allowedOrigins: options.allowedOrigins || ['*'] });
  return player;
}

function configOf(el) {
  let cfg = {};
  const ref = el.getAttribute('data-config-id');
  const raw = ref ? (document.getElementById(ref) || {}).textContent : el.getAttribute('data-config');
  if (raw) {
    try { cfg = JSON.parse(raw); } catch (err) { console.error('[scripthammer-player] bad data-config:', err); }
  }
  for (const k of ['track', 'album', 'api']) {
    const v = el.getAttribute(`data-${k}`);
    if (v !== null && cfg[k] === undefined) cfg[k] = v;
  }
  return cfg;
}

export function autoMount(root = document) {
  return [...root.querySelectorAll('[data-scripthammer-player]')]
    .filter((el) => !el.scripthammerPlayer)
    .map((el) => {
      const cfg = configOf(el);
      if (cfg.keyboard === 'document') cfg.keyboardTarget = document;
      if (cfg.page === 'referrer') cfg.page = document.referrer || location.href;
      if (cfg.listenerToken === undefined && listenerToken) cfg.listenerToken = listenerToken;
      if (cfg.consent === undefined && siteConsent !== undefined) cfg.consent = siteConsent;
      return mount(el, cfg);
    });
}

export { BroadcastPlayer, LivePlayer, Player, connect, players };

const api = { mount, autoMount, connect, Player, LivePlayer, BroadcastPlayer, players, version: '0.1.0' };
if (typeof window !== 'undefined') {
  window.ScriptHammer = Object.assign(window.ScriptHammer || {}, api);
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => autoMount());
  else autoMount();
}

export default api;
