// The ScriptHammer studio: views of the canonical model, editing checked by the companion, the WASM
// synth, commits, branches, diffs, merges with conflicts, comments and live updates.
import { Api, ApiError, readToken } from './api.js';
import { Audio } from './audio.js';
export { Audio };
import { Working, q } from './model.js';
import { Roll } from './roll.js';
import { COLORS, Score } from './score.js';
import './studio.css';

const $ = (id) => document.getElementById(id);
const h = (tag, attrs = {}, ...kids) => {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else if (v !== false && v != null) n.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) if (k != null) n.append(k.nodeType ? k : String(k));
  return n;
};

// hls.js is fetched when the server's render is first played, not with the app (a fifth of its size).
let hlsLoading = null;
function loadHls() {
  if (!hlsLoading) {
    hlsLoading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = '/studio/assets/hls.js';
      s.onload = () => resolve(window.Hls);
      s.onerror = () => { hlsLoading = null; reject(new Error('the HLS player could not be loaded')); };
      document.head.appendChild(s);
    });
  }
  return hlsLoading;
}

class Studio {
  constructor(root) {
    this.root = root;
    this.comp = root.dataset.composition;
    this.api = new Api(root.dataset.api, this.comp, readToken());
    this.roll = new Roll($('roll'), this);
    this.score = new Score($('score'));
    this.audio = new Audio(this);
    this.gridQ = 0.25;
    this.velocity = 80;
    this.measure = 1;
    this.loop = [1, 1];
    this.clipboard = null;
    this.marks = null;
    this.times = { start: performance.now() };
    this.live = new AbortController();
    this.own = new Set(); // commits this page made: their live updates are not news
  }

  key(branch) { return `scripthammer.studio:${this.comp}:${branch}`; }

  status(text, kind = 'info') {
    // a drawing still pending would then say "edit …" over this newer word: draw it first
    this.flushDraw();
    const s = $('status');
    s.textContent = text;
    s.className = kind;
    s.dataset.kind = kind;
    delete s.dataset.code; // an error's code goes with it (its callers set the new one after)
  }

  lockText(part) {
    try { this.work.editable(part.id); return ''; } catch (e) { return e.message; }
  }

  // The studio's home (/studio/, where a member's BuddyPress profile leads): the compositions the
  // caller may open, each a link to its studio (the token stays in this tab's sessionStorage)
  async home() {
    this.root.dataset.mode = 'home';
    for (const el of this.root.querySelectorAll('.bar > :not(#title):not(#who), main')) el.hidden = true;
    const box = h('section', { id: 'home', 'aria-labelledby': 'h-home' }, h('h2', { id: 'h-home' }, 'Compositions'));
    $('status').after(box);
    const [me, list] = await Promise.all([this.api.me(), this.api.compositions()]);
    $('who').textContent = `${me.name} (${me.kind})`;
    const ul = h('ul', { id: 'compositions' });
    for (const c of list) {
      ul.append(h('li', {}, h('a', { href: `/studio/${encodeURIComponent(c.id)}`, 'data-composition': c.id },
        c.title || c.id), ` — ${c.parts.length} parts, ${c.measures} measures, ${c.visibility}`));
    }
    box.append(list.length ? ul : h('p', {}, 'No compositions yet.'));
    this.status(`${list.length} compositions`, 'info');
  }

  async start() {
    if (!this.comp) {
      try { await this.home(); this.root.dataset.state = 'ready'; } catch (err) { this.fail(err); this.root.dataset.state = 'error'; }
      return;
    }
    const params = new URLSearchParams(location.search);
    const branch = params.get('branch') || 'main';
    const rev = params.get('rev') || branch;
    try {
      await this.load(rev, branch);
    } catch (err) {
      this.fail(err);
      this.root.dataset.state = 'error';
      return;
    }
    this.wire();
    this.root.dataset.state = 'ready';
    this.times.ready = performance.now();
    this.api.listen((ev, data) => this.onLive(ev, data), this.live.signal);
    this.loadComments().catch(() => {});
    // the synth loads after the first paint: hearing is a click away, editing is not delayed
    if (this.model.identity.kind !== 'anonymous') setTimeout(() => this.audio.init().catch((e) => this.status(e.message, 'error')), 0);
  }

  async load(rev, branch, keepMeasure = true) {
    // the model and the score are fetched together; the score is kept when it is of the same version
    if (!keepMeasure) this.measure = 1;
    const [wa, wb] = this.score.windowFor(this.measure);
    const [model, score] = await Promise.all([this.api.model(rev, branch), this.api.musicxml(rev, wa, wb).catch(() => null)]);
    performance.mark('studio:fetched');
    this.model = model;
    const saved = JSON.parse(localStorage.getItem(this.key(model.branch)) || 'null');
    let restore = null;
    this.staleSaved = null;
    if (saved && model.writable && saved.branch === model.branch && Object.keys(saved.changes || {}).length) {
      if (saved.parent === model.version.id) restore = saved;
      else this.staleSaved = saved;
    }
    this.work = new Working(model, restore);
    this.work.onChange((info) => this.changed(info));
    this.xmlCache = new Map();
    if (score && score.version === model.version.id) this.xmlCache.set(`${score.version}:${wa}`, score.xml);
    if (!this.roll.part || !this.work.parts.has(this.roll.part)) {
      const mine = model.parts.find((p) => p.editable);
      this.roll.part = (mine || model.parts[0] || {}).id;
    }
    if (!keepMeasure || this.measure > this.work.measures) this.measure = 1;
    this.roll.diff = null;
    this.marks = null;
    this.root.classList.toggle('readonly', !model.writable);
    this.root.dataset.mode = model.identity.kind === 'listener' || model.identity.kind === 'anonymous' ? 'listener'
      : (model.writable ? 'edit' : 'readonly');
    $('title').textContent = model.title;
    $('who').textContent = `${model.identity.name} (${model.identity.role})`;
    this.renderBranches();
    this.renderAlgo();
    this.renderTimeline();
    this.roll.render();
    performance.mark('studio:roll');
    await this.renderScore();
    performance.mark('studio:score');
    this.renderHistory().catch(() => {});
    if (restore) this.status(`Restored your unsent edits (${this.work.dirty.size} measures)`, 'info');
    if (this.staleSaved) this.offerRebase(this.staleSaved, null);
    this.updateButtons();
  }

  fail(err) {
    const e = err instanceof ApiError ? err : { code: err.code || 'error', message: err.message, status: 0 };
    const msg = {
      network: `The companion cannot be reached: your edits are kept in this browser until they are committed. (${e.message})`,
      token_expired: 'Your token has expired: your edits are kept in this browser; open the studio again from WordPress.',
      invalid_token: 'Your token is unknown or expired: your edits are kept in this browser; open the studio again.',
      auth_required: 'Sign in to use the studio (open it from WordPress).',
    }[e.code] || e.message;
    this.status(msg, 'error');
    $('status').dataset.code = e.code;
  }

  // ---- views
  renderTimeline() {
    const t = $('timeline');
    t.textContent = '';
    const w = this.work;
    const dirty = new Set([...w.dirty]);
    for (const [i, p] of this.model.parts.entries()) {
      const cells = h('div', { class: 'cells' });
      const step = Math.max(1, Math.ceil(w.measures / 100));
      for (let m = 1; m <= w.measures; m += step) {
        const has = (w.measureEvents(p.id, m) || []).some((e) => e.kind === 'note');
        let cls = 'cell';
        if (has) cls += ' has';
        if (dirty.has(`${p.id}|${m}`)) cls += ' dirty';
        if (m === this.measure && p.id === this.roll.part) cls += ' current';
        cells.append(h('span', { class: cls, title: `measure ${m}`, 'data-measure': m,
          onclick: () => { this.roll.part = p.id; this.select(m); this.roll.render(); this.renderTimeline(); } }));
      }
      const lock = p.editable ? '' : '🔒 ';
      t.append(h('div', { class: `track${p.id === this.roll.part ? ' active' : ''}${p.editable ? '' : ' locked'}`, 'data-part': p.id },
        h('button', { class: 'part-name', 'aria-pressed': String(p.id === this.roll.part),
          'aria-label': `Part ${p.name || p.id}, owned by ${p.owner_name || p.owner || p.kind}${p.editable ? '' : ', locked'} (${i + 1})`,
          onclick: () => this.showPart(p.id) }, `${lock}${p.name || p.id}`),
        h('span', { class: 'owner' }, p.owner_name || p.owner || p.kind),
        h('button', { class: `mute${this.audio.mute.has(p.id) ? ' on' : ''}`, 'aria-label': `Mute ${p.name || p.id}`,
          'aria-pressed': String(this.audio.mute.has(p.id)), onclick: () => this.toggle(this.audio.mute, p.id) }, 'M'),
        h('button', { class: `solo${this.audio.solo.has(p.id) ? ' on' : ''}`, 'aria-label': `Solo ${p.name || p.id}`,
          'aria-pressed': String(this.audio.solo.has(p.id)), onclick: () => this.toggle(this.audio.solo, p.id) }, 'S'),
        cells));
    }
  }

  toggle(set, pid) { if (set.has(pid)) set.delete(pid); else set.add(pid); this.renderTimeline(); }

  showPart(pid) {
    this.roll.part = pid;
    this.roll.selected.clear();
    this.roll.render();
    this.renderTimeline();
    this.renderHistory().catch(() => {});
  }

  async renderScore() {
    const rev = this.model.version.id;
    const [from, to] = this.score.windowFor(this.measure);
    const ticket = (this.scoreTicket = (this.scoreTicket || 0) + 1);
    try {
      let xml;
      if (this.work.hasEdits) {
        xml = await this.api.previewMusicxml(rev, this.work.changes(), from, to);
      } else {
        const key = `${rev}:${from}`;
        if (!this.xmlCache.has(key)) this.xmlCache.set(key, (await this.api.musicxml(rev, from, to)).xml);
        xml = this.xmlCache.get(key);
      }
      if (ticket !== this.scoreTicket) return; // a newer drawing is on its way
      await this.score.show(xml, from, Math.min(to, this.work.measures), this.marks);
      this.root.dataset.scoreVersion = `${rev}:${this.work.undoStack.length}`;
    } catch (err) {
      if (err instanceof ApiError && err.code !== 'network') this.status(`The score could not be drawn: ${err.message}`, 'error');
      else this.fail(err);
    }
  }

  scheduleScore() {
    clearTimeout(this.scoreTimer);
    this.scoreTimer = setTimeout(() => this.renderScore(), 350);
  }

  select(m, score = true) {
    if (!m || m < 1) return;
    const changed = m !== this.measure;
    this.measure = m;
    if (!this.loopPinned) { this.loop = [m, m]; $('loop-from').value = m; $('loop-to').value = m; this.roll.paintLoop(); }
    if (changed && score) {
      const [from] = this.score.windowFor(m);
      if (m < this.score.from || m > this.score.to || from > this.score.from + 4) this.renderScore();
      this.renderHistory().catch(() => {});
    }
  }

  async renderHistory() {
    const list = $('history');
    const hist = await this.api.history(this.model.branch || this.model.rev);
    list.textContent = '';
    for (const c of hist) {
      const current = c.id === this.model.version.id;
      list.append(h('li', { class: current ? 'current' : '', 'data-commit': c.id },
        h('button', { 'aria-label': `Open version ${c.short} by ${c.author_name}: ${c.message}`, onclick: () => this.openVersion(c.id) },
          h('strong', {}, c.author_name), ` ${new Date(c.time * 1000).toLocaleString()} — ${c.message} `, h('code', {}, c.short))));
    }
    const part = this.roll.part;
    const mh = await this.api.history(this.model.branch || this.model.rev, part, this.measure);
    let box = $('measure-history');
    if (!box) { box = h('div', { id: 'measure-history', 'aria-live': 'polite' }); list.after(box); }
    box.textContent = '';
    box.append(h('h3', {}, `Measure ${this.measure} of ${part}`));
    for (const c of mh.slice(0, 5)) box.append(h('div', { class: 'who' }, `${c.author_name}: ${c.message} (${new Date(c.time * 1000).toLocaleString()})`));
    if (!mh.length) box.append(h('div', { class: 'who' }, 'unchanged since it was created'));
  }

  renderBranches() {
    const sel = $('branch');
    sel.textContent = '';
    const names = this.model.branches.map((b) => b.name);
    for (const n of names) sel.append(h('option', { value: n, selected: n === this.model.branch }, n));
    if (!names.includes(this.model.branch)) sel.append(h('option', { value: this.model.branch, selected: true }, this.model.branch));
    const from = $('compare-from');
    const old = from.value;
    from.textContent = '';
    for (const n of names) if (n !== this.model.branch) from.append(h('option', { value: n }, n));
    for (const p of this.model.version.parents) from.append(h('option', { value: p }, `parent ${p.slice(0, 10)}`));
    if (old && [...from.options].some((o) => o.value === old)) from.value = old;
    const target = $('merge-target');
    target.textContent = '';
    for (const n of names) {
      if (n === this.model.branch) continue;
      if (n === 'main' && !this.model.identity.can_merge_main) continue;
      target.append(h('option', { value: n }, n));
    }
    $('merge').hidden = !this.model.identity.can_merge || target.options.length === 0;
    target.hidden = $('merge').hidden;
  }

  updateButtons() {
    $('undo').disabled = !this.work.undoStack.length;
    $('redo').disabled = !this.work.redoStack.length;
    $('commit').disabled = !this.work.hasEdits || !this.model.writable;
  }

  // ---- editing
  run(fn, ids) {
    let result;
    try {
      result = fn();
    } catch (err) {
      this.status(err.message, err.code === 'locked' ? 'locked' : 'error');
      $('status').dataset.code = err.code || 'error';
      this.roll.render();
      return null;
    }
    this.roll.selected = new Set(result || ids || []);
    return result;
  }

  changed(info) {
    if (info.kind === 'edit' && Array.isArray(info.result)) {
      this.roll.selected = new Set(info.result);
      // the sound first: the member hears the edit before anything is redrawn
      const first = info.result.length ? this.work.find(info.pid, info.result[0]) : null;
      if (first && ['add note', 'move', 'transpose', 'resize', 'velocity', 'paste'].includes(info.label)) {
        this.audio.audition(info.pid, first.e.midi, first.e.velocity).catch(() => {});
      }
    }
    // the drawing follows on the next frame, so the sound (and anything listening for it) goes first
    this.lastChange = info;
    if (!this.drawPending) {
      this.drawPending = true;
      const run = () => this.flushDraw();
      requestAnimationFrame(run);
      setTimeout(run, 100); // a hidden tab has no frames
    }
  }

  flushDraw() {
    if (this.drawPending) { this.drawPending = false; this.redraw(this.lastChange); }
  }

  redraw(info) {
    this.roll.render();
    this.renderTimeline();
    this.persist();
    this.updateButtons();
    if (info.kind === 'edit') {
      this.status(`${info.label}: measure ${info.measures.join(', ')} (not committed yet)`, 'info');
      this.scheduleCheck();
    } else {
      this.status(`${info.kind} ${info.label}`, 'info');
    }
    this.scheduleScore();
  }

  persist() {
    if (this.work.hasEdits) localStorage.setItem(this.key(this.model.branch), JSON.stringify(this.work.save()));
    else localStorage.removeItem(this.key(this.model.branch));
  }

  // The server checks the edit as the commit API will (format, rights); a refusal is shown at once.
  scheduleCheck() {
    clearTimeout(this.checkTimer);
    this.checkTimer = setTimeout(async () => {
      const parent = this.model.version.id;
      try {
        const r = await this.api.check(this.model.branch, parent, this.work.changes());
        // an answer about a version no longer shown (our own commit, or a reload, came first) says nothing now
        if (this.committing || this.model.version.id !== parent || this.own.has(r.head)) return;
        this.root.dataset.checked = 'ok';
        // stale: say so, unless the live update already told who committed what (its message is the better one)
        if (r.stale && this.root.dataset.lastLive !== r.head) this.status('Someone committed meanwhile: committing will offer to rebase your edit.', 'warn');
      } catch (err) {
        if (this.committing || this.model.version.id !== parent) return;
        this.root.dataset.checked = err.code;
        this.fail(err);
      }
    }, 250);
  }

  selection() { return [...this.roll.selected]; }

  async commit() {
    const message = $('message').value.trim();
    if (!this.work.hasEdits) { this.status('Nothing to commit', 'info'); return null; }
    if (!message) { this.status('Write a commit message first', 'error'); $('message').focus(); return null; }
    const t0 = performance.now();
    this.status('Committing…', 'busy');
    this.committing = true;
    clearTimeout(this.checkTimer); // the commit checks it all again: no need for the dry run now
    clearTimeout(this.scoreTimer);
    try {
      const r = await this.api.commit(this.model.branch, this.model.version.id, message, this.work.changes());
      this.times.commit = performance.now() - t0;
      this.times.committedAt = performance.now();
      this.own.add(r.id);
      localStorage.removeItem(this.key(this.model.branch));
      $('message').value = '';
      await this.load(this.model.branch, this.model.branch);
      this.status(`Committed ${r.id.slice(0, 10)} on ${r.branch}`, 'ok');
      return r;
    } catch (err) {
      this.scheduleScore();
      if (err.code === 'stale_parent') {
        this.offerRebase(this.work.save(), err.details.head);
      } else {
        this.fail(err);
        $('status').dataset.code = err.code;
      }
      return null;
    } finally {
      this.committing = false;
    }
  }

  // A stale parent: show what changed meanwhile and offer to rebase the edit onto the new head.
  async offerRebase(saved, head) {
    const box = $('conflicts');
    box.textContent = '';
    const latest = head || (await this.api.branches()).find((b) => b.name === saved.branch).head;
    let summary = '';
    try {
      const d = await this.api.diff(saved.parent, latest);
      summary = d.parts.map((p) => `${p.part}: measures ${p.measures.map((m) => m.measure).join(', ')}`).join('; ');
    } catch (e) { summary = ''; }
    const hist = await this.api.history(latest);
    const who = hist.filter((c) => c.id !== saved.parent).slice(0, 3).map((c) => `${c.author_name} (“${c.message}”)`).join(', ');
    this.status(`Someone committed meanwhile (${who}). Your edits are kept: rebase them onto the new version.`, 'warn');
    $('status').dataset.code = 'stale_parent';
    box.append(h('div', { class: 'stale', role: 'alert' },
      h('p', {}, `Changed meanwhile by ${who}: ${summary || 'no musical change'}`),
      h('button', { id: 'rebase', onclick: () => this.rebase(saved, latest) }, 'Rebase my edit')));
  }

  async rebase(saved, head) {
    const [theirsModel, baseModel] = await Promise.all([this.api.model(saved.branch), this.api.model(saved.parent, saved.branch)]);
    const box = $('conflicts');
    box.textContent = '';
    const clashes = [];
    for (const [pid, ch] of Object.entries(saved.changes)) {
      const b = baseModel.parts.find((p) => p.id === pid);
      const t = theirsModel.parts.find((p) => p.id === pid);
      for (const m of Object.keys(ch.measures)) {
        if (JSON.stringify(b.measures[m] || []) !== JSON.stringify(t.measures[m] || [])) clashes.push({ pid, m });
      }
    }
    const finish = async (take) => {
      const changes = JSON.parse(JSON.stringify(saved.changes));
      for (const c of clashes) if (take[`${c.pid}|${c.m}`] === 'theirs') delete changes[c.pid].measures[c.m];
      const next = { parent: theirsModel.version.id, branch: saved.branch, changes };
      localStorage.setItem(this.key(saved.branch), JSON.stringify(next));
      await this.load(saved.branch, saved.branch);
      box.textContent = '';
      this.status(`Rebased your edit onto ${theirsModel.version.short}: review and commit`, 'ok');
    };
    if (!clashes.length) { await finish({}); return; }
    const take = {};
    box.append(h('p', { role: 'alert' }, 'They changed measures you changed too: choose per measure.'));
    for (const c of clashes) {
      take[`${c.pid}|${c.m}`] = 'mine';
      box.append(h('div', { class: 'clash', 'data-part': c.pid, 'data-measure': c.m }, `${c.pid} measure ${c.m}: `,
        h('label', {}, h('input', { type: 'radio', name: `clash-${c.pid}-${c.m}`, checked: true, onchange: () => { take[`${c.pid}|${c.m}`] = 'mine'; } }), 'mine'),
        h('label', {}, h('input', { type: 'radio', name: `clash-${c.pid}-${c.m}`, onchange: () => { take[`${c.pid}|${c.m}`] = 'theirs'; } }), 'theirs')));
    }
    box.append(h('button', { id: 'rebase-apply', onclick: () => finish(take) }, 'Apply rebase'));
  }

  // ---- versions
  async openVersion(id) {
    const url = new URL(location.href);
    url.searchParams.set('rev', id);
    history.replaceState(null, '', url);
    await this.load(id, this.model.branch);
    this.status(`Viewing version ${id.slice(0, 10)} (read-only; pick a branch to edit)`, 'info');
  }

  async switchBranch(name) {
    this.persist();
    const url = new URL(location.href);
    url.searchParams.set('branch', name);
    url.searchParams.delete('rev');
    history.replaceState(null, '', url);
    await this.load(name, name);
    this.status(`On branch ${name}`, 'info');
  }

  async newBranch(name) {
    if (!name) return;
    try {
      await this.api.createBranch(name, this.model.version.id);
      // unsent edits move with the member to the new branch
      if (this.work.hasEdits) localStorage.setItem(this.key(name), JSON.stringify({ ...this.work.save(), branch: name }));
      localStorage.removeItem(this.key(this.model.branch));
      await this.switchBranch(name);
    } catch (err) { this.fail(err); }
  }

  async compare(from, to = this.model.version.id) {
    try {
      const d = await this.api.diff(from, to);
      this.showDiff(d);
      this.status(`Diff ${from.slice(0, 12)} → ${to.slice(0, 10)}: ${d.summary.notes_added} added, ${d.summary.notes_removed} removed, ${d.summary.notes_changed} changed`, 'info');
      return d;
    } catch (err) { this.fail(err); return null; }
  }

  showDiff(d) {
    const w = this.work;
    const added = new Set(); const changed = new Set(); const removed = [];
    const marks = {};
    const index = new Map(this.model.parts.map((p, i) => [p.id, i]));
    let first = null;
    for (const p of d.parts) {
      const pi = index.get(p.part);
      marks[pi] = marks[pi] || {};
      for (const m of p.measures) {
        first = first || { part: p.part, measure: m.measure };
        const list = (marks[pi][m.measure] = marks[pi][m.measure] || []);
        for (const e of m.added) if (e.kind === 'note') {
          added.add(`${p.part}|${m.measure}|${e.onset}|${e.midi}`);
          list.push({ onset: q(e.onset), midi: e.midi, color: COLORS.added });
        }
        for (const c of m.changed) if (c.to.kind === 'note') {
          changed.add(`${p.part}|${m.measure}|${c.to.onset}|${c.to.midi}`);
          list.push({ onset: q(c.to.onset), midi: c.to.midi, color: COLORS.changed });
        }
        for (const e of m.removed) if (e.kind === 'note') {
          removed.push({ part: p.part, t: w.measureStart(m.measure) + q(e.onset), d: q(e.duration), midi: e.midi });
        }
      }
    }
    this.roll.diff = { added, changed, removed };
    this.marks = marks;
    if (first) { this.roll.part = first.part; this.select(first.measure, false); }
    this.roll.render();
    this.renderTimeline();
    this.renderScore();
  }

  clearDiff() { this.roll.diff = null; this.marks = null; this.roll.render(); this.renderScore(); }

  async mergeInto(target) {
    const source = this.model.branch;
    const box = $('conflicts');
    box.textContent = '';
    try {
      const pre = await this.api.mergePreview(source, target, {});
      if (pre.status === 'up_to_date') { this.status(`${target} already has ${source}`, 'info'); return; }
      if (!pre.conflicts.length) { await this.doMerge(source, target, {}, pre.target.head); return; }
      this.showConflicts(source, target, pre);
    } catch (err) { this.fail(err); }
  }

  showConflicts(source, target, pre) {
    const box = $('conflicts');
    box.textContent = '';
    const first = pre.conflicts[0];
    if (first && this.work.parts.has(first.place.part)) { // the roll goes to the first conflict's part and measure
      this.roll.part = first.place.part;
      this.select(first.place.measure);
      this.roll.render();
      this.renderTimeline();
    }
    const choice = {};
    const fmt = (evs) => evs.filter((e) => e.kind === 'note').map((e) => `${e.pitch} ${e.duration} v${e.velocity}`).join(', ') || '—';
    box.append(h('p', { role: 'alert' }, `${pre.conflicts.length} conflict(s) merging ${source} into ${target}`));
    for (const c of pre.conflicts) {
      choice[c.id] = 'theirs';
      const name = `conflict-${c.id}`;
      const place = `${c.place.part}, measure ${c.place.measure}, beat ${c.place.beat_number ?? c.place.beat}`;
      const edit = h('input', { class: 'conflict-edit', 'aria-label': `Your own notes for ${place} (pitch duration velocity, comma separated)`, hidden: true,
        placeholder: 'C4 1 80, E4 1 80' });
      box.append(h('fieldset', { class: 'conflict', 'data-id': c.id, 'data-part': c.place.part, 'data-measure': c.place.measure },
        h('legend', {}, place),
        h('div', {}, `${target} (ours): ${fmt(c.ours)}`),
        h('div', {}, `${source} (theirs): ${fmt(c.theirs)}`),
        h('label', {}, h('input', { type: 'radio', name, value: 'ours', onchange: () => { choice[c.id] = 'ours'; edit.hidden = true; } }), 'ours'),
        h('label', {}, h('input', { type: 'radio', name, value: 'theirs', checked: true, onchange: () => { choice[c.id] = 'theirs'; edit.hidden = true; } }), 'theirs'),
        h('label', {}, h('input', { type: 'radio', name, value: 'edit', onchange: () => { choice[c.id] = 'edit'; edit.hidden = false; } }), 'edit'),
        edit));
    }
    box.append(h('button', { id: 'resolve', onclick: () => {
      const res = {};
      for (const c of pre.conflicts) {
        if (choice[c.id] !== 'edit') { res[c.id] = choice[c.id]; continue; }
        const input = box.querySelector(`fieldset[data-id="${CSS.escape(c.id)}"] .conflict-edit`).value;
        const onset = c.ours[0]?.onset ?? c.theirs[0]?.onset ?? c.place.beat;
        res[c.id] = { notes: input.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
          const [pitch, duration, velocity] = s.split(/\s+/);
          return { onset, pitch, duration: duration || '1', velocity: Number(velocity || 80) };
        }) };
      }
      this.doMerge(source, target, res, pre.target.head);
    } }, 'Resolve and merge'));
  }

  async doMerge(source, target, resolutions, expected) {
    try {
      const r = await this.api.merge(source, target, resolutions, `Merge ${source} into ${target}`, expected);
      $('conflicts').textContent = '';
      await this.switchBranch(target);
      const id = r.id || r.head || r.commit;
      this.status(`Merged ${source} into ${target}${id ? ` (${String(id).slice(0, 10)})` : ''}`, 'ok');
      const parents = this.model.version.parents;
      if (parents.length) await this.compare(parents[0]);
    } catch (err) {
      if (err.code === 'merge_conflicts') this.showConflicts(source, target, { ...err.details, target: { head: expected } });
      else this.fail(err);
    }
  }

  // ---- the server's render: queue the real render, and play the first seconds' HLS as soon as they exist
  async renderOnServer() {
    const rev = this.model.version.id;
    this.status('Rendering on the server…', 'busy');
    try {
      const [full, preview] = await Promise.all([
        this.api.renderFull(rev).catch((err) => ({ error: err })),
        this.api.renderPreview(rev),
      ]);
      const audio = $('server-audio');
      audio.hidden = false;
      if (this.hls) this.hls.destroy();
      const Hls = await loadHls();
      if (Hls.isSupported()) {
        this.hls = new Hls();
        this.hls.loadSource(preview.playlist_url);
        this.hls.attachMedia(audio);
      } else {
        audio.src = preview.playlist_url;
      }
      await audio.play().catch(() => {});
      this.root.dataset.renderJob = full && full.job ? full.job : '';
      this.status(`Playing the server's render of ${rev.slice(0, 10)}${full && full.job ? ` (full render queued: ${full.job})` : ''}`, 'ok');
    } catch (err) { this.fail(err); }
  }

  // ---- algorithms: a member's algorithm proposes on a branch of its own; seen as a diff, accepted or discarded
  renderAlgo() {
    const sel = $('algo-member');
    const old = sel.value;
    sel.textContent = '';
    for (const m of this.model.members) sel.append(h('option', { value: m.id }, m.name));
    if (old) sel.value = old;
    if (!$('algo-seed').value) $('algo-seed').value = String(Math.floor(Math.random() * 100000));
    $('algo-section').hidden = this.model.identity.kind !== 'member' || (!this.model.writable && !this.proposal);
  }

  async propose() {
    const member = $('algo-member').value;
    const seed = Number($('algo-seed').value || 0);
    const base = this.model.branch;
    const box = $('proposal');
    box.textContent = `Queued ${member}'s algorithm (seed ${seed})…`;
    const body = { composition: this.comp, seed, members: [member], base };
    if ($('algo-selection').checked) [body.from_measure, body.to_measure] = this.loop;
    const where = body.from_measure ? `, measures ${body.from_measure}–${body.to_measure}` : '';
    try {
      const job = await this.api.generate(body);
      let st;
      for (;;) {
        st = await this.api.generation(job.job);
        box.textContent = `${member} (seed ${seed}): ${st.state} ${st.progress ?? ''}% ${st.stage || ''}`;
        if (['finished', 'failed', 'done', 'cancelled', 'stopped'].includes(st.state)) break;
        await new Promise((r) => setTimeout(r, 400));
      }
      if (st.state === 'failed' || !st.result.head) throw Object.assign(new Error(st.error_message || 'the algorithm failed'), { code: st.error_code || 'failed' });
      this.proposal = { branch: st.branch, seed, member, base, head: st.result.head, baseHead: this.model.version.id, where };
      this.persist();
      await this.load(st.result.head, base); // the proposal, read-only, coloured against the base
      const d = await this.compare(this.proposal.baseHead, st.result.head);
      box.textContent = '';
      const name = (this.model.members.find((m) => m.id === member) || {}).name || member;
      box.append(h('p', { class: 'proposal', 'data-branch': st.branch }, `Proposal by ${name}, seed ${seed}${where}: ${d ? d.summary.notes_added : 0} notes added, ${d ? d.summary.notes_changed : 0} changed, ${d ? d.summary.notes_removed : 0} removed`),
        h('button', { id: 'proposal-accept', onclick: () => this.acceptProposal() }, 'Accept'),
        h('button', { id: 'proposal-discard', onclick: () => this.discardProposal() }, 'Discard'));
    } catch (err) { box.textContent = ''; this.fail(err); }
  }

  async acceptProposal() {
    const p = this.proposal;
    try {
      await this.api.merge(p.branch, p.base, {}, `Accept ${p.member}'s proposal (seed ${p.seed})`, p.baseHead);
      await this.api.deleteBranch(p.branch).catch(() => {});
      this.proposal = null;
      $('proposal').textContent = '';
      await this.load(p.base, p.base);
      this.status(`Accepted ${p.member}'s proposal (seed ${p.seed})`, 'ok');
    } catch (err) { this.fail(err); }
  }

  async discardProposal() {
    const p = this.proposal;
    try {
      await this.api.deleteBranch(p.branch);
      this.proposal = null;
      $('proposal').textContent = '';
      await this.load(p.base, p.base);
      this.status(`Discarded ${p.member}'s proposal (seed ${p.seed})`, 'info');
    } catch (err) { this.fail(err); }
  }

  // ---- live updates
  async onLive(ev, data) {
    if (ev === 'offline') { $('status').dataset.live = 'offline'; return; }
    $('status').dataset.live = 'on';
    if (ev === 'heads') { // (re)connected: a commit made before the stream opened is news too
      const head = data[this.model.branch];
      if (head && head !== this.model.version.id && this.model.rev === this.model.branch && !this.own.has(head)) {
        const [version] = await this.api.history(this.model.branch);
        await this.onLive('commit', { branch: this.model.branch, head, version });
      }
      return;
    }
    if (ev !== 'commit') return;
    if (this.own.has(data.head) || this.committing) return; // our own commit: its answer will tell
    this.renderBranches();
    if (data.branch !== this.model.branch || data.head === this.model.version.id) return;
    const who = data.version.author_name;
    if (this.work.hasEdits) {
      this.status(`${who} committed “${data.version.message}” meanwhile: your edits are kept; committing offers a rebase.`, 'warn');
    } else if (this.model.rev === this.model.branch || this.model.rev === 'main') {
      await this.load(this.model.branch, this.model.branch);
      this.status(`${who} committed “${data.version.message}”`, 'info');
    }
    this.root.dataset.lastLive = data.head;
  }

  // ---- comments
  async loadComments() {
    const box = this.commentBoxes().list;
    let list;
    try { list = await this.api.comments(); } catch (err) { box.textContent = ''; return; }
    box.textContent = '';
    const byParent = new Map();
    for (const c of list) { const k = c.parent_id || 0; if (!byParent.has(k)) byParent.set(k, []); byParent.get(k).push(c); }
    const render = (c, depth) => {
      const node = h('article', { class: `comment${c.resolved ? ' resolved' : ''}${c.fan ? ' fan' : ''}`, 'data-id': c.id, style: `margin-left:${depth}em` },
        h('header', {}, h('strong', {}, c.author_name), c.fan ? ' (fan) ' : ' ',
          h('span', { class: 'anchor' }, `${c.part || 'all parts'} m${c.measure_from}${c.measure_to !== c.measure_from ? `–${c.measure_to}` : ''} @${(c.version || '').slice(0, 10)}`)),
        h('p', {}, c.body),
        h('button', { 'aria-label': `Reply to ${c.author_name}`, onclick: () => this.commentForm(c) }, 'Reply'),
        this.model.identity.kind === 'member' && !c.parent_id
          ? h('button', { 'aria-label': c.resolved ? 'Reopen' : 'Resolve', onclick: async () => { await this.api.resolveComment(c.id, !c.resolved); this.loadComments(); } }, c.resolved ? 'Reopen' : 'Resolve')
          : null);
      box.append(node);
      for (const r of byParent.get(c.id) || []) render(r, depth + 1);
    };
    for (const c of byParent.get(0) || []) render(c, 0);
  }

  commentBoxes() {
    if (!this.cbox) {
      const list = h('div', { id: 'comment-list' });
      const form = h('div', { id: 'comment-form' });
      $('comments').append(list, h('button', { id: 'comment-new', 'aria-label': 'Comment on the selected measures (C)',
        onclick: () => this.commentForm(null) }, 'Comment'), form);
      this.cbox = { list, form };
    }
    return this.cbox;
  }

  commentForm(parent) {
    const box = this.commentBoxes().form;
    box.textContent = '';
    const text = h('textarea', { 'aria-label': 'Comment', required: true });
    const form = h('form', { onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await this.api.addComment({ body: text.value, version: this.model.version.id, part: this.roll.part,
          measure_from: this.loop[0], measure_to: this.loop[1], parent_id: parent ? parent.id : null });
        box.textContent = '';
        this.loadComments();
      } catch (err) { this.fail(err); }
    } }, parent ? h('div', {}, `Reply to ${parent.author_name}`) : null, text, h('button', { type: 'submit' }, parent ? 'Reply' : 'Post'));
    box.append(form);
    text.focus();
  }

  // ---- wiring
  wire() {
    $('branch').addEventListener('change', (e) => this.switchBranch(e.target.value));
    $('new-branch').addEventListener('click', () => this.branchForm());
    $('play').addEventListener('click', () => this.togglePlay());
    $('metronome').addEventListener('change', (e) => { this.audio.metronome = e.target.checked; });
    const loopInput = () => {
      const a = Math.max(1, Number($('loop-from').value) || 1);
      const b = Math.max(a, Number($('loop-to').value) || a);
      this.loop = [a, Math.min(b, this.work.measures)];
      this.loopPinned = true;
      this.roll.paintLoop();
    };
    $('loop-from').addEventListener('change', loopInput);
    $('loop-to').addEventListener('change', loopInput);
    $('undo').addEventListener('click', () => this.work.undo());
    $('redo').addEventListener('click', () => this.work.redo());
    $('commit').addEventListener('click', () => this.commit());
    $('grid').addEventListener('change', (e) => { this.gridQ = Number(e.target.value); });
    $('velocity').addEventListener('change', (e) => {
      this.velocity = Number(e.target.value);
      if (this.selection().length) this.run(() => this.work.setVelocity(this.roll.part, this.selection(), this.velocity));
    });
    $('transpose-up').addEventListener('click', () => this.run(() => this.work.transpose(this.roll.part, this.selection(), 1)));
    $('transpose-down').addEventListener('click', () => this.run(() => this.work.transpose(this.roll.part, this.selection(), -1)));
    $('quantise').addEventListener('click', () => this.run(() => this.work.quantise(this.roll.part, this.selection(), this.gridQ)));
    $('delete').addEventListener('click', () => this.run(() => this.work.deleteNotes(this.roll.part, this.selection())));
    $('copy').addEventListener('click', () => this.copy());
    $('paste').addEventListener('click', () => this.paste());
    $('compare').addEventListener('click', () => this.compare($('compare-from').value));
    $('merge').addEventListener('click', () => this.mergeInto($('merge-target').value));
    $('algo-run').addEventListener('click', () => this.propose());
    $('render-server').addEventListener('click', () => this.renderOnServer());
    document.addEventListener('keydown', (e) => this.keys(e));
  }

  branchForm() {
    if ($('branch-name')) { $('branch-name').focus(); return; }
    const input = h('input', { id: 'branch-name', 'aria-label': 'New branch name', placeholder: 'branch name' });
    const go = h('button', { id: 'branch-create', onclick: () => this.newBranch(input.value.trim()) }, 'Create');
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter') this.newBranch(input.value.trim()); e.stopPropagation(); });
    $('new-branch').after(input, go);
    input.focus();
  }

  // Copy takes the loop's measures (the selected measure, unless a loop range is pinned); Paste puts
  // them over the selected measure and the ones after it
  copy() {
    const [a, b] = this.loop[0] <= this.measure && this.measure <= this.loop[1] ? this.loop : [this.measure, this.measure];
    this.clipboard = this.work.copyMeasures(this.roll.part, a, b);
    this.status(a === b ? `Copied measure ${a}` : `Copied measures ${a}–${b}`, 'info');
  }

  paste() {
    if (!this.clipboard) { this.status('Copy a measure first', 'error'); return; }
    this.run(() => this.work.pasteMeasures(this.roll.part, this.measure, this.clipboard));
  }

  async togglePlay() {
    try {
      if (this.audio.playing) { this.audio.stop(); $('play').textContent = 'Play'; return; }
      await this.audio.play();
      $('play').textContent = 'Stop';
    } catch (err) { this.status(`No sound: ${err.message}`, 'error'); }
  }

  keys(e) {
    const tag = (e.target.tagName || '').toLowerCase();
    if (['input', 'textarea', 'select'].includes(tag) && !(e.ctrlKey && e.key === 'Enter')) return;
    const pid = this.roll.part;
    const sel = this.selection();
    const ctrl = e.ctrlKey || e.metaKey;
    let done = true;
    if (ctrl && e.key === 'Enter') this.commit();
    else if (ctrl && (e.key === 'z' || e.key === 'Z') && e.shiftKey) this.work.redo();
    else if (ctrl && (e.key === 'z' || e.key === 'Z')) this.work.undo();
    else if (ctrl && e.key === 'y') this.work.redo();
    else if (ctrl && e.key === 'c') this.copy();
    else if (ctrl && e.key === 'v') this.paste();
    else if (ctrl) done = false;
    else if (e.key === ' ') this.togglePlay();
    else if (e.key === 'Delete' || e.key === 'Backspace') this.run(() => this.work.deleteNotes(pid, sel));
    else if (e.key === 'ArrowUp') this.run(() => this.work.transpose(pid, sel, e.shiftKey ? 12 : 1));
    else if (e.key === 'ArrowDown') this.run(() => this.work.transpose(pid, sel, e.shiftKey ? -12 : -1));
    else if (e.key === 'ArrowRight') this.run(() => this.work.moveNotes(pid, sel, this.gridQ, 0));
    else if (e.key === 'ArrowLeft') this.run(() => this.work.moveNotes(pid, sel, -this.gridQ, 0));
    else if (e.key === 'q' || e.key === 'Q') this.run(() => this.work.quantise(pid, sel, this.gridQ));
    else if (e.key === ']') this.run(() => this.work.setVelocity(pid, sel, Math.min(127, this.avgVel(sel) + 10)));
    else if (e.key === '[') this.run(() => this.work.setVelocity(pid, sel, Math.max(1, this.avgVel(sel) - 10)));
    else if (e.key === 'm' || e.key === 'M') { $('metronome').click(); }
    else if (e.key === 'd' || e.key === 'D') this.compare($('compare-from').value);
    else if (e.key === 'b' || e.key === 'B') this.branchForm();
    else if (e.key === 'c' || e.key === 'C') this.commentForm(null);
    else if (e.key === 'a' || e.key === 'A') this.propose();
    else if (e.key === 'r' || e.key === 'R') this.renderOnServer();
    else if (e.key === 'Escape') { this.roll.selected.clear(); this.clearDiff(); }
    else if (/^[1-9]$/.test(e.key) && this.model.parts[Number(e.key) - 1]) this.showPart(this.model.parts[Number(e.key) - 1].id);
    else done = false;
    if (done) e.preventDefault();
  }

  avgVel(ids) {
    const v = ids.map((id) => this.work.find(this.roll.part, id)).filter(Boolean).map((f) => f.e.velocity);
    return v.length ? Math.round(v.reduce((a, b) => a + b, 0) / v.length) : this.velocity;
  }
}

const root = document.getElementById('studio');
if (root) {
  const studio = new Studio(root);
  window.studio = studio;
  window.StudioAudio = Audio;
  studio.start();
}
