// Access: who is listening, and what they may hear.
//
// For a signed-in fan, WordPress puts a short-lived listener token in the iframe URL's FRAGMENT
// (`/embed/track/12#shl=shmls....`): browsers never send a fragment to a server nor put it in a
// Referer. The player takes it out of the address bar at once (history.replaceState), keeps it in
// memory only, and sends it as `Authorization: Bearer` when it asks the companion for the fan's
// view of a track: signed, expiring stream and download URLs when the fan is entitled, the
// preview and a buy/subscribe prompt otherwise.
import { h } from './format.js';

const PREFIX = 'shmls.';
let taken = false;
let token = null;

/** The listener token from this page's fragment (once; removed from the address). */
export function takeListenerToken(loc = window.location, hist = window.history) {
  if (taken) return token;
  taken = true;
  const hash = loc.hash || '';
  const m = /(?:^#|&)shl=([^&]*)/.exec(hash);
  if (!m) return null;
  let value = '';
  try { value = decodeURIComponent(m[1]); } catch { value = ''; }
  token = value.startsWith(PREFIX) ? value : null;
  const rest = hash.replace(/(^#|&)shl=[^&]*/, '$1').replace(/^#&/, '#').replace(/^#$/, '');
  try { hist.replaceState(hist.state, '', `${loc.pathname}${loc.search}${rest}`); } catch { /* sandboxed */ }
  return token;
}

let consentTaken = false;
let consent;

/**
 * The site's consent to statistics from this page's fragment (``shc=1`` / ``shc=0``, put there by the
 * WordPress plugin when the site asks for consent; once, removed from the address): true, false, or
 * undefined when the fragment does not say (the site does not ask).
 */
export function takeConsent(loc = window.location, hist = window.history) {
  if (consentTaken) return consent;
  consentTaken = true;
  const hash = loc.hash || '';
  const m = /(?:^#|&)shc=([^&]*)/.exec(hash);
  if (!m) return undefined;
  consent = m[1] === '1';
  const rest = hash.replace(/(^#|&)shc=[^&]*/, '$1').replace(/^#&/, '#').replace(/&$/, '').replace(/^#$/, '');
  try { hist.replaceState(hist.state, '', `${loc.pathname}${loc.search}${rest}`); } catch { /* sandboxed */ }
  return consent;
}

export function authHeaders(listenerToken) {
  return listenerToken ? { Authorization: `Bearer ${listenerToken}` } : {};
}

/** Does this track JSON carry signed URLs that expire within ``margin`` seconds (or already did)? */
export function expiring(track, margin = 30, now = Date.now()) {
  const at = track && track.access && track.access.expires_at;
  if (!at) return false;
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(at) ? at : `${at}Z`);
  return Number.isFinite(t) && t - margin * 1000 <= now;
}

/** Is this track only a preview for this listener (premium, not theirs)? */
export function locked(track) {
  return !!(track && track.access && track.access.stream === 'preview');
}

/**
 * ``href`` with the play attribution ``play`` (``sh_play=<session>.<track>``, see Beacons.playToken) added,
 * so that the shop counts a purchase for the play that led to it; ``href`` unchanged without one.
 */
export function withPlay(href, play) {
  if (!play || !href) return href;
  try {
    const u = new URL(href, location.href);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return href;
    u.searchParams.set('sh_play', play);
    return u.toString();
  } catch {
    return href;
  }
}

/** The links a locked track offers: its buy link and the site's subscribe link, when known (``play``:
 * the play attribution they carry). */
export function unlockLinks(track, unlock = {}, play = '') {
  const links = [];
  const buy = (track && track.access && track.access.buy_url) || (track && track.buy_url);
  if (buy) links.push({ href: withPlay(buy, play), label: 'Buy', kind: 'buy' });
  if (unlock.url && unlock.url !== buy) links.push({ href: withPlay(unlock.url, play), label: unlock.label || 'Subscribe', kind: 'subscribe' });
  return links;
}

/** Fill ``box`` with the prompt a locked track shows (or hide it). */
export function renderPrompt(box, track, unlock = {}, play = '') {
  box.replaceChildren();
  if (!locked(track)) {
    box.hidden = true;
    return false;
  }
  const links = unlockLinks(track, unlock, play);
  box.append(h('span', { class: 'shp-prompt-text' },
    'You are hearing a preview. ', links.length ? 'Buy it or subscribe to hear all of it and download it.' : 'The full track is for members.'));
  for (const l of links) {
    box.append(' ', h('a', { class: `shp-prompt-${l.kind}`, href: l.href, target: '_blank', rel: 'noopener' }, l.label));
  }
  box.hidden = false;
  return true;
}
