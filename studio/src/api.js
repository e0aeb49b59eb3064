// Calls to the companion with the studio's token; errors keep the companion's JSON shape.
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.code) || (status === 0 ? 'network' : 'http_error');
    this.details = (body && body.details) || {};
  }
}

export function readToken() {
  // The token arrives in the URL fragment (never sent to a server, never in logs) and is kept for the tab.
  const frag = new URLSearchParams(location.hash.slice(1));
  const token = frag.get('token');
  if (token) {
    sessionStorage.setItem('scripthammer.studio.token', token);
    history.replaceState(null, '', location.pathname + location.search);
    return token;
  }
  return sessionStorage.getItem('scripthammer.studio.token') || '';
}

export class Api {
  constructor(base, comp, token) {
    this.base = base;
    this.comp = comp;
    this.token = token;
  }

  headers(extra = {}) {
    const h = { ...extra };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    return h;
  }

  // A GET the boot script (boot.js) already started, taken once; null if there is none or it failed.
  async prefetched(url) {
    const pending = window.__studioPrefetch;
    if (!pending || !pending.has(url)) return null;
    const got = pending.get(url);
    pending.delete(url);
    try { return await got; } catch (err) { return null; }
  }

  async request(method, path, body, { raw = false } = {}) {
    let res = method === 'GET' && body === undefined ? await this.prefetched(`${this.base}${path}`) : null;
    try {
      res = res || await fetch(`${this.base}${path}`, {
        method,
        headers: this.headers(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch (err) {
      throw new ApiError(0, { message: `the companion cannot be reached (${err.message})`, code: 'network' });
    }
    if (!res.ok) {
      let data = null;
      try { data = await res.json(); } catch (e) { data = null; }
      throw new ApiError(res.status, data);
    }
    if (raw) return res;
    if (res.status === 204) return null;
    return res.json();
  }

  me() { return this.request('GET', '/me'); }
  compositions() { return this.request('GET', '/compositions/'); }

  c(path = '') { return `/compositions/${encodeURIComponent(this.comp)}${path}`; }
  s(path = '') { return `/studio/${encodeURIComponent(this.comp)}${path}`; }

  model(rev, branch) {
    const q = new URLSearchParams({ rev });
    if (branch) q.set('branch', branch);
    return this.request('GET', this.s(`/model?${q}`));
  }
  // {xml, version}: the score of a version (cached per commit by the companion)
  async musicxml(rev, first, last) {
    const q = new URLSearchParams({ rev });
    if (first) { q.set('first', String(first)); q.set('last', String(last)); }
    const res = await this.request('GET', this.s(`/musicxml?${q}`), undefined, { raw: true });
    return { xml: await res.text(), version: res.headers.get('X-ScriptHammer-Version') };
  }
  async previewMusicxml(rev, changes, first, last) {
    const res = await this.request('POST', this.s('/preview'), { rev, changes, first, last }, { raw: true });
    return res.text();
  }
  check(branch, parent, changes) { return this.request('POST', this.s('/check'), { branch, parent, changes }); }
  commit(branch, parent, message, changes) {
    return this.request('POST', this.c('/commits'), { branch, parent, message, changes });
  }
  history(rev, part, measure) {
    const q = new URLSearchParams({ rev, limit: '50' });
    if (part) q.set('part', part);
    if (measure) q.set('measure', String(measure));
    return this.request('GET', this.c(`/history?${q}`));
  }
  branches() { return this.request('GET', this.c('/branches')); }
  createBranch(name, start) { return this.request('POST', this.c('/branches'), { name, start }); }
  diff(from, to) {
    return this.request('GET', this.c(`/diff?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`));
  }
  mergePreview(source, target, resolutions) {
    return this.request('POST', this.c('/merge/preview'), { source, target, resolutions });
  }
  merge(source, target, resolutions, message, expected) {
    return this.request('POST', this.c('/merge'), { source, target, resolutions, message, expected_target: expected });
  }
  async soundfont(rev) {
    const res = await this.request('GET', this.s(`/soundfont.sf2?rev=${encodeURIComponent(rev)}`), undefined, { raw: true });
    return res.arrayBuffer();
  }
  renderPreview(rev, seconds = 8) {
    return this.request('POST', '/render/preview', { composition: this.comp, rev, seconds });
  }
  renderFull(rev) { return this.request('POST', '/render/renders', { composition: this.comp, rev }); }
  generate(body) { return this.request('POST', '/algorithms/generations', body); }
  generation(job) { return this.request('GET', `/algorithms/generations/${encodeURIComponent(job)}`); }
  deleteBranch(name) { return this.request('DELETE', this.c(`/branches/${encodeURIComponent(name)}`)); }
  comments() { return this.request('GET', this.s('/comments')); }
  addComment(body) { return this.request('POST', this.s('/comments'), body); }
  resolveComment(id, resolved) { return this.request('POST', this.s(`/comments/${id}/resolve`), { resolved }); }

  // Server-sent events read with fetch (so the bearer token travels in a header); reconnects.
  async listen(onEvent, signal) {
    while (!signal.aborted) {
      try {
        const res = await fetch(`${this.base}${this.s('/events')}`, { headers: this.headers(), signal });
        if (!res.ok) throw new ApiError(res.status, null);
        const reader = res.body.getReader();
        const dec = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let event = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (data) onEvent(event, JSON.parse(data));
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        onEvent('offline', { message: err.message });
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }
}
