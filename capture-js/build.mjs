// Builds dist/interarec-capture.js: one minified IIFE exposing window.InteraRec.
import { build } from 'esbuild';

const common = { bundle: true, minify: true, format: 'iife', logLevel: 'warning',
  target: ['chrome100', 'firefox100', 'safari15'] };

await build({
  entryPoints: ['src/index.js'],
  bundle: true,
  minify: true,
  format: 'iife',
  globalName: 'InteraRec',
  target: ['chrome100', 'firefox100', 'safari15'],
  outfile: 'dist/interarec-capture.js',
  legalComments: 'eof',
  logLevel: 'warning',
});

// Benchmark-only bundle: both candidate renderers (services/capture/bench_page_render.py).
if (process.argv.includes('--bench')) {
  await build({ ...common, entryPoints: ['bench/renderers.js'], outfile: 'dist/bench-renderers.js' });
}
