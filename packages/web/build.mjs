// Bundles the page for the browser: one script, one stylesheet, the HTML, nothing fetched from elsewhere.
import { copyFile, mkdir } from 'node:fs/promises';
import { build } from 'esbuild';

const out = new URL('./dist/www/', import.meta.url);
await mkdir(out, { recursive: true });
await build({
  entryPoints: [new URL('./page/main.ts', import.meta.url).pathname],
  bundle: true,
  format: 'esm',
  target: ['es2022'],
  platform: 'browser',
  // The shared contracts as TypeScript, the same schemas the gateway validates with.
  conditions: ['source'],
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  outfile: new URL('app.js', out).pathname,
  logLevel: 'warning',
});
for (const file of ['index.html', 'app.css']) await copyFile(new URL(`./page/${file}`, import.meta.url), new URL(file, out));
