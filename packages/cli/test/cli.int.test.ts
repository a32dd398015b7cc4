import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ObjectId } from '@mp3converter/shared/storage';
import { TcpProxy, makeVideo, pacedFfmpeg, readGridFsFile, uniqueName, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser } from '../../../services/auth/test/helpers.js';
import { type Queues, type Worker, cleanupQueues, startWorker } from '../../../services/converter/test/harness.js';
import { type Stack, drainQueue, startStack } from '../../../services/gateway/test/harness.js';

/**
 * The built mp3c (node dist/main.js) against a real auth, gateway and converter: what a user at a terminal
 * or a script sees, exit codes included. Each test has its own config folder (XDG_CONFIG_HOME) and user.
 */
const root = new URL('../../..', import.meta.url).pathname;
const main = join(root, 'packages/cli/dist/main.js');
const run = promisify(execFile);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let stack: Stack;
/** A second gateway on the same auth and store whose queue no converter reads: its uploads stay as sent. */
let still: Stack;
let queues: Queues;
let converter: Worker;
let work: string;
let short: string;
let long: string;
let big: string;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  await run('pnpm', ['--filter', '@mp3converter/shared', '--filter', '@mp3converter/cli', 'build'], { cwd: root });
  stack = await startStack({ EVENTS_KEEPALIVE_MS: '500' });
  still = await startStack({}, stack);
  queues = { video: stack.videoQueue, mp3: uniqueName('mp3'), failed: uniqueName('failed') };
  // ffmpeg reads at 20 × real time: the 2 s video still takes a tenth of a second, the 20 min one a minute, so
  // a cancel meets that one mid-conversion however fast the machine.
  const paced = await pacedFfmpeg(20);
  cleanups.push(paced.cleanup);
  converter = await startWorker(queues, { FFMPEG_PATH: paced.path });
  work = await mkdtemp(join(tmpdir(), 'mp3c-int-'));
  const [a, b] = await Promise.all([makeVideo({ seconds: 2 }), makeVideo({ seconds: 1200, fps: 1, width: 64, height: 48 })]);
  cleanups.push(a.cleanup, b.cleanup);
  short = a.path;
  long = b.path;
  // A real video's head (the gateway checks the first bytes), then enough bytes for an upload that takes a while.
  big = join(work, 'big.mp4');
  await writeFile(big, Buffer.concat([await readFile(short), randomBytes(8 * 1024 * 1024)]));
});
afterAll(async () => {
  await converter?.worker.stop(1_000);
  await still?.stop();
  await stack?.stop();
  if (queues) await cleanupQueues(queues);
  for (const c of cleanups) await c();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Result {
  code: number | null;
  stdout: string;
  /** stdout as bytes, for binary output. */
  bytes: Buffer;
  stderr: string;
}

interface Session {
  config: string;
  email: string;
  password: string;
  gateway: string;
  /** Runs mp3c to its end. */
  mp3c(args: string[], options?: { input?: string; env?: Record<string, string> }): Promise<Result>;
  /** Starts mp3c; `output()` is what it wrote so far. */
  start(args: string[], env?: Record<string, string>): { child: ReturnType<typeof spawn>; output: () => Result; exited: Promise<Result> };
}

async function session(gateway = stack.url): Promise<Session> {
  const config = await mkdtemp(join(work, 'config-'));
  const { email, password } = await addUser(stack.authConfig);
  const env = (extra: Record<string, string> = {}) => ({ PATH: process.env.PATH ?? '', HOME: work, XDG_CONFIG_HOME: config, MP3C_GATEWAY: gateway, ...extra });
  const start: Session['start'] = (args, extra) => {
    const child = spawn(process.execPath, [main, ...args], { cwd: work, env: env(extra) });
    const chunks: Buffer[] = [];
    const out: Result = { code: null, stdout: '', bytes: Buffer.alloc(0), stderr: '' };
    child.stdout!.on('data', (d: Buffer) => {
      chunks.push(d);
      out.bytes = Buffer.concat(chunks);
      out.stdout = out.bytes.toString();
    });
    child.stderr!.on('data', (d: Buffer) => (out.stderr += d.toString()));
    const exited = new Promise<Result>((resolve) => child.on('close', (code) => resolve({ ...out, code })));
    return { child, output: () => out, exited };
  };
  return {
    config,
    email,
    password,
    gateway,
    start,
    async mp3c(args, { input, env: extra } = {}) {
      const p = start(args, extra);
      p.child.stdin!.end(input ?? '');
      return p.exited;
    },
  };
}

async function loggedIn(gateway?: string): Promise<Session> {
  const s = await session(gateway);
  const res = await s.mp3c(['login', '--email', s.email, '--password-stdin'], { input: `${s.password}\n` });
  expect(res).toMatchObject({ code: 0, stdout: `logged in to ${s.gateway} as ${s.email}\n` });
  return s;
}

const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe('mp3c', () => {
  it('when the password is wrong, then exit 3 and no token is kept; when right, the token is kept readable by its owner alone', async () => {
    const s = await session();
    const wrong = await s.mp3c(['login', '--email', s.email, '--password-stdin'], { input: 'not-the-password\n' });
    expect(wrong).toMatchObject({ code: 3, stdout: '', stderr: 'mp3c: login refused: wrong email or password\n' });
    await expect(stat(join(s.config, 'mp3c/login.json'))).rejects.toThrow(/ENOENT/);

    const right = await s.mp3c(['login', '--email', s.email], { env: { MP3C_PASSWORD: s.password } });
    expect(right.code).toBe(0);
    expect(await mode(join(s.config, 'mp3c'))).toBe(0o700);
    expect(await mode(join(s.config, 'mp3c/login.json'))).toBe(0o600);
    const jobs = await s.mp3c(['jobs', '--json']);
    expect(jobs).toMatchObject({ code: 0, stdout: '[]\n' });
  });

  it('when the token is refused (expired or altered), then any command exits 3 and says to run mp3c login', async () => {
    const s = await loggedIn();
    const file = join(s.config, 'mp3c/login.json');
    const stored = JSON.parse(await readFile(file, 'utf8'));
    stored.logins[s.gateway].token = `${stored.logins[s.gateway].token}x`;
    await writeFile(file, JSON.stringify(stored));
    const res = await s.mp3c(['jobs']);
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/run mp3c login/);
    const none = await (await session()).mp3c(['status', new ObjectId().toHexString()]);
    expect(none).toMatchObject({ code: 3, stderr: `mp3c: not logged in to ${stack.url}: run mp3c login\n` });
  });

  it('when a video is uploaded and watched, then its MP3 is listed and downloads byte for byte, also resumed from a partial file', async () => {
    const s = await loggedIn();
    const up = await s.mp3c(['upload', short, '--bitrate', '96', '--channels', '1']);
    expect(up.code).toBe(0);
    const fid = up.stdout.trim();
    expect(fid).toMatch(/^[0-9a-f]{24}$/);
    expect(up.stderr).toMatch(/video\.mp4: 100%/);

    const watched = await s.mp3c(['status', fid, '--watch', '--json']);
    expect(watched.code).toBe(0);
    const job = JSON.parse(watched.stdout);
    expect(job).toMatchObject({ video_fid: fid, state: 'done', options: { bitrate: 96, channels: 1 }, mp3_fid: expect.stringMatching(/^[0-9a-f]{24}$/) });
    expect(watched.stderr).toMatch(/done/);

    const table = await s.mp3c(['jobs']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^VIDEO_FID\s+STATE\s+CREATED\s+FILENAME$/);
    expect(table.stdout).toMatch(new RegExp(`^${fid}\\s+done\\s+\\S+\\s+video\\.mp4$`, 'm'));

    const mp3 = await readGridFsFile(stack.mongo, 'mp3s', job.mp3_fid);
    const got = await s.mp3c(['download', fid]);
    expect(got).toMatchObject({ code: 0, stdout: 'video.mp3\n' });
    expect(sha(await readFile(join(work, 'video.mp3')))).toBe(sha(mp3));
    const piped = await s.mp3c(['download', fid, '-o', '-']);
    expect(piped.code).toBe(0);
    expect(sha(piped.bytes)).toBe(sha(mp3));

    // A download cut off earlier: the .part holds the first bytes, the rest comes with Range.
    const target = join(work, `${fid}.mp3`);
    await writeFile(`${target}.part`, mp3.subarray(0, 1000));
    const resumed = await s.mp3c(['download', fid, '-o', target, '--json']);
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toEqual({ file: target, mp3_fid: job.mp3_fid, size: mp3.length, resumed_from: 1000 });
    expect(resumed.stderr).toMatch(/resuming at 1000 bytes/);
    expect(sha(await readFile(target))).toBe(sha(mp3));
    await expect(stat(`${target}.part`)).rejects.toThrow(/ENOENT/);

    // A .part of another file of that name: its bytes do not match the MP3's, so it starts again from 0.
    await writeFile(`${target}.part`, randomBytes(1000));
    const fresh = await s.mp3c(['download', fid, '-o', target, '--json']);
    expect(fresh.code).toBe(0);
    expect(JSON.parse(fresh.stdout)).toMatchObject({ size: mp3.length, resumed_from: 0 });
    expect(sha(await readFile(target))).toBe(sha(mp3));
  });

  it('when jobs are downloaded --zip, then one ZIP holds each MP3, resumed from a cut .part while it is the same ZIP, afresh when not', async () => {
    const s = await loggedIn();
    const videos = ['one.mp4', 'two.mp4'].map((name) => join(work, name));
    for (const video of videos) await writeFile(video, await readFile(short));
    const up = await s.mp3c(['upload', ...videos, '--wait']);
    expect(up.code).toBe(0);
    const fids = up.stdout.trim().split('\n');
    expect(fids).toHaveLength(2);

    const target = join(work, `${fids[0]}.zip`);
    const got = await s.mp3c(['download', '--zip', ...fids, '-o', target, '--json']);
    expect(got.code).toBe(0);
    const zip = await readFile(target);
    expect(JSON.parse(got.stdout)).toEqual({ file: target, video_fids: fids, size: zip.length, resumed_from: 0 });
    await expect(stat(`${target}.part.etag`)).rejects.toThrow(/ENOENT/);
    const tested = await run('python3', ['-c', 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print(z.testzip(), z.namelist())', target]);
    expect(tested.stdout.trim()).toBe("None ['one.mp3', 'two.mp3']");
    expect((await run('unzip', ['-tqq', target])).stdout).toBe('');

    // Cut at 3000 bytes with the ZIP's ETag kept: the rest comes with Range and If-Range.
    const token = JSON.parse(await readFile(join(s.config, 'mp3c/login.json'), 'utf8')).logins[s.gateway].token;
    const url = `${s.gateway}/download.zip?fid=${fids[0]}&fid=${fids[1]}`;
    const etag = (await fetch(url, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } })).headers.get('etag')!;
    await writeFile(`${target}.part`, zip.subarray(0, 3000));
    await writeFile(`${target}.part.etag`, etag);
    const resumed = await s.mp3c(['download', '-z', ...fids, '-o', target, '--json']);
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ size: zip.length, resumed_from: 3000 });
    expect(sha(await readFile(target))).toBe(sha(zip));

    // A .part of another ZIP (its ETag another): the gateway sends this one whole.
    await writeFile(`${target}.part`, zip.subarray(0, 3000));
    await writeFile(`${target}.part.etag`, '"another-zip"');
    const afresh = await s.mp3c(['download', '--zip', ...fids, '-o', target, '--json']);
    expect(JSON.parse(afresh.stdout)).toMatchObject({ size: zip.length, resumed_from: 0 });
    expect(sha(await readFile(target))).toBe(sha(zip));
    const piped = await s.mp3c(['download', '--zip', ...fids, '-o', '-']);
    expect(sha(piped.bytes)).toBe(sha(zip));

    expect(await s.mp3c(['download', '--zip', fids[0]!, fids[0]!.toUpperCase()])).toMatchObject({ code: 2 });
    expect(await s.mp3c(['download', '--zip', fids[0]!, 'not-an-id'])).toMatchObject({ code: 2 });
    const unknown = await s.mp3c(['download', '--zip', fids[0]!, new ObjectId().toHexString()]);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(/no such job/);
  });

  it('when a job split by chapters is downloaded by its id, then the ZIP of its parts comes, named after the video', async () => {
    const s = await loggedIn();
    const sections = ['One', 'Two'].map((title, i) => `[CHAPTER]\nTIMEBASE=1/1000\nSTART=${i * 1000}\nEND=${(i + 1) * 1000}\ntitle=${title}\n`);
    const made = await makeVideo({ seconds: 2, container: 'mp3', metadata: `;FFMETADATA1\n${sections.join('')}` });
    cleanups.push(made.cleanup);
    const book = join(work, 'book.mp3');
    await writeFile(book, await readFile(made.path));
    const up = await s.mp3c(['upload', book, '--split', 'chapters', '--wait']);
    expect(up.code).toBe(0);
    const fid = up.stdout.trim();

    const got = await s.mp3c(['download', fid]);
    expect(got).toMatchObject({ code: 0, stdout: 'book.zip\n' });
    const target = join(work, 'book.zip');
    const zip = await readFile(target);
    const tested = await run('python3', ['-c', 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print(z.testzip(), z.namelist())', target]);
    expect(tested.stdout.trim()).toBe("None ['01 - One.mp3', '02 - Two.mp3']");
    const json = await s.mp3c(['download', fid, '-o', join(work, 'again.zip'), '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ file: join(work, 'again.zip'), video_fids: [fid], size: zip.length, resumed_from: 0 });
  });

  it('when a converting job is cancelled, then cancel exits 0 and status --watch exits 5 with the job cancelled; an unknown job is 4', async () => {
    const s = await loggedIn();
    const fid = (await s.mp3c(['upload', long])).stdout.trim();
    await waitFor(
      async () => {
        const job = JSON.parse((await s.mp3c(['status', fid, '--json'])).stdout);
        return job.state === 'converting' && job.percent > 0;
      },
      { timeoutMs: 30_000, what: 'the job to be mid-conversion' },
    );
    const cancelled = await s.mp3c(['cancel', fid]);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toMatch(new RegExp(`^${fid}: (cancelled|cancel requested)`));
    const watched = await s.mp3c(['status', fid, '--watch']);
    expect(watched.code).toBe(5);
    expect(watched.stdout).toMatch(/^state\s+cancelled$/m);
    expect((await s.mp3c(['cancel', fid])).code).toBe(0);
    const download = await s.mp3c(['download', fid]);
    expect(download).toMatchObject({ code: 5, stderr: `mp3c: ${fid}: the job was cancelled; there is no MP3\n` });
    const other = new ObjectId().toHexString();
    const unknown = await s.mp3c(['status', other]);
    expect(unknown).toMatchObject({ code: 4, stderr: `mp3c: ${other}: no such job\n` });
  });

  it('when an upload is interrupted with Ctrl-C, then it exits 130, and the same command again resumes from the offset the gateway holds', async () => {
    const s = await loggedIn(still.url);
    const data = await readFile(big);
    const first = s.start(['upload', big, '--chunk-size', '64k']);
    // Interrupted once some bytes went, not after a guessed time.
    await waitFor(() => /big\.mp4: ([1-9]\d)%/.test(first.output().stderr), { timeoutMs: 60_000, what: 'a progress line past 10%' });
    first.child.kill('SIGINT');
    const stopped = await first.exited;
    expect(stopped.code).toBe(130);
    expect(stopped.stdout).toBe('');
    expect(stopped.stderr).toMatch(/interrupted: run the same command again to resume big\.mp4/);

    // The login ran out meanwhile: refused (exit 3), and the unfinished upload is not forgotten for it.
    const file = join(s.config, 'mp3c/login.json');
    const good = await readFile(file, 'utf8');
    const stored = JSON.parse(good);
    stored.logins[s.gateway].token = `${stored.logins[s.gateway].token}x`;
    await writeFile(file, JSON.stringify(stored));
    const refused = await s.mp3c(['upload', big, '--chunk-size', '64k']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/run mp3c login, then the same upload again to resume/);
    expect(Object.keys(JSON.parse(await readFile(join(s.config, 'mp3c/uploads.json'), 'utf8')))).toHaveLength(1);
    await writeFile(file, good);

    const second = await s.mp3c(['upload', big, '--chunk-size', '64k', '--json']);
    expect(second.code).toBe(0);
    const resumedAt = Number(/resuming at (\d+) bytes/.exec(second.stderr)?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThan(data.length);
    const sent = JSON.parse(second.stdout);
    expect(sent).toMatchObject({ name: 'big.mp4', size: data.length, resumed_from: resumedAt });
    expect(sha(await readGridFsFile(still.mongo, 'videos', sent.video_fid))).toBe(sha(data));
    expect(await drainQueue(still.videoQueue)).toHaveLength(1);
    // Finished: the same file again is a new upload, not a resume of the old one.
    expect(JSON.parse(await readFile(join(s.config, 'mp3c/uploads.json'), 'utf8'))).toEqual({});
  });

  it('when the connection drops mid-upload, then the upload retries, resumes from the offset the gateway holds and ends whole', async () => {
    const port = Number(new URL(still.url).port);
    const proxy = await new TcpProxy('127.0.0.1', port).start();
    try {
      const s = await loggedIn(`http://127.0.0.1:${proxy.port}`);
      const data = await readFile(big);
      const upload = s.start(['upload', big, '--chunk-size', '64k', '--json']);
      await waitFor(() => /big\.mp4: ([1-9]\d)%/.test(upload.output().stderr), { timeoutMs: 60_000, what: 'a progress line past 10%' });
      // Every connection cut and new ones refused, as a network that goes away; back a moment later.
      await proxy.stop();
      await proxy.start();
      const done = await upload.exited;
      expect(done.code).toBe(0);
      expect(done.stderr).toMatch(/big\.mp4: resuming at [1-9]\d* bytes/);
      const sent = JSON.parse(done.stdout);
      // This run began at 0; the resume was inside it.
      expect(sent.resumed_from).toBe(0);
      expect(sha(await readGridFsFile(still.mongo, 'videos', sent.video_fid))).toBe(sha(data));
      expect(await drainQueue(still.videoQueue)).toHaveLength(1);
    } finally {
      await proxy.stop();
    }
  });

  it('when an upload asks to --wait, then it follows the job and prints it with the id once done', async () => {
    const s = await loggedIn();
    const res = await s.mp3c(['upload', short, '--wait', '--json', '--quality', '7']);
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout);
    expect(out).toMatchObject({ name: 'video.mp4', resumed_from: 0, job: { video_fid: out.video_fid, state: 'done', options: { quality: 7 } } });
    const bad = await s.mp3c(['upload', short, '--channels', '3']);
    expect(bad).toMatchObject({ code: 2, stdout: '' });
    expect(bad.stderr).toMatch(/^mp3c: bad conversion options: --channels: one of 1, 2/);
  });
});
