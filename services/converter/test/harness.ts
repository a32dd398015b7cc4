import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, writeFile, chmod, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { encodeMessage } from '@mp3converter/shared/contracts';
import type { Job } from '@mp3converter/shared/jobs';
import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { type MongoClient, createMongoClient } from '@mp3converter/shared/storage';
import {
  type QueuedMessage,
  captureLogger,
  deleteQueues,
  drainQueue,
  publishRaw,
  readGridFsFile,
  storeGridFsFile,
  testLogger,
  uniqueEmail,
  uniqueName,
  waitFor,
} from '@mp3converter/shared/testing';
import { inject } from 'vitest';
import { loadConfig } from '../src/config.js';
import { mp3IdFor } from '../src/domain/mp3-id.js';
import { type ConverterWorker, startConverterWorker } from '../src/worker.js';

export interface Queues {
  video: string;
  mp3: string;
  failed: string;
}

export const newQueues = (): Queues => ({ video: uniqueName('video'), mp3: uniqueName('mp3'), failed: uniqueName('failed') });

export const allQueues = (q: Queues, retryDelays: number[] = [200, 400]) => [
  q.video,
  q.mp3,
  q.failed,
  `${q.video}.dead`,
  ...retryDelays.map((d) => `${q.video}.retry.${d}ms`),
];

export interface Worker {
  worker: ConverterWorker;
  tmpDir: string;
  lines: () => Record<string, unknown>[];
}

/** A converter on its own queues and temp folder; retries after 200 and 400 ms unless told otherwise. */
export async function startWorker(queues: Queues, env: Record<string, string> = {}): Promise<Worker> {
  const servers = inject('servers');
  const tmpDir = await mkdtemp(join(tmpdir(), 'converter-test-'));
  const { logger, lines } = process.env.TEST_LOG_LEVEL ? { logger: testLogger('converter'), lines: () => [] } : captureLogger('converter');
  const worker = await startConverterWorker(
    loadConfig({
      HEALTH_PORT: '0',
      MONGODB_URI: servers.mongoUrl,
      RABBITMQ_URL: servers.rabbitUrl,
      VIDEO_QUEUE: queues.video,
      MP3_QUEUE: queues.mp3,
      FAILED_QUEUE: queues.failed,
      RETRY_DELAYS_MS: '200,400',
      JOB_LEASE_MS: '5000',
      TMP_DIR: tmpDir,
      ...env,
    }),
    logger,
  );
  await worker.amqp.start();
  return { worker, tmpDir, lines };
}

export const mongoClient = (): MongoClient => createMongoClient(inject('servers').mongoUrl, 'converter-test');

/** Stores a video as our gateway does: filename, owner in metadata, and a queued job. */
export async function storeVideoAsGateway(mongo: MongoClient, data: Buffer, owner: string, filename = 'clip.mp4'): Promise<string> {
  const fid = await storeGridFsFile(mongo, 'videos', data, { filename, metadata: { owner, contentType: 'video/mp4' } });
  await mongoJobStore(mongo).create({ videoFid: fid, owner, filename, size: data.length, contentType: 'video/mp4' });
  return fid;
}

/**
 * Stores `data` as our gateway does, sends its message (with `options` when given) and waits for its job to
 * end: the job, and its MP3 when done.
 */
export async function convertToEnd(
  mongo: MongoClient,
  queue: string,
  data: Buffer,
  { options, filename = 'clip.mp4', timeoutMs = 60_000 }: { options?: Record<string, unknown>; filename?: string; timeoutMs?: number } = {},
): Promise<{ job: Job; mp3?: Buffer }> {
  const owner = uniqueEmail();
  const fid = await storeVideoAsGateway(mongo, data, owner, filename);
  await publishRaw(rabbitUrl(), queue, encodeMessage({ video_fid: fid, mp3_fid: null, username: owner, ...(options ? { options } : {}) }));
  const job = await waitFor(
    async () => {
      const got = await mongoJobStore(mongo).get(fid);
      return got?.state === 'done' || got?.state === 'failed' ? got : undefined;
    },
    { timeoutMs, what: `job ${fid} to end` },
  );
  return job.state === 'done' ? { job, mp3: await readGridFsFile(mongo, 'mp3s', mp3IdFor(fid)) } : { job };
}

/** Stores a video as the original's gateway did: no filename, no metadata, no job. */
export const storeVideoAsOriginal = (mongo: MongoClient, data: Buffer): Promise<string> => storeGridFsFile(mongo, 'videos', data);

export const rabbitUrl = () => inject('servers').rabbitUrl;

export const publishVideo = (queue: string, videoFid: string, username: string) =>
  publishRaw(rabbitUrl(), queue, encodeMessage({ video_fid: videoFid, mp3_fid: null, username }));

/** Collects messages from `queue` until `count` have arrived. */
export async function collect(queue: string, count: number, timeoutMs = 30_000): Promise<QueuedMessage[]> {
  const got: QueuedMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < count) {
    if (Date.now() > deadline) throw new Error(`only ${got.length} of ${count} messages on ${queue} after ${timeoutMs} ms`);
    got.push(...(await drainQueue(rabbitUrl(), queue)));
    if (got.length < count) await new Promise((r) => setTimeout(r, 100));
  }
  return got;
}

export const cleanupQueues = (q: Queues) => deleteQueues(rabbitUrl(), ...allQueues(q));

export const tmpEntries = (dir: string) => readdir(dir);

/** A real ffmpeg that waits `seconds` first: a slow conversion, for timeout and shutdown tests. */
export async function slowFfmpeg(seconds: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'slow-ffmpeg-'));
  const path = join(dir, 'ffmpeg');
  // sleep must not hold ffmpeg's output pipes, or killing the script would not close them
  await writeFile(path, `#!/bin/sh\nsleep ${seconds} </dev/null >/dev/null 2>&1\nexec ffmpeg "$@"\n`);
  await chmod(path, 0o755);
  return path;
}

const run = promisify(execFile);

/** Command lines of the running processes that mention `text` (a worker's temp folder, a wrapper's folder). */
export async function processesMentioning(text: string): Promise<string[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
  return stdout.split('\n').filter((line) => line.includes(text) && !/\bps -eo\b/.test(line));
}

/**
 * A wrapper around the real `tool` (ffmpeg or ffprobe) that first sleeps `seconds`, through a `nap` link in
 * its own folder, so a test sees from the process list whether anything of it is still running.
 */
export async function slowTool(tool: 'ffmpeg' | 'ffprobe', seconds: number): Promise<{ path: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), `slow-${tool}-`));
  const { stdout } = await run('sh', ['-c', 'command -v sleep']);
  await symlink(stdout.trim(), join(dir, 'nap'));
  const path = join(dir, tool);
  await writeFile(path, `#!/bin/sh\n"${dir}/nap" ${seconds} </dev/null >/dev/null 2>&1\nexec ${tool} "$@"\n`);
  await chmod(path, 0o755);
  return { path, dir };
}

/** A wrapper around the real `tool` that appends the environment it was given to `envFile`, then runs the tool. */
export async function envRecordingTool(tool: 'ffmpeg' | 'ffprobe'): Promise<{ path: string; envFile: string }> {
  const dir = await mkdtemp(join(tmpdir(), `env-${tool}-`));
  const path = join(dir, tool);
  const envFile = join(dir, 'env');
  await writeFile(path, `#!/bin/sh\nenv >> "${envFile}"\necho --- >> "${envFile}"\nexec ${tool} "$@"\n`);
  await chmod(path, 0o755);
  return { path, envFile };
}

const root = new URL('../../..', import.meta.url).pathname;

/**
 * A converter in a process of its own (the TypeScript sources through tsx), for what only a real process
 * shows: being killed mid-job. `kill()` ends it with SIGKILL, as an OOM kill or an evicted pod would.
 */
export function spawnWorker(queues: Queues, env: Record<string, string> = {}): { exited: Promise<number | null>; kill: () => void } {
  const servers = inject('servers');
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'services/converter/src/main.ts'], {
    cwd: root,
    stdio: ['ignore', 'ignore', process.env.TEST_LOG_LEVEL ? 'inherit' : 'ignore'],
    env: {
      PATH: process.env.PATH,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      HEALTH_PORT: '0',
      MONGODB_URI: servers.mongoUrl,
      RABBITMQ_URL: servers.rabbitUrl,
      VIDEO_QUEUE: queues.video,
      MP3_QUEUE: queues.mp3,
      FAILED_QUEUE: queues.failed,
      RETRY_DELAYS_MS: '200,400',
      JOB_LEASE_MS: '1000',
      ...env,
    },
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { exited, kill: () => child.kill('SIGKILL') };
}
