// The score: the companion's MusicXML export engraved by OpenSheetMusicDisplay, a window of measures
// around the one being edited. Diff marks colour notes through MusicXML's own color attribute.
import { OpenSheetMusicDisplay } from 'opensheetmusicdisplay';

const STEPS = { C: 0, D: 2, E: 4, F: 5, G: 7, A: 9, B: 11 };
import { WINDOW } from './window.js';

export { WINDOW };
export const COLORS = { added: '#1f9d55', changed: '#d97706', selected: '#2563eb' };

// Mark notes in MusicXML text: marks[partIndex][measure] = [{onset (quarters), midi, color}].
export function colorMusicXML(text, marks) {
  const doc = new DOMParser().parseFromString(text, 'application/xml');
  const parts = doc.getElementsByTagName('part');
  for (let pi = 0; pi < parts.length; pi++) {
    const pm = marks[pi];
    if (!pm) continue;
    let divisions = 1;
    for (const measure of parts[pi].getElementsByTagName('measure')) {
      const number = Number(measure.getAttribute('number'));
      const want = pm[number];
      let t = 0; let last = 0;
      for (const node of measure.children) {
        if (node.tagName === 'attributes') {
          const d = node.getElementsByTagName('divisions')[0];
          if (d) divisions = Number(d.textContent);
        } else if (node.tagName === 'backup') {
          t -= Number(node.getElementsByTagName('duration')[0].textContent) / divisions;
        } else if (node.tagName === 'forward') {
          t += Number(node.getElementsByTagName('duration')[0].textContent) / divisions;
        } else if (node.tagName === 'note') {
          const grace = node.getElementsByTagName('grace').length > 0;
          const chord = node.getElementsByTagName('chord').length > 0;
          const durEl = node.getElementsByTagName('duration')[0];
          const dur = grace || !durEl ? 0 : Number(durEl.textContent) / divisions;
          const onset = chord ? last : t;
          const pitch = node.getElementsByTagName('pitch')[0];
          if (want && pitch) {
            const step = pitch.getElementsByTagName('step')[0].textContent;
            const alter = Number((pitch.getElementsByTagName('alter')[0] || {}).textContent || 0);
            const octave = Number(pitch.getElementsByTagName('octave')[0].textContent);
            const midi = (octave + 1) * 12 + STEPS[step] + alter;
            const hit = want.find((w) => Math.abs(w.onset - onset) < 1e-6 && w.midi === midi);
            if (hit) {
              node.setAttribute('color', hit.color);
              const head = node.getElementsByTagName('notehead')[0];
              if (head) head.setAttribute('color', hit.color);
              else {
                const nh = doc.createElement('notehead');
                nh.setAttribute('color', hit.color);
                nh.textContent = 'normal';
                const anchor = node.getElementsByTagName('type')[0] || null;
                node.insertBefore(nh, anchor ? anchor.nextSibling : null);
              }
            }
          }
          if (!chord) { last = t; t += dur; }
        }
      }
    }
  }
  return new XMLSerializer().serializeToString(doc);
}

export class Score {
  constructor(host) {
    this.host = host;
    this.osmd = new OpenSheetMusicDisplay(host, {
      autoResize: false, backend: 'svg', drawTitle: false, drawSubtitle: false, drawComposer: false,
      drawPartNames: true, drawingParameters: 'compacttight', followCursor: false,
      autoGenerateMultipleRestMeasuresFromRestMeasures: false,
    });
    this.xml = null;
    this.from = 1;
    this.loaded = null;
  }

  // The window of measures the score shows around a measure (the companion sends only these).
  windowFor(measure) {
    const from = Math.max(1, measure - 1);
    return [from, from + WINDOW - 1];
  }

  async show(xml, from, to, marks = null) {
    const text = marks ? colorMusicXML(xml, marks) : xml;
    if (text !== this.loaded) {
      await this.osmd.load(text);
      this.loaded = text;
      this.osmd.render();
    }
    this.from = from; this.to = to;
    this.host.dataset.from = String(from);
    this.host.dataset.to = String(to);
    this.host.setAttribute('aria-label', `Score, measures ${from} to ${to}`);
  }

  // Noteheads OSMD drew with a given colour (for tests and the diff legend).
  coloured(color) {
    const c = color.toLowerCase();
    return [...this.host.querySelectorAll('path, g')].filter((n) => (n.getAttribute('fill') || '').toLowerCase() === c).length;
  }
}
