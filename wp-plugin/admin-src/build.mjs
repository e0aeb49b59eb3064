// Build the wp-admin Listening dashboard's script into ../scripthammer/assets/dashboard/:
// dashboard.js (uPlot bundled in) and dashboard.css (uPlot's styles and the dashboard's own), with
// manifest.json (bytes and sha256 of each file: Dashboard.php versions the enqueued files by their hash).
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const outdir = '../scripthammer/assets/dashboard';
const options = {
  entryPoints: { dashboard: 'src/index.js' },
  outdir,
  bundle: true,
  format: 'iife',
  target: ['es2020', 'chrome90', 'firefox90', 'safari14'],
  minify: !watch,
  sourcemap: true,
  legalComments: 'eof',
  metafile: true,
  logLevel: 'info',
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
    manifest[file.slice(outdir.length + 1)] = { bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') };
  }
  writeFileSync(`${outdir}/manifest.json`, `${JSON.stringify(manifest, null, 2)}\n`);
}
