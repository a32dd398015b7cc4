import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { makeVideo, readGridFsFile, uniqueName } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Queues, type Worker, cleanupQueues, startWorker } from '../../../services/converter/test/harness.js';
import { type Stack, signIn, startStack } from '../../../services/gateway/test/harness.js';
import { type Result, runCommand } from './mp3c.js';

/**
 * mp3c as someone installs it: the package packed into its tarball, installed by npm into an empty folder
 * with no registry to reach (the bundle has no dependencies), then run from there with nothing of this
 * repository on its PATH or in its folder, through the whole flow against a real auth, gateway and converter.
 */
const root = new URL('../../..', import.meta.url).pathname;
const run = promisify(execFile);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let work: string;
let tarball: string;
/** Where `npm install -g --prefix` put it: `bin/mp3c`, `lib/node_modules/@mp3converter/cli`. */
let prefix: string;
let stack: Stack;
let queues: Queues;
let converter: Worker;
let video: string;
const cleanups: (() => Promise<void>)[] = [];

/** npm with its own empty cache, no user config, and a registry nobody answers at: only the tarball can serve. */
function npm(args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return run('npm', [...args, '--offline', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    env: {
      PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
      HOME: work,
      npm_config_cache: join(work, 'npm-cache'),
      npm_config_userconfig: join(work, 'no-npmrc'),
      npm_config_registry: 'http://127.0.0.1:9/',
    },
  });
}

/** The installed mp3c, with PATH holding only it and Node, run from a folder of its own. */
const installed = (args: string[], input = ''): Promise<Result> =>
  runCommand([join(prefix, 'bin/mp3c')], args, { PATH: `${join(prefix, 'bin')}${delimiter}${dirname(process.execPath)}`, HOME: work }, work, input);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mp3c-packed-'));
  await run('pnpm', ['--filter', '@mp3converter/cli', 'build'], { cwd: root });
  await run('pnpm', ['pack', '--pack-destination', work], { cwd: join(root, 'packages/cli') });
  tarball = join(work, (await readdir(work)).find((f) => f.endsWith('.tgz'))!);
  prefix = join(work, 'prefix');
  await mkdir(prefix);
  await npm(['install', '--global', '--prefix', prefix, tarball], work);

  stack = await startStack();
  queues = { video: stack.videoQueue, mp3: uniqueName('mp3'), failed: uniqueName('failed') };
  converter = await startWorker(queues);
  const made = await makeVideo({ seconds: 2 });
  cleanups.push(made.cleanup);
  video = made.path;
});
afterAll(async () => {
  await converter?.worker.stop(1_000);
  await stack?.stop();
  if (queues) await cleanupQueues(queues);
  for (const c of cleanups) await c();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the packed mp3c', () => {
  it('when the tarball is installed with npm and no registry, then it holds the bundle alone and runs', async () => {
    const pkg = join(prefix, 'lib/node_modules/@mp3converter/cli');
    expect((await readdir(pkg)).sort()).toEqual(['README.md', 'dist', 'package.json']);
    expect((await readdir(join(pkg, 'dist'))).sort()).toEqual(['THIRD-PARTY-NOTICES.txt', 'main.js']);
    const { version, dependencies } = JSON.parse(await readFile(join(pkg, 'package.json'), 'utf8'));
    expect(dependencies).toBeUndefined();
    expect(await installed(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    expect((await installed(['completion', 'bash'])).stdout).toMatch(/^complete -o filenames -F _mp3c mp3c$/m);
  });

  it('when run with npx from the tarball in an empty folder, then it runs', async () => {
    const empty = await mkdtemp(join(work, 'npx-'));
    const { stdout } = await npm(['exec', '--yes', `--package=${tarball}`, '--', 'mp3c', '--version'], empty);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('when a script logs in with an API key, uploads, waits and downloads, then the MP3 arrives byte for byte', async () => {
    const owner = await signIn(stack);
    const res = await fetch(`${stack.url}/keys`, {
      method: 'POST',
      headers: { authorization: owner.authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'packed', scopes: ['upload', 'read'] }),
    });
    const { key } = (await res.json()) as { key: string };
    const gateway = `--gateway=${stack.url}`;
    expect(await installed(['login', '--api-key', gateway], `${key}\n`)).toMatchObject({ code: 0 });

    const up = await installed(['upload', video, '--wait', '--json', '--bitrate', '64']);
    expect(up.code, up.stderr).toBe(0);
    const sent = JSON.parse(up.stdout);
    expect(sent.job).toMatchObject({ state: 'done', options: { bitrate: 64 }, mp3_fid: expect.stringMatching(/^[0-9a-f]{24}$/) });

    const down = await installed(['download', sent.video_fid, '-o', join(work, 'talk.mp3')]);
    expect(down.code, down.stderr).toBe(0);
    expect(sha(await readFile(join(work, 'talk.mp3')))).toBe(sha(await readGridFsFile(stack.mongo, 'mp3s', sent.job.mp3_fid)));
    // The same key from the environment alone, on a machine where nothing is kept: the listing sees the job.
    const elsewhere = await mkdtemp(join(work, 'home-'));
    const listed = await runCommand(
      [join(prefix, 'bin/mp3c')],
      ['jobs', '--json', gateway],
      { PATH: dirname(process.execPath), MP3C_API_KEY: key, HOME: elsewhere },
      elsewhere,
    );
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).map((j: { video_fid: string }) => j.video_fid)).toContain(sent.video_fid);
  });
});
