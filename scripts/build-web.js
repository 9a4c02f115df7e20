// Builds the browser client into dist/web with esbuild: one ES module bundle
// plus the static HTML and CSS.
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';

const outdir = new URL('../dist/web/', import.meta.url);
await mkdir(outdir, { recursive: true });
await build({
  entryPoints: [new URL('../src/web/main.ts', import.meta.url).pathname],
  bundle: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  sourcemap: true,
  minify: true,
  outfile: new URL('app.js', outdir).pathname,
  logLevel: 'warning',
  // hls.js's light build has everything LL-HLS needs (no subtitles, DRM, CMCD) at half the size.
  alias: { 'hls.js': 'hls.js/dist/hls.light.mjs' },
});
for (const file of ['index.html', 'styles.css']) {
  await copyFile(new URL(`../src/web/${file}`, import.meta.url), new URL(file, outdir));
}
console.log('built dist/web');
