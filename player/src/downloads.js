// The download menu: the formats this listener may download (each an expiring link the companion
// signed for them) with their sizes. A listener who may not download a premium track sees no
// formats, only where to buy or subscribe.
import { unlockLinks } from './access.js';
import { formatBytes, h } from './format.js';

const LABELS = {
  'mp3-320': 'MP3 320 kbps', 'mp3-v0': 'MP3 V0', flac: 'FLAC', aac: 'AAC', vorbis: 'Ogg Vorbis', alac: 'ALAC',
  wav: 'WAV', aiff: 'AIFF', opus: 'Opus', shf: 'ScriptHammer Format (SHF)',
};

export function formatLabel(r) {
  if (LABELS[r.name]) return LABELS[r.name];
  const base = (r.format || r.name || '').toUpperCase();
  return r.bitrate && /mp3|aac|opus|vorbis/i.test(base) ? `${base} ${Math.round(r.bitrate / 1000)} kbps` : base;
}

/** The formats this listener may download: [{name, label, size, url, extension, lossless}]. */
export function downloadsOf(track) {
  const rs = (track.renditions || []).filter((r) => r.url && (r.kind === 'download' || r.format === 'shf'
    || r.extension === 'shf' || r.name === 'shf'));
  return rs.map((r) => ({
    name: r.name, label: formatLabel(r), size: r.size || 0, url: r.url, extension: r.extension || '',
    lossless: /flac|alac|wav|aiff/.test(r.name || ''),
  }));
}

/** May this listener not download the track (premium, not theirs)? */
export function downloadsLocked(track) {
  return !!(track.access && track.access.download === false);
}

export function unlockHint(track, unlock = {}) {
  if (unlock.text) return unlock.text;
  if (track.release_state === 'premium') return 'Buy this track or the album (or subscribe) to download it in every format.';
  return 'Sign in with your purchase to download this track.';
}

/**
 * Render the menu into ``panel``. ``onDownload(entry)`` is called when a listener picks a format.
 * ``unlock`` is {url, text}: where to buy / sign in.
 */
export function renderDownloads(panel, track, { unlock = {}, onDownload, play = '' } = {}) {
  panel.replaceChildren();
  const items = downloadsOf(track);
  const safeTitle = (track.title || 'track').replace(/[^\w\- ]+/g, '').trim() || 'track';
  panel.append(h('h3', { class: 'shp-panel-title', id: `shp-dl-title-${track.id}` }, 'Downloads'));
  if (!items.length) {
    if (downloadsLocked(track)) {
      const links = unlockLinks(track, unlock, play);
      panel.append(h('p', { class: 'shp-note shp-dl-locked' }, h('span', { 'aria-hidden': 'true' }, '🔒 '),
        unlockHint(track, unlock), ...links.map((l) => [' ', h('a', { href: l.href, target: '_blank', rel: 'noopener' }, l.label)])));
    } else panel.append(h('p', { class: 'shp-note' }, 'No downloads for this track yet.'));
    return items;
  }
  const list = h('ul', { class: 'shp-dl-list', 'aria-labelledby': `shp-dl-title-${track.id}` });
  for (const it of items) {
    const size = formatBytes(it.size);
    const a = h('a', {
      class: 'shp-dl', href: it.url, download: `${safeTitle}.${it.extension}`, 'data-format': it.name,
      'aria-label': `Download ${it.label}${size ? `, ${size}` : ''}`,
      onclick: () => onDownload && onDownload(it),
    }, h('span', { class: 'shp-dl-name' }, it.label), h('span', { class: 'shp-dl-size' }, size));
    list.append(h('li', {}, a));
  }
  panel.append(list);
  if (items.some((it) => /[?&]sig=/.test(it.url))) {
    panel.append(h('p', { class: 'shp-note shp-dl-expiry' }, 'These links are yours and expire within the hour.'));
  }
  return items;
}
