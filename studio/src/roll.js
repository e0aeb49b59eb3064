// The piano roll of one part: notes, a velocity lane and controller lanes, drawn as SVG.
// Mouse: double-click adds a note, drag moves, drag the right edge resizes, click selects (Shift adds);
// in the velocity lane, press and drag draws the velocities of the notes the pointer crosses (one undo step).
import { pitchName, q } from './model.js';

const NS = 'http://www.w3.org/2000/svg';
export const PXQ = 40;  // pixels per quarter note
export const ROW = 8;   // pixels per semitone
const VEL_H = 48;
const CC_H = 36;
const EDGE = 6;

function el(name, attrs = {}, parent = null) {
  const n = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  if (parent) parent.appendChild(n);
  return n;
}

export class Roll {
  constructor(host, studio) {
    this.host = host;
    this.studio = studio;
    this.part = null;
    this.selected = new Set();
    this.diff = null; // {added: Set(key), changed: Set(key), removed: [{t, d, midi}]}
    this.drag = null;
    host.addEventListener('mousedown', (ev) => this.down(ev));
    window.addEventListener('mousemove', (ev) => this.moveDrag(ev));
    window.addEventListener('mouseup', (ev) => this.up(ev));
    host.addEventListener('dblclick', (ev) => this.dbl(ev));
  }

  range(notes) {
    let lo = 60; let hi = 72;
    for (const n of notes) { lo = Math.min(lo, n.e.midi); hi = Math.max(hi, n.e.midi); }
    if (this.diff) for (const r of this.diff.removed) if (r.part === this.part) { lo = Math.min(lo, r.midi); hi = Math.max(hi, r.midi); }
    this.lo = Math.max(0, lo - 6);
    this.hi = Math.min(127, hi + 6);
  }

  y(midi) { return (this.hi - midi) * ROW; }
  midiAt(y) { return Math.round(this.hi - y / ROW + 0.5 - 0.5); }

  render() {
    const w = this.studio.work;
    const pid = this.part;
    const host = this.host;
    if (!w || !pid) { host.textContent = ''; this.bgKey = null; return; }
    const part = w.parts.get(pid);
    const notes = w.notes(pid);
    this.range(notes);
    const key = `${pid}:${this.lo}:${this.hi}:${w.grid.length}:${w.totalQ}:${part.editable}`;
    if (key !== this.bgKey || !this.svg || !host.contains(this.svg)) {
      this.drawBackground(w, part);
      this.bgKey = key;
    }
    this.drawNotes(w, pid, notes);
    if (this.scrollTo != null) { this.scroller.scrollLeft = this.scrollTo; this.scrollTo = null; }
  }

  // The part's frame: banner, pitch rows, bars and beats (redrawn only when the part or its range changes).
  drawBackground(w, part) {
    const pid = part.id;
    const host = this.host;
    const keepScroll = this.scroller && host.contains(this.scroller) ? this.scroller.scrollLeft : null;
    host.textContent = '';
    const width = Math.ceil(w.totalQ * PXQ) + 20;
    const height = (this.hi - this.lo + 1) * ROW;
    host.classList.toggle('locked', !part.editable);
    const banner = document.createElement('div');
    banner.className = 'roll-banner';
    banner.setAttribute('role', 'note');
    banner.textContent = part.editable
      ? `${part.name || part.id} — yours to edit`
      : `🔒 ${part.name || part.id} — locked: ${this.studio.lockText(part)}`;
    host.appendChild(banner);
    const scroller = document.createElement('div');
    scroller.className = 'roll-scroll';
    host.appendChild(scroller);
    const svg = el('svg', { width, height: height + VEL_H + CC_H + 8, class: 'roll-svg', 'data-part': pid });
    scroller.appendChild(svg);
    this.svg = svg;
    this.scroller = scroller;
    this.height = height;
    this.width = width;
    const bg = el('g', { class: 'bg' }, svg);
    for (let p = this.lo; p <= this.hi; p++) {
      if ([1, 3, 6, 8, 10].includes(p % 12)) el('rect', { x: 0, y: this.y(p), width, height: ROW, class: 'black-key' }, bg);
      if (p % 12 === 0) {
        const t = el('text', { x: 2, y: this.y(p) + ROW - 1, class: 'octave' }, bg);
        t.textContent = pitchName(p);
      }
    }
    for (const g of w.grid) {
      const x = g.start_q * PXQ;
      el('line', { x1: x, x2: x, y1: 0, y2: height + VEL_H + CC_H, class: 'bar' }, bg);
      const label = el('text', { x: x + 3, y: 10, class: 'measure-no' }, bg);
      label.textContent = String(g.measure);
      for (let b = 1; b < g.length_q; b++) el('line', { x1: x + b * PXQ, x2: x + b * PXQ, y1: 0, y2: height, class: 'beat' }, bg);
    }
    this.loopRect = el('rect', { x: 0, y: 0, width: 0, height, class: 'loop' }, bg);
    this.paintLoop();
    this.layers = el('g', { class: 'layers' }, svg);
    if (keepScroll != null && this.scrollTo == null) this.scrollTo = keepScroll;
  }

  // Notes, the velocity lane and the controller lanes (redrawn on every change).
  drawNotes(w, pid, notes) {
    const width = this.width;
    const height = this.height;
    const layers = el('g', { class: 'layers' });
    const ghosts = el('g', { class: 'ghosts' }, layers);
    if (this.diff) {
      for (const r of this.diff.removed) {
        if (r.part !== pid) continue;
        el('rect', { x: r.t * PXQ, y: this.y(r.midi), width: Math.max(3, r.d * PXQ - 1), height: ROW - 1,
          class: 'note diff-removed', 'aria-label': `removed ${pitchName(r.midi)}` }, ghosts);
      }
    }
    const layer = el('g', { class: 'notes' }, layers);
    const vel = el('g', { class: 'velocity', transform: `translate(0, ${height + 4})` }, layers);
    el('rect', { x: 0, y: 0, width, height: VEL_H, class: 'lane' }, vel);
    for (const n of notes) {
      const key = `${pid}|${n.m}|${n.e.onset}|${n.e.midi}`;
      let cls = 'note';
      if (this.selected.has(n.e._id)) cls += ' selected';
      if (this.diff && this.diff.added.has(key)) cls += ' diff-added';
      if (this.diff && this.diff.changed.has(key)) cls += ' diff-changed';
      const r = el('rect', {
        x: n.t * PXQ, y: this.y(n.e.midi), width: Math.max(3, n.d * PXQ - 1), height: ROW - 1, class: cls,
        'data-id': n.e._id, 'data-measure': n.m, 'data-pitch': n.e.pitch, 'data-onset': n.e.onset,
        'data-velocity': n.e.velocity, 'data-duration': n.e.duration,
        'aria-label': `${n.e.pitch}, measure ${n.m}, beat ${q(n.e.onset) + 1}, velocity ${n.e.velocity}`,
        'fill-opacity': (0.35 + 0.65 * n.e.velocity / 127).toFixed(2),
      }, layer);
      r.setAttribute('role', 'button');
      const h = (n.e.velocity / 127) * (VEL_H - 4);
      el('rect', { x: n.t * PXQ, y: VEL_H - h, width: 3, height: h, class: 'vel-bar', 'data-id': n.e._id }, vel);
    }
    const cc = el('g', { class: 'controllers', transform: `translate(0, ${height + VEL_H + 8})` }, layers);
    el('rect', { x: 0, y: 0, width, height: CC_H, class: 'lane' }, cc);
    for (const c of w.controllers(pid)) {
      const h = (Number(c.e.value) / 127) * (CC_H - 4);
      el('rect', { x: c.t * PXQ, y: CC_H - h, width: 4, height: h, class: `cc cc${c.e.number}`,
        'aria-label': `controller ${c.e.number} = ${c.e.value}` }, cc);
    }
    this.layers.replaceWith(layers);
    this.layers = layers;
  }

  paintLoop() {
    const loop = this.studio.loop;
    const w = this.studio.work;
    if (!loop || !this.loopRect) return;
    const a = w.measureStart(loop[0]) * PXQ;
    const b = (w.measureStart(loop[1]) + w.measureLength(loop[1])) * PXQ;
    this.loopRect.setAttribute('x', a);
    this.loopRect.setAttribute('width', b - a);
  }

  paintSelection() {
    for (const r of this.svg.querySelectorAll('rect.note[data-id]')) r.classList.toggle('selected', this.selected.has(Number(r.dataset.id)));
  }

  pos(ev) {
    const r = this.svg.getBoundingClientRect();
    return { x: ev.clientX - r.left, y: ev.clientY - r.top };
  }

  snap(t) { const g = this.studio.gridQ; return Math.floor(t / g + 1e-9) * g; }

  // The velocity a pointer at lane height y stands for (1..127), or null outside the lane.
  laneVelocity(y) {
    const top = this.height + 4;
    if (y < top - 2 || y > top + VEL_H + 2) return null;
    const v = Math.round(((top + VEL_H - y) / (VEL_H - 4)) * 127);
    return Math.min(127, Math.max(1, v));
  }

  // Draw from (x0, v0) to (x1, v1): every note whose bar lies between takes the velocity on the line.
  drawLine(x0, v0, x1, v1) {
    const d = this.velDraw;
    const [a, b] = x0 <= x1 ? [x0 - 3, x1 + 3] : [x1 - 3, x0 + 3];
    for (const bar of this.svg.querySelectorAll('rect.vel-bar[data-id]')) {
      const x = Number(bar.getAttribute('x'));
      if (x < a || x > b) continue;
      const f = x1 === x0 ? 0 : Math.min(1, Math.max(0, (x - x0) / (x1 - x0)));
      const v = Math.round(v0 + (v1 - v0) * f);
      d.values[bar.dataset.id] = v;
      const h = (v / 127) * (VEL_H - 4);
      bar.setAttribute('y', VEL_H - h);
      bar.setAttribute('height', h);
      bar.classList.add('drawn');
    }
    d.x = x1; d.v = v1;
  }

  down(ev) {
    if (!this.svg || ev.button !== 0) return;
    const target = ev.target.closest('rect.note[data-id]');
    const p = this.pos(ev);
    if (p.y > this.height) {
      const v = this.laneVelocity(p.y);
      const part = this.studio.work && this.studio.work.parts.get(this.part);
      if (v == null || !part || !part.editable) return;
      this.velDraw = { values: {}, x: p.x, v };
      this.drawLine(p.x, v, p.x, v);
      ev.preventDefault();
      return;
    }
    if (!target) {
      if (!ev.shiftKey) this.selected.clear();
      this.studio.select(this.studio.work.measureAt(p.x / PXQ));
      this.paintSelection();
      return;
    }
    const id = Number(target.dataset.id);
    if (ev.shiftKey) { if (this.selected.has(id)) this.selected.delete(id); else this.selected.add(id); } else if (!this.selected.has(id)) { this.selected.clear(); this.selected.add(id); }
    const box = target.getBBox();
    const mode = p.x > box.x + box.width - EDGE ? 'resize' : 'move';
    this.drag = { mode, x: p.x, y: p.y, target, moved: false };
    this.studio.select(Number(target.dataset.measure), false);
    this.paintSelection();
    ev.preventDefault();
  }

  moveDrag(ev) {
    if (this.velDraw) {
      const p = this.pos(ev);
      const top = this.height + 4;
      const y = Math.min(top + VEL_H, Math.max(top, p.y));
      this.drawLine(this.velDraw.x, this.velDraw.v, p.x, this.laneVelocity(y));
      return;
    }
    if (!this.drag) return;
    const p = this.pos(ev);
    const g = this.studio.gridQ;
    const dt = Math.round((p.x - this.drag.x) / PXQ / g) * g;
    const dp = this.drag.mode === 'move' ? -Math.round((p.y - this.drag.y) / ROW) : 0;
    this.drag.dt = dt; this.drag.dp = dp;
    this.drag.moved = this.drag.moved || dt !== 0 || dp !== 0;
    for (const s of this.selected) {
      const r = this.svg.querySelector(`rect.note[data-id="${s}"]`);
      if (!r) continue;
      if (this.drag.mode === 'move') r.setAttribute('transform', `translate(${dt * PXQ}, ${-dp * ROW})`);
      else r.setAttribute('width', Math.max(3, q(r.dataset.duration) * PXQ + dt * PXQ - 1));
    }
  }

  up() {
    const vd = this.velDraw;
    this.velDraw = null;
    if (vd) {
      const ids = Object.keys(vd.values).map(Number);
      if (ids.length) this.studio.run(() => this.studio.work.drawVelocities(this.part, vd.values), ids);
      else this.render();
      return;
    }
    const d = this.drag;
    this.drag = null;
    if (!d || !d.moved) return;
    const ids = [...this.selected];
    if (d.mode === 'move') this.studio.run(() => this.studio.work.moveNotes(this.part, ids, d.dt, d.dp), ids);
    else this.studio.run(() => this.studio.work.resizeNotes(this.part, ids, d.dt, this.studio.gridQ), ids);
  }

  dbl(ev) {
    if (!this.svg || ev.target.closest('rect.note[data-id]')) return;
    const p = this.pos(ev);
    if (p.y > this.height) return;
    const t = this.snap(p.x / PXQ);
    const midi = Math.min(127, Math.max(0, Math.floor(this.hi - p.y / ROW + 1)));
    this.studio.run(() => this.studio.work.addNote(this.part, t, midi, this.studio.gridQ, this.studio.velocity));
  }

  // Screen position (client coordinates) of a time and pitch, for tests and the keyboard.
  point(t, midi) {
    const r = this.svg.getBoundingClientRect();
    return { x: r.left + t * PXQ + 2, y: r.top + this.y(midi) + ROW / 2 };
  }
}
