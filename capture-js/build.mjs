// Builds dist/interarec-capture.js: one minified IIFE exposing window.InteraRec.
import { build } from 'esbuild';

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
