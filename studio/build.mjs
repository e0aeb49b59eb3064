// Build the studio into dist/: studio.js (+ studio.css) and libfluidsynth.js (FluidSynth compiled to
// WebAssembly, from js-synthesizer's package, loaded by the app when it first needs sound).
// Also writes gzip copies and a manifest, like player/build.mjs.
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const outdir = 'dist';
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
const result = await esbuild.build({
  entryPoints: { studio: 'src/index.js', boot: 'src/boot.js', session: 'src/session.js' },
  outdir,
  bundle: true,
  format: 'iife',
  target: ['es2020', 'chrome90', 'firefox90', 'safari14'],
  minify: true,
  sourcemap: true,
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
});
copyFileSync('node_modules/js-synthesizer/externals/libfluidsynth-2.4.6.js', `${outdir}/libfluidsynth.js`);
copyFileSync('node_modules/js-synthesizer/externals/LICENSE.fluidsynth.txt', `${outdir}/LICENSE.fluidsynth.txt`);
// the synth on the audio thread: libfluidsynth and js-synthesizer's worklet, loaded with audioWorklet.addModule
copyFileSync('node_modules/js-synthesizer/dist/js-synthesizer.worklet.min.js', `${outdir}/synth-worklet.js`);
// hls.js, loaded when the server's render is first played
copyFileSync('node_modules/hls.js/dist/hls.min.js', `${outdir}/hls.js`);
// the level detector on the audio thread (Audio.heard)
copyFileSync('src/level-worklet.js', `${outdir}/level-worklet.js`);
const manifest = {};
for (const file of [...Object.keys(result.metafile.outputs), `${outdir}/libfluidsynth.js`, `${outdir}/synth-worklet.js`, `${outdir}/level-worklet.js`, `${outdir}/hls.js`]) {
  if (file.endsWith('.map')) continue;
  const data = readFileSync(file);
  const name = file.slice(outdir.length + 1);
  writeFileSync(`${file}.gz`, gzipSync(data, { level: 9 }));
  manifest[name] = { bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') };
}
writeFileSync(`${outdir}/manifest.json`, `${JSON.stringify(manifest, null, 2)}\n`);
