// The download menu: every download rendition (and SHF when present) with its size; formats this
// listener may not download yet say how to unlock them.
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

/** The downloadable entries of a track: [{name, label, size, url, locked, extension}]. */
export function downloadsOf(track) {
  const rs = (track.renditions || []).filter((r) => r.kind === 'download' || r.format === 'shf' || r.extension === 'shf' || r.name === 'shf');
  return rs.map((r) => ({
    name: r.name, label: formatLabel(r), size: r.size || 0, url: r.url || null, locked: !r.url,
    extension: r.extension || '', lossless: /flac|alac|wav|aiff/.test(r.name || ''),
  }));
}

export function unlockHint(track, unlock = {}) {
  if (unlock.text) return unlock.text;
  if (track.release_state === 'premium') return 'Buy this track or the album to download it in every format.';
  return 'Sign in with your purchase to download this format.';
}

/**
 * Render the menu into ``panel``. ``onDownload(entry)`` is called when a listener picks a format.
 * ``unlock`` is {url, text}: where to buy / sign in.
 */
export function renderDownloads(panel, track, { unlock = {}, onDownload } = {}) {
  panel.replaceChildren();
  const items = downloadsOf(track);
  const safeTitle = (track.title || 'track').replace(/[^\w\- ]+/g, '').trim() || 'track';
  panel.append(h('h3', { class: 'shp-panel-title', id: `shp-dl-title-${track.id}` }, 'Downloads'));
  if (!items.length) {
    panel.append(h('p', { class: 'shp-note' }, 'No downloads for this track yet.'));
    return items;
  }
  const list = h('ul', { class: 'shp-dl-list', 'aria-labelledby': `shp-dl-title-${track.id}` });
  for (const it of items) {
    const size = formatBytes(it.size);
    if (!it.locked) {
      const a = h('a', {
        class: 'shp-dl', href: it.url, download: `${safeTitle}.${it.extension}`, 'data-format': it.name,
        'aria-label': `Download ${it.label}${size ? `, ${size}` : ''}`,
        onclick: () => onDownload && onDownload(it),
      }, h('span', { class: 'shp-dl-name' }, it.label), h('span', { class: 'shp-dl-size' }, size));
      list.append(h('li', {}, a));
    } else {
      const hint = unlockHint(track, unlock);
      const row = h('div', { class: 'shp-dl shp-dl-locked', 'data-format': it.name },
        h('span', { class: 'shp-dl-name' }, h('span', { 'aria-hidden': 'true' }, '🔒 '), it.label),
        h('span', { class: 'shp-dl-size' }, size),
        h('span', { class: 'shp-dl-hint' }, hint, ' ',
          unlock.url ? h('a', { href: unlock.url, target: '_blank', rel: 'noopener' }, unlock.label || 'Unlock') : null));
      list.append(h('li', {}, row));
    }
  }
  panel.append(list);
  return items;
}
