// Bundles mp3c into one file with everything it uses (the shared contracts, tus-js-client, zod): the packed
// package has no dependencies, so `npm install -g` of its tarball needs no registry and no workspace.
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
await rm(dist, { recursive: true, force: true });

const { version, engines } = JSON.parse(await readFile(join(here, 'package.json'), 'utf8'));
const result = await build({
  absWorkingDir: here,
  entryPoints: [join(here, 'src/main.ts')],
  outfile: join(dist, 'main.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  // The oldest Node the package says it runs on (engines), so nothing newer slips into the bundle.
  target: `node${engines.node.replace(/^>=/, '')}`,
  // The shared contracts as TypeScript: no build of them needed first, and only what mp3c uses comes in.
  conditions: ['source'],
  // Bundled CommonJS (tus-js-client's dependencies) may call require() for Node's own modules.
  banner: { js: "import { createRequire as __mp3cRequire } from 'node:module'; const require = __mp3cRequire(import.meta.url);" },
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});

/** The licences of the packages bundled in, as their terms ask when their code is passed on. */
const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = /^(.*node_modules\/((?:@[^/]+\/)?[^/]+))\//.exec(input);
  if (match && !packages.has(match[2])) packages.set(match[2], join(here, match[1]));
}
const notices = [];
for (const [name, dir] of [...packages].sort(([a], [b]) => a.localeCompare(b))) {
  const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
  const licenceFile = (await readdir(dir)).find((f) => /^(licen[cs]e|copying)(\..*)?$/i.test(f));
  const text = licenceFile ? await readFile(join(dir, licenceFile), 'utf8') : `${pkg.license ?? 'see the package'}\n`;
  notices.push(`${name} ${pkg.version} (${pkg.license ?? 'unknown licence'})\n\n${text.trim()}\n`);
}
await writeFile(join(dist, 'THIRD-PARTY-NOTICES.txt'), `mp3c ${version} bundles these packages:\n\n${notices.join(`\n${'-'.repeat(72)}\n\n`)}`);
