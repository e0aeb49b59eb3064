// The studio's first script: a few hundred bytes that start fetching the composition's model and the
// score's first window while the browser is still parsing and evaluating the app's bundle (studio.js,
// most of it the engraver). The app takes these responses (Api.request) instead of asking again.
import { readToken } from './api.js';
import { WINDOW } from './window.js';

(() => {
  const root = document.getElementById('studio');
  const comp = root && root.dataset.composition;
  if (!comp) return;
  const token = readToken();
  const params = new URLSearchParams(location.search);
  const branch = params.get('branch') || 'main';
  const rev = params.get('rev') || branch;
  const base = `${root.dataset.api}/studio/${encodeURIComponent(comp)}`;
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const model = new URLSearchParams({ rev, branch });
  const score = new URLSearchParams({ rev, first: '1', last: String(WINDOW) });
  window.__studioPrefetch = new Map([`${base}/model?${model}`, `${base}/musicxml?${score}`]
    .map((url) => [url, fetch(url, { headers })]));
})();
