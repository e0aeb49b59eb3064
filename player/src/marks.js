// Performance marks along the start path (navigation -> first audio), for bench/player.py's trace.
export function mark(name) {
  try { if (typeof performance !== 'undefined' && performance.mark) performance.mark(`shp:${name}`); } catch { /* no marks */ }
}
