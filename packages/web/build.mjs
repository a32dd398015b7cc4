// Bundles the page for the browser: one script, one stylesheet, the HTML, nothing fetched from elsewhere.
import { copyFile, mkdir } from 'node:fs/promises';
import { build } from 'esbuild';

const out = new URL('./dist/www/', import.meta.url);
await mkdir(out, { recursive: true });

// The conversion options as JSON Schema, from the shared zod schema the gateway checks uploads with: the
// page builds its form from it, so an option added there is a field here, and zod stays out of the bundle.
const probe = await build({
  stdin: {
    contents:
      "import { conversionOptionsSchema } from '@mp3converter/shared/contracts';\n" +
      "export default conversionOptionsSchema.toJSONSchema({ io: 'input', unrepresentable: 'any' });",
    resolveDir: new URL('./page/', import.meta.url).pathname,
    loader: 'ts',
  },
  bundle: true,
  format: 'esm',
  platform: 'node',
  conditions: ['source'],
  write: false,
  logLevel: 'warning',
});
const { default: conversionOptions } = await import(`data:text/javascript;base64,${Buffer.from(probe.outputFiles[0].text).toString('base64')}`);

await build({
  entryPoints: [new URL('./page/main.ts', import.meta.url).pathname],
  bundle: true,
  format: 'esm',
  target: ['es2022'],
  platform: 'browser',
  // The shared contracts as TypeScript, the same schemas the gateway validates with.
  conditions: ['source'],
  define: { __CONVERSION_OPTIONS__: JSON.stringify(conversionOptions) },
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  outfile: new URL('app.js', out).pathname,
  logLevel: 'warning',
});
for (const file of ['index.html', 'app.css']) await copyFile(new URL(`./page/${file}`, import.meta.url), new URL(file, out));
