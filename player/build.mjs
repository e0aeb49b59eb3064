// Build the player bundle into dist/: player.js (+ player.css) for pages and the embed,
// boot.js (the embed pages' fast start, which loads player.js), embed-api.js for pages that drive
// an embedded player through postMessage.
// Also writes gzip copies (the companion serves them to browsers that accept gzip) and a manifest,
// the app's icons (icons.mjs), and sw.js: the service worker, Workbox bundled in, with the app shell's
// precache list (each file with its content hash as the revision) injected as self.__WB_MANIFEST.
import * as esbuild from 'esbuild';
import { iconPng } from './icons.mjs';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const watch = process.argv.includes('--watch');
const outdir = 'dist';
const options = {
  entryPoints: { player: 'src/index.js', 'embed-api': 'src/embed-api.js', boot: 'src/boot.js' },
  outdir,
  bundle: true,
  format: 'iife',
  target: ['es2020', 'chrome90', 'firefox90', 'safari14'],
  minify: !watch,
  sourcemap: true,
  legalComments: 'eof',
  metafile: true,
  logLevel: 'info',
  define: { 'process.env.NODE_ENV': '"production"' },
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const result = await esbuild.build(options);
  const manifest = {};
  for (const file of Object.keys(result.metafile.outputs)) {
    if (file.endsWith('.map')) continue;
    const data = readFileSync(file);
    const name = file.slice(outdir.length + 1);
    if (/\.(js|css)$/.test(name)) writeFileSync(`${file}.gz`, gzipSync(data, { level: 9 }));
    manifest[name] = { bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') };
  }
  for (const [name, png] of [['icon-192.png', iconPng(192)], ['icon-512.png', iconPng(512)],
    ['icon-maskable-512.png', iconPng(512, { maskable: true })]]) {
    writeFileSync(`${outdir}/${name}`, png);
    manifest[name] = { bytes: png.length, sha256: createHash('sha256').update(png).digest('hex') };
  }
  // The app shell the service worker precaches (boot.js too: pages without the inline copy load it).
  const shell = ['player.js', 'player.css', 'boot.js', 'icon-192.png', 'icon-512.png']
    .map((name) => ({ url: `/player/${name}`, revision: manifest[name].sha256.slice(0, 16) }));
  const sw = await esbuild.build({
    entryPoints: { sw: 'src/sw.js' }, outdir, bundle: true, format: 'iife', target: ['es2020', 'chrome90'],
    minify: true, sourcemap: true, metafile: true, logLevel: 'info',
    define: { 'process.env.NODE_ENV': '"production"', 'self.__WB_MANIFEST': JSON.stringify(shell) },
  });
  for (const file of Object.keys(sw.metafile.outputs)) {
    if (file.endsWith('.map')) continue;
    const data = readFileSync(file);
    manifest[file.slice(outdir.length + 1)] = { bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') };
  }
  writeFileSync(`${outdir}/manifest.json`, `${JSON.stringify(manifest, null, 2)}\n`);
}
