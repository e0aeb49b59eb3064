// The working copy of a composition: the server's model plus the member's unsent edits, with undo/redo.
// Edits are refused here, visibly, on parts the member may not change; the server checks them again.
const DENOMS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 192];
const SHARPS = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];
const FLATS = ['C', 'Db', 'D', 'Eb', 'E', 'F', 'Gb', 'G', 'Ab', 'A', 'Bb', 'B'];

export function q(text) {
  const s = String(text);
  if (s.includes('/')) { const [a, b] = s.split('/'); return Number(a) / Number(b); }
  return Number(s);
}

export function frac(x) {
  for (const d of DENOMS) {
    const n = Math.round(x * d);
    if (Math.abs(n / d - x) < 1e-6) {
      const g = gcd(Math.abs(n), d);
      return d / g === 1 ? String(n / g) : `${n / g}/${d / g}`;
    }
  }
  return frac(Math.round(x * 192) / 192);
}

function gcd(a, b) { return b ? gcd(b, a % b) : (a || 1); }

export function pitchName(midi, flats = false) {
  const names = flats ? FLATS : SHARPS;
  return `${names[((midi % 12) + 12) % 12]}${Math.floor(midi / 12) - 1}`;
}

export class LockedError extends Error {
  constructor(part) {
    const why = {
      part_forbidden: `${part.name || part.id} belongs to ${part.owner_name || part.owner || 'another member'}: you may not change it`,
      not_branch_head: 'you are looking at an old version: switch to a branch to edit',
      guest_scope: 'your invitation does not cover this branch',
      missing_right: 'you may not change compositions (read-only)',
      token_expired: 'your token has expired: open the studio again from WordPress',
    }[part.locked_reason] || `${part.name || part.id} is locked (${part.locked_reason})`;
    super(why);
    this.code = 'locked';
    this.part = part.id;
  }
}

let uid = 0;

export class Working {
  constructor(model, saved = null) {
    this.model = model;
    this.grid = model.grid;
    this.parts = new Map(model.parts.map((p) => [p.id, p]));
    this.events = new Map();   // part id -> Map(measure -> events with _id)
    this.dirty = new Set();    // "part|measure"
    this.undoStack = [];
    this.redoStack = [];
    this.listeners = [];
    for (const p of model.parts) {
      const ms = new Map();
      for (const [m, evs] of Object.entries(p.measures)) ms.set(Number(m), evs.map((e) => ({ ...e, _id: ++uid })));
      this.events.set(p.id, ms);
    }
    if (saved) this.restore(saved);
  }

  onChange(fn) { this.listeners.push(fn); }
  emit(info) { for (const fn of this.listeners) fn(info); }

  measureStart(m) { return this.grid[m - 1] ? this.grid[m - 1].start_q : 0; }
  measureLength(m) { return this.grid[m - 1] ? this.grid[m - 1].length_q : 4; }
  get measures() { return this.grid.length; }
  get totalQ() { const g = this.grid[this.grid.length - 1]; return g ? g.start_q + g.length_q : 16; }

  measureAt(t) {
    let lo = 0; let hi = this.grid.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.grid[mid].start_q <= t + 1e-9) lo = mid; else hi = mid - 1;
    }
    return lo + 1;
  }

  measureEvents(pid, m) { return this.events.get(pid).get(m) || []; }

  // Every note of a part with its absolute onset (quarters) and measure.
  notes(pid) {
    const out = [];
    for (const [m, evs] of this.events.get(pid)) {
      const start = this.measureStart(m);
      for (const e of evs) if (e.kind === 'note') out.push({ m, e, t: start + q(e.onset), d: q(e.duration) });
    }
    return out;
  }

  controllers(pid) {
    const out = [];
    for (const [m, evs] of this.events.get(pid)) {
      const start = this.measureStart(m);
      for (const e of evs) if (e.kind === 'cc') out.push({ m, e, t: start + q(e.onset) });
    }
    return out;
  }

  find(pid, id) {
    for (const [m, evs] of this.events.get(pid)) {
      const e = evs.find((x) => x._id === id);
      if (e) return { m, e };
    }
    return null;
  }

  editable(pid) {
    const p = this.parts.get(pid);
    if (!p.editable) throw new LockedError(p);
  }

  snapshot(pid, measures) {
    return [...measures].map((m) => ({ pid, m, events: this.measureEvents(pid, m).map((e) => ({ ...e })) }));
  }

  apply(states) {
    for (const s of states) {
      this.events.get(s.pid).set(s.m, s.events.map((e) => ({ ...e })));
      this.dirty.add(`${s.pid}|${s.m}`);
    }
  }

  // One undoable edit of some measures of one part: fn mutates and returns the measures it touched.
  edit(pid, label, measures, fn) {
    this.editable(pid);
    const saved = new Map();
    for (const [m, evs] of this.events.get(pid)) saved.set(m, evs.map((e) => ({ ...e })));
    const touched = new Set(measures);
    let result;
    try {
      result = fn(touched);
      for (const m of touched) {
        if (m < 1 || m > this.measures) throw Object.assign(new Error(`measure ${m} is outside the piece`), { code: 'bad_edit' });
      }
    } catch (err) { // nothing half-made: the part is as it was
      this.events.set(pid, saved);
      throw err;
    }
    const allBefore = [...touched].map((m) => ({ pid, m, events: saved.get(m) || [] }));
    for (const m of touched) {
      const evs = this.measureEvents(pid, m);
      evs.sort((a, b) => q(a.onset) - q(b.onset) || (a.midi || 0) - (b.midi || 0));
      this.events.get(pid).set(m, evs);
      this.dirty.add(`${pid}|${m}`);
    }
    this.undoStack.push({ label, before: allBefore, after: this.snapshot(pid, touched) });
    this.redoStack = [];
    this.emit({ kind: 'edit', pid, measures: [...touched], label, result });
    return result;
  }

  undo() {
    const step = this.undoStack.pop();
    if (!step) return false;
    this.apply(step.before);
    this.redoStack.push(step);
    this.emit({ kind: 'undo', label: step.label });
    return true;
  }

  redo() {
    const step = this.redoStack.pop();
    if (!step) return false;
    this.apply(step.after);
    this.undoStack.push(step);
    this.emit({ kind: 'redo', label: step.label });
    return true;
  }

  // ---- edits
  addNote(pid, t, midi, dur, vel) {
    const m = this.measureAt(t);
    return this.edit(pid, 'add note', [m], () => {
      const e = { kind: 'note', onset: frac(t - this.measureStart(m)), pitch: pitchName(midi), midi, duration: frac(dur),
        velocity: vel, _id: ++uid };
      if (!this.events.get(pid).has(m)) this.events.get(pid).set(m, []);
      this.events.get(pid).get(m).push(e);
      return [e._id];
    });
  }

  // Move notes by dt quarters and dp semitones; a note crossing a barline moves to that measure.
  moveNotes(pid, ids, dt, dp) {
    const found = ids.map((id) => this.find(pid, id)).filter(Boolean);
    return this.edit(pid, dp && !dt ? 'transpose' : 'move', [...new Set(found.map((f) => f.m))], (touched) => {
      for (const { m, e } of found) {
        const t = this.measureStart(m) + q(e.onset) + dt;
        if (t < 0) throw Object.assign(new Error('a note cannot move before the first measure'), { code: 'bad_edit' });
        const nm = this.measureAt(t);
        if (dp) {
          const midi = e.midi + dp;
          if (midi < 0 || midi > 127) throw Object.assign(new Error('that pitch is outside MIDI\'s range'), { code: 'bad_edit' });
          e.midi = midi;
          e.pitch = pitchName(midi, e.pitch.includes('b'));
        }
        e.onset = frac(t - this.measureStart(nm));
        if (nm !== m) {
          const from = this.events.get(pid).get(m);
          from.splice(from.indexOf(e), 1);
          if (!this.events.get(pid).has(nm)) this.events.get(pid).set(nm, []);
          this.events.get(pid).get(nm).push(e);
          touched.add(nm);
        }
      }
      return ids;
    });
  }

  resizeNotes(pid, ids, dd, min) {
    const found = ids.map((id) => this.find(pid, id)).filter(Boolean);
    return this.edit(pid, 'resize', [...new Set(found.map((f) => f.m))], () => {
      for (const { e } of found) e.duration = frac(Math.max(min, q(e.duration) + dd));
      return ids;
    });
  }

  deleteNotes(pid, ids) {
    const found = ids.map((id) => this.find(pid, id)).filter(Boolean);
    return this.edit(pid, 'delete', [...new Set(found.map((f) => f.m))], () => {
      for (const { m, e } of found) {
        const evs = this.events.get(pid).get(m);
        evs.splice(evs.indexOf(e), 1);
      }
      return [];
    });
  }

  setVelocity(pid, ids, vel) {
    if (!(vel >= 1 && vel <= 127)) throw Object.assign(new Error('velocity is 1 to 127'), { code: 'bad_edit' });
    const found = ids.map((id) => this.find(pid, id)).filter(Boolean);
    return this.edit(pid, 'velocity', [...new Set(found.map((f) => f.m))], () => {
      for (const { e } of found) e.velocity = Math.round(vel);
      return ids;
    });
  }

  // Velocities drawn in the lane: {id: velocity} for each note the pointer crossed, one undo step.
  drawVelocities(pid, values) {
    const found = [];
    for (const [id, vel] of Object.entries(values)) {
      if (!(vel >= 1 && vel <= 127)) throw Object.assign(new Error('velocity is 1 to 127'), { code: 'bad_edit' });
      const f = this.find(pid, Number(id));
      if (f) found.push([f, Math.round(vel)]);
    }
    if (!found.length) return [];
    return this.edit(pid, 'velocity', [...new Set(found.map(([f]) => f.m))], () => {
      for (const [{ e }, vel] of found) e.velocity = vel;
      return found.map(([{ e }]) => e._id);
    });
  }

  transpose(pid, ids, semis) { return this.moveNotes(pid, ids, 0, semis); }

  quantise(pid, ids, grid) {
    const found = ids.map((id) => this.find(pid, id)).filter(Boolean);
    return this.edit(pid, 'quantise', [...new Set(found.map((f) => f.m))], (touched) => {
      for (const { m, e } of found) {
        const t = Math.round((this.measureStart(m) + q(e.onset)) / grid) * grid;
        const nm = this.measureAt(t);
        e.onset = frac(t - this.measureStart(nm));
        e.duration = frac(Math.max(grid, Math.round(q(e.duration) / grid) * grid));
        if (nm !== m) {
          const from = this.events.get(pid).get(m);
          from.splice(from.indexOf(e), 1);
          if (!this.events.get(pid).has(nm)) this.events.get(pid).set(nm, []);
          this.events.get(pid).get(nm).push(e);
          touched.add(nm);
        }
      }
      return ids;
    });
  }

  // the events of measures from..to (a clipboard: one list per measure)
  copyMeasures(pid, from, to) {
    const out = [];
    for (let m = from; m <= to; m++) out.push(this.measureEvents(pid, m).map((e) => ({ ...e })));
    return out;
  }

  // the clipboard's measures over m, m+1, ... (one edit: undone at once; refused whole past the end)
  pasteMeasures(pid, m, measures) {
    const range = measures.map((_, i) => m + i);
    return this.edit(pid, 'paste', range, () => {
      const ids = [];
      measures.forEach((events, i) => {
        const evs = events.map((e) => ({ ...e, _id: ++uid }));
        this.events.get(pid).set(m + i, evs);
        ids.push(...evs.filter((e) => e.kind === 'note').map((e) => e._id));
      });
      return ids;
    });
  }

  // ---- what goes to the server
  changes() {
    const parts = {};
    for (const key of this.dirty) {
      const [pid, m] = key.split('|');
      parts[pid] = parts[pid] || { measures: {} };
      parts[pid].measures[m] = this.measureEvents(pid, Number(m)).map(clean);
    }
    return { parts };
  }

  get hasEdits() { return this.dirty.size > 0; }

  save() {
    return { parent: this.model.version.id, branch: this.model.branch, changes: this.changes().parts };
  }

  restore(saved) {
    for (const [pid, ch] of Object.entries(saved.changes || {})) {
      if (!this.events.has(pid)) continue;
      for (const [m, evs] of Object.entries(ch.measures)) {
        this.events.get(pid).set(Number(m), evs.map((e) => ({ ...e, _id: ++uid })));
        this.dirty.add(`${pid}|${m}`);
      }
    }
  }
}

export function clean(e) {
  const out = {};
  for (const [k, v] of Object.entries(e)) if (!k.startsWith('_')) out[k] = v;
  return out;
}
