import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../..', import.meta.url));

/** Whether a fresh Node process that runs `code` (an ES module) ends up with Node's undici loaded. */
async function loadsUndici(code: string): Promise<boolean> {
  const probe = `${code}\nconsole.log(process.moduleLoadList.some((m) => m.includes('undici')));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe]);
  return stdout.trim() === 'true';
}

/** The TypeScript sources under `dir` (none when there is no such folder), tests left out. */
async function* sources(dir: string): AsyncGenerator<string> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (/\.ts$/.test(entry.name) && !/\.test\.ts$/.test(entry.name)) yield path;
  }
}

describe('node:http without the fetch implementation', () => {
  it('when node:http is imported as an ES module, then Node loads undici; required, it does not', async () => {
    expect(await loadsUndici("import 'node:http';")).toBe(true);
    expect(await loadsUndici("import { createRequire } from 'node:module'; createRequire(import.meta.url)('node:http');")).toBe(false);
  });

  it('when the services and packages need node:http, then they take nodeHttp, never an import of it', async () => {
    const offenders: string[] = [];
    for (const base of ['services', 'packages']) {
      for (const name of await readdir(join(root, base))) {
        const src = join(root, base, name, 'src');
        for await (const file of sources(src)) {
          const text = await readFile(file, 'utf8');
          if (/^import\s+(?!type\b)[^;]*from\s+'(node:)?http'/m.test(text)) offenders.push(file.slice(root.length));
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
