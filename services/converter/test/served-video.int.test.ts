import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { GridFSBucket, type MongoClient, ObjectId } from '@mp3converter/shared/storage';
import { encodeMessage } from '@mp3converter/shared/contracts';
import { publishRaw, storeGridFsFile, uniqueEmail, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FfmpegTranscoder } from '../src/adapters/ffmpeg.transcoder.js';
import { GridFsVideoSource } from '../src/adapters/gridfs-video.source.js';
import { planEncoding } from '../src/domain/encoding-plan.js';
import { mediaLimits } from '../src/domain/media-limits.js';
import { PermanentFailure, type ServedVideo, TransientFailure } from '../src/domain/ports.js';
import {
  type Queues,
  type Worker,
  cleanupQueues,
  convertToEnd,
  mongoClient,
  newQueues,
  rabbitUrl,
  slowTool,
  startWorker,
  storeVideoAsGateway,
} from './harness.js';

const run = promisify(execFile);
/** One MP3 frame at 44.1 kHz, s: the precision a length is checked to. */
const FRAME_SECONDS = 1152 / 44100;
/** The long source: this many copies of a one-minute clip, joined without re-encoding. */
const MINUTES = 16;

let dir: string;
let mongo: MongoClient;
let videos: GridFsVideoSource;
let long: Buffer;
let longFid: string;
const transcoder = new FfmpegTranscoder({
  ffmpegPath: 'ffmpeg',
  ffprobePath: 'ffprobe',
  timeoutMs: 120_000,
  probeTimeoutMs: 30_000,
  limits: mediaLimits(3600),
});

const serve = (fid: string, signal = new AbortController().signal) =>
  videos.info(fid).then((info) => videos.serve(fid, info!, { signal, readTimeoutMs: 10_000 }));

/** An HTTP request to the server's port, with whatever path, method and headers a test chooses. */
async function ask(url: string, { path, method = 'GET', headers = {} }: { path?: string; method?: string; headers?: Record<string, string> } = {}) {
  const target = new URL(url);
  const req = request({ host: target.hostname, port: target.port, path: path ?? target.pathname, method, headers, agent: false });
  req.end();
  const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
}

/** Whether anything accepts a TCP connection at host:port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The TCP ports this process listens on (from /proc: its sockets' inodes in LISTEN state). */
async function listeningPorts(): Promise<Set<number>> {
  const inodes = new Set<string>();
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode) inodes.add(inode);
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const lines = (await readFile(table, 'utf8').catch(() => '')).split('\n').slice(1);
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && inodes.has(f[9] ?? '')) ports.add(Number.parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

/** The length of an MP3 as decoded, s: its samples at 44.1 kHz. */
async function decodedSeconds(path: string): Promise<number> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', path, '-map', '0:a', '-ac', '1', '-ar', '44100', '-f', 's16le', 'pipe:1'], {
    maxBuffer: 1 << 26,
    encoding: 'buffer',
  });
  return stdout.length / 2 / 44100;
}

const newPorts = async (before: Set<number>) => [...(await listeningPorts())].filter((p) => !before.has(p));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trim-served-test-'));
  // A minute of moving picture (x264 at 200 kbit/s) and a tone, joined MINUTES times: a long source of
  // which the audio is a small part, as in most videos.
  await run('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15:duration=60', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=60'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '200k', '-c:a', 'aac', '-b:a', '64k', '-shortest', '-y', join(dir, 'minute.mp4')],
  ]);
  await writeFile(join(dir, 'copies.txt'), 'file minute.mp4\n'.repeat(MINUTES));
  await run('ffmpeg', ['-v', 'error', '-f', 'concat', '-safe', '0', '-i', join(dir, 'copies.txt'), '-c', 'copy', '-y', join(dir, 'long.mp4')]);
  long = await readFile(join(dir, 'long.mp4'));
  mongo = mongoClient();
  videos = new GridFsVideoSource(new GridFSBucket(mongo.db('videos')), mongo.db('videos'));
  longFid = await storeGridFsFile(mongo, 'videos', long);
}, 120_000);
afterAll(async () => {
  await mongo.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a video served to ffmpeg by byte ranges', () => {
  it('when a late minute is cut from a long video, then ffmpeg reads a small part of its bytes, and the MP3 is that minute, to a frame', async () => {
    const served = await serve(longFid);
    const output = join(dir, 'cut.mp3');
    try {
      const source = await transcoder.probe({ served }, new AbortController().signal);
      expect(source.durationSeconds).toBeCloseTo(MINUTES * 60, 0);
      expect(source.sizeBytes).toBe(long.length);
      const plan = planEncoding({ start: (MINUTES - 3) * 60, end: (MINUTES - 2) * 60, tags: 'drop' }, source, { vbrQuality: 4 });
      await transcoder.toMp3({ served }, output, plan, new AbortController().signal);
    } finally {
      await served.close();
    }
    expect(Math.abs((await decodedSeconds(output)) - 60)).toBeLessThanOrEqual(FRAME_SECONDS);
    // The minute kept is 1/16 of the file; the head, the index at the end and what a connection had
    // buffered when ffmpeg dropped it to seek come on top.
    expect(served.bytesServed).toBeGreaterThan(0);
    expect(served.bytesServed / long.length).toBeLessThan(0.25);
  });

  it('when asked for a range, then it answers those bytes; past the end, 416; HEAD gives the length and no body', async () => {
    const served = await serve(longFid);
    try {
      const part = await ask(served.url, { headers: { range: 'bytes=300000-300099' } });
      expect(part.status).toBe(206);
      expect(part.headers['content-range']).toBe(`bytes 300000-300099/${long.length}`);
      expect(part.body.equals(long.subarray(300_000, 300_100))).toBe(true);
      const tail = await ask(served.url, { headers: { range: `bytes=${long.length - 10}-` } });
      expect(tail.body.equals(long.subarray(long.length - 10))).toBe(true);
      expect((await ask(served.url, { headers: { range: `bytes=${long.length}-` } })).status).toBe(416);
      const head = await ask(served.url, { method: 'HEAD' });
      expect([head.status, head.headers['content-length'], head.headers['accept-ranges'], head.body.length]).toEqual([200, String(long.length), 'bytes', 0]);
    } finally {
      await served.close();
    }
  });

  it('when asked for another path, with another method or under another name, then it refuses and sends nothing of the video', async () => {
    const served = await serve(longFid);
    const { port, pathname } = new URL(served.url);
    try {
      expect(new URL(served.url).hostname).toBe('127.0.0.1');
      expect(pathname).toMatch(/^\/[A-Za-z0-9_-]{32}$/);
      for (const path of ['/', `${pathname}/`, `${pathname}x`, pathname.slice(0, -1), `${pathname}?a=1`, `/..${pathname}`, `//${pathname}`]) {
        expect((await ask(served.url, { path })).status, path).toBe(404);
      }
      expect((await ask(served.url, { method: 'POST' })).status).toBe(405);
      expect((await ask(served.url, { method: 'PUT' })).status).toBe(405);
      // A page on this machine led to it under a name of its own (DNS rebinding) sends that name as Host.
      expect((await ask(served.url, { headers: { host: `attacker.example:${port}` } })).status).toBe(404);
      expect((await ask(served.url, { headers: { host: `localhost:${port}` } })).status).toBe(404);
      expect(served.bytesServed).toBe(0);
    } finally {
      await served.close();
    }
  });

  it('when another host tries to reach it, then there is nothing to connect to: it listens on loopback only', async () => {
    const served = await serve(longFid);
    const port = Number(new URL(served.url).port);
    try {
      const external = Object.values(networkInterfaces())
        .flat()
        .filter((a) => a !== undefined && !a.internal)
        .map((a) => a!.address);
      expect(await accepts('127.0.0.1', port)).toBe(true);
      for (const address of external) expect(await accepts(address, port), address).toBe(false);
    } finally {
      await served.close();
    }
  });

  it('when it is closed, or the job is aborted, then its port is closed, a download under way ends, and ffmpeg gets nothing more', async () => {
    const served = await serve(longFid);
    const port = Number(new URL(served.url).port);
    const target = new URL(served.url);
    const req = request({ host: target.hostname, port, path: target.pathname, agent: false });
    req.end();
    const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
    await once(res, 'data');
    // Left unread, the download stalls part-way; read again once the server is closed, it ends cut short.
    res.pause();
    await served.close();
    const ended = new Promise((resolve) => {
      res.once('close', resolve);
      res.once('error', resolve);
    });
    res.resume();
    await ended;
    expect(res.complete).toBe(false);
    expect(await accepts('127.0.0.1', port)).toBe(false);

    const abort = new AbortController();
    const second = await serve(longFid, abort.signal);
    const secondPort = Number(new URL(second.url).port);
    expect(await accepts('127.0.0.1', secondPort)).toBe(true);
    abort.abort(new Error('cancelled'));
    await waitFor(async () => !(await accepts('127.0.0.1', secondPort)), { what: 'the port closed on abort' });
  });

  it('when reading the store fails under ffmpeg, then the run fails as a transient failure, not as a fault of the file', async () => {
    const fid = await storeGridFsFile(mongo, 'videos', long);
    const served: ServedVideo = await serve(fid);
    try {
      const source = await transcoder.probe({ served }, new AbortController().signal);
      const plan = planEncoding({ start: (MINUTES - 3) * 60, end: (MINUTES - 2) * 60, tags: 'drop' }, source, { vbrQuality: 4 });
      // The chunks the cut needs go away after the probe (as a store losing them would).
      await mongo
        .db('videos')
        .collection('fs.chunks')
        .deleteMany({ files_id: new ObjectId(fid), n: { $gte: Math.floor((long.length * 0.5) / (255 * 1024)) } });
      const failure = await transcoder.toMp3({ served }, join(dir, 'lost.mp3'), plan, new AbortController().signal).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(TransientFailure);
      expect(failure).not.toBeInstanceOf(PermanentFailure);
      expect(served.error).toBeDefined();
    } finally {
      await served.close();
    }
  });
});

describe('a job that cuts late, through the worker', () => {
  let q: Queues;
  let w: Worker;
  beforeAll(async () => {
    q = newQueues();
    w = await startWorker(q);
  });
  afterAll(async () => {
    await w.worker.stop(1_000);
    await cleanupQueues(q);
  });

  const doneLine = (fid: string) => w.lines().find((line) => line.videoFid === fid && line.msg === 'conversion done');

  it('when a late minute is cut, then the job reads a small part of the video, copies nothing, and leaves no server listening', async () => {
    const before = await listeningPorts();
    const { job, mp3 } = await convertToEnd(mongo, q.video, long, { options: { start: (MINUTES - 2) * 60, end: (MINUTES - 1) * 60 }, timeoutMs: 120_000 });
    expect(job.state).toBe('done');
    const path = join(dir, 'job.mp3');
    await writeFile(path, mp3!);
    expect(Math.abs((await decodedSeconds(path)) - 60)).toBeLessThanOrEqual(FRAME_SECONDS);
    const read = doneLine(job.videoFid)?.read as { served: number; copied: number; of: number };
    expect(read.copied).toBe(0);
    expect(read.of).toBe(long.length);
    expect(read.served / long.length).toBeLessThan(0.25);
    expect(await newPorts(before)).toEqual([]);
  });

  it('when the file fails, then the server is closed as the job fails', async () => {
    const before = await listeningPorts();
    const { job } = await convertToEnd(mongo, q.video, Buffer.from('not a video at all'.repeat(1000)), { options: { start: 5 } });
    expect(job.state).toBe('failed');
    expect(await newPorts(before)).toEqual([]);
  });

  it('when the owner cancels while ffmpeg reads the served video, then the server is closed with the job', async () => {
    const slow = await slowTool('ffprobe', 30);
    const q2 = newQueues();
    const w2 = await startWorker(q2, { FFPROBE_PATH: slow.path, JOB_LEASE_MS: '1000' });
    const before = await listeningPorts();
    const owner = uniqueEmail();
    const fid = await storeVideoAsGateway(mongo, long, owner);
    try {
      await publishRaw(rabbitUrl(), q2.video, encodeMessage({ video_fid: fid, mp3_fid: null, username: owner, options: { start: 60 } }));
      const [port] = await waitFor(
        async () => {
          const ports = await newPorts(before);
          return ports.length > 0 ? ports : undefined;
        },
        { what: 'the served video listening' },
      );
      expect(await accepts('127.0.0.1', port!)).toBe(true);
      await mongoJobStore(mongo).requestCancel(fid);
      await waitFor(async () => (await mongoJobStore(mongo).get(fid))?.state === 'cancelled', { timeoutMs: 15_000, what: 'the job cancelled' });
      await waitFor(async () => (await newPorts(before)).length === 0, { what: 'no server left listening' });
      expect(await accepts('127.0.0.1', port!)).toBe(false);
    } finally {
      await w2.worker.stop(1_000);
      await cleanupQueues(q2);
      await rm(slow.dir, { recursive: true, force: true });
    }
  });
});
