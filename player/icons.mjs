// The app's icons, drawn at build time (no image files in the repository): a play triangle on the
// band's dark square, as PNG (RGBA, written with node:zlib). ``maskable`` keeps the mark inside the
// safe zone (the inner 80%) and fills the whole square.
import { deflateSync } from 'node:zlib';

const CRC = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

export function iconPng(size, { maskable = false } = {}) {
  const bg = [0x11, 0x14, 0x18, 255];
  const fg = [0xf5, 0xb7, 0x2e, 255];
  const radius = maskable ? 0 : size * 0.18;
  const scale = maskable ? 0.55 : 0.7;
  // the play triangle, centred: (x0,y0)-(x0,y1)-(x2,yc)
  const h = size * scale * 0.8;
  const x0 = size / 2 - h * 0.38;
  const x2 = size / 2 + h * 0.5;
  const y0 = size / 2 - h / 2;
  const y1 = size / 2 + h / 2;
  const rows = [];
  for (let y = 0; y < size; y += 1) {
    const row = Buffer.alloc(1 + size * 4);
    for (let x = 0; x < size; x += 1) {
      // rounded corners (transparent outside)
      const cx = Math.min(Math.max(x + 0.5, radius), size - radius);
      const cy = Math.min(Math.max(y + 0.5, radius), size - radius);
      const outside = radius > 0 && (x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 > radius ** 2;
      let px = outside ? [0, 0, 0, 0] : bg;
      const py = y + 0.5;
      if (!outside && x + 0.5 >= x0 && py >= y0 && py <= y1) {
        const half = (h / 2) * (1 - (x + 0.5 - x0) / (x2 - x0));
        if (Math.abs(py - size / 2) <= half) px = fg;
      }
      row.set(px, 1 + x * 4);
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows), { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}
