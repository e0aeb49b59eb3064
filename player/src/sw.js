// The player app's service worker, built with Workbox (bundled by build.mjs; the precache list is
// injected at build as self.__WB_MANIFEST: the bundle files with their content hashes).
//
// What it keeps, and for whom (docs/mobile.md):
// - the app shell (precache): player.js, player.css, boot.js, the icons; a new build replaces them.
// - pages: /app and the embed pages, network first; only responses the companion marked public
//   (an anonymous page); a page built for a signed-in caller (private, no-store) is never kept.
// - track and album JSON: network first, only when asked WITHOUT a listener token (the anonymous,
//   public view); a fan's own view (signed URLs) is never kept.
// - peaks and covers: unsigned /media URLs only (content-addressed, public); a signed URL (sig=) is a
//   listener's own and is never kept, and neither is any stream or download.
// - offline saves: /offline/<key>/<track>/<part> is answered from that key's store only (the page wrote
//   it there, with a download link the companion signed for that fan); an unknown key or item is 404.
// - Web Push: shows the notification; a click opens (or focuses) the page it names.
import { cleanupOutdatedCaches, precacheAndRoute } from 'workbox-precaching';
import { NavigationRoute, registerRoute } from 'workbox-routing';
import { CacheFirst, NetworkFirst } from 'workbox-strategies';
import { ExpirationPlugin } from 'workbox-expiration';
import { offlineCacheName } from './offline-keys.js';

const manifest = self.__WB_MANIFEST;

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

cleanupOutdatedCaches();
precacheAndRoute(manifest, { ignoreURLParametersMatching: [/^v$/, /^utm_/] });

/** Keep a response only if the companion said anyone may (public, not private or no-store). */
const onlyPublic = {
  cacheWillUpdate: async ({ response }) => {
    if (!response || response.status !== 200) return null;
    const cc = (response.headers.get('Cache-Control') || '').toLowerCase();
    if (/\b(private|no-store)\b/.test(cc)) return null;
    return response;
  },
};

const signed = (url) => url.searchParams.has('sig');
/** The pages the app keeps for offline starts: its start page and the track and album players. */
const pages = /^\/(app\/?|embed\/(track|album)\/\d+\/?)$/;

registerRoute(new NavigationRoute(new NetworkFirst({
  cacheName: 'sh-pages', networkTimeoutSeconds: 4, plugins: [onlyPublic, new ExpirationPlugin({ maxEntries: 50 })],
}), { allowlist: [/^\/(app\/?|embed\/(track|album)\/\d+\/?)(\?.*)?$/] }));

registerRoute(({ url, request }) => url.origin === self.location.origin && request.method === 'GET'
  && /^\/api\/(tracks|albums)\/\d+\/?$/.test(url.pathname) && !request.headers.has('Authorization') && !signed(url),
new NetworkFirst({ cacheName: 'sh-json', networkTimeoutSeconds: 4,
  plugins: [onlyPublic, new ExpirationPlugin({ maxEntries: 200 })] }));

registerRoute(({ url, request }) => url.origin === self.location.origin && request.method === 'GET'
  && url.pathname.startsWith('/media/') && !signed(url)
  && (request.destination === 'image' || /peaks[^/]*\.json$/.test(url.pathname)),
new CacheFirst({ cacheName: 'sh-media', plugins: [onlyPublic, new ExpirationPlugin({ maxEntries: 300 })] }));

// The page that registered us was loaded before we controlled it: it asks us to keep it (if public).
self.addEventListener('message', (event) => {
  const msg = event.data || {};
  if (msg.type !== 'sh-keep-page') return;
  let url;
  try { url = new URL(msg.url, self.location.origin); } catch { return; }
  if (url.origin !== self.location.origin || !pages.test(url.pathname)) return;
  url.hash = '';
  event.waitUntil((async () => {
    const resp = await fetch(url.href, { credentials: 'omit', cache: 'no-store' });
    const keep = await onlyPublic.cacheWillUpdate({ response: resp });
    if (keep) await (await caches.open('sh-pages')).put(url.href, keep);
  })().catch(() => {}));
});

// ---- offline saves ------------------------------------------------------------------------------

async function fromOfflineStore(request, url) {
  const m = /^\/offline\/([A-Za-z0-9_-]{1,64})\/(\d+)\/(audio|peaks|cover|track)$/.exec(url.pathname);
  if (!m) return new Response('not found', { status: 404 });
  const cache = await caches.open(await offlineCacheName(m[1]));
  const hit = await cache.match(`${url.origin}${url.pathname}`);
  if (!hit) return new Response('not saved for this listener', { status: 404 });
  const range = request.headers.get('Range');
  if (m[3] !== 'audio' || !range) return hit;
  // Media elements ask for ranges: answer 206 from the saved bytes.
  const blob = await hit.blob();
  const r = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  if (!r) return new Response(null, { status: 416, headers: { 'Content-Range': `bytes */${blob.size}` } });
  let start = r[1] === '' ? blob.size - Number(r[2]) : Number(r[1]);
  let end = r[1] === '' || r[2] === '' ? blob.size - 1 : Number(r[2]);
  start = Math.max(0, start);
  end = Math.min(end, blob.size - 1);
  if (start > end) return new Response(null, { status: 416, headers: { 'Content-Range': `bytes */${blob.size}` } });
  return new Response(blob.slice(start, end + 1), {
    status: 206,
    headers: { 'Content-Type': hit.headers.get('Content-Type') || 'audio/mpeg', 'Content-Range': `bytes ${start}-${end}/${blob.size}`,
      'Content-Length': String(end - start + 1), 'Accept-Ranges': 'bytes' },
  });
}

registerRoute(({ url, request }) => url.origin === self.location.origin && request.method === 'GET'
  && url.pathname.startsWith('/offline/'), ({ url, request }) => fromOfflineStore(request, url));

// ---- Web Push -----------------------------------------------------------------------------------

self.addEventListener('push', (event) => {
  let msg = {};
  try { msg = event.data ? event.data.json() : {}; } catch { msg = { body: event.data ? event.data.text() : '' }; }
  const title = msg.title || 'ScriptHammer';
  const target = safeTarget(msg.url);
  event.waitUntil(self.registration.showNotification(title, {
    body: msg.body || '', tag: msg.tag || undefined, icon: '/player/icon-192.png', badge: '/player/icon-192.png',
    data: { url: target, topic: msg.topic || '' },
  }));
});

/** Only a page of this companion opens from a notification (a message cannot send the fan elsewhere). */
function safeTarget(raw) {
  try {
    const u = new URL(raw || '/app', self.location.origin);
    return u.origin === self.location.origin ? u.href : `${self.location.origin}/app`;
  } catch {
    return `${self.location.origin}/app`;
  }
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const target = safeTarget(event.notification.data && event.notification.data.url);
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const open = windows.find((c) => c.url === target);
    if (open) return open.focus();
    return self.clients.openWindow(target);
  })());
});
