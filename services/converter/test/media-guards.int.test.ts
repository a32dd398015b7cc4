import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ObjectId } from 'mongodb';
import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import type { MongoClient } from '@mp3converter/shared/storage';
import { hostileCorpus, makeVideo, probe, readGridFsFile, understatedAac, uniqueEmail, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mp3IdFor } from '../src/domain/mp3-id.js';
import {
  type Queues,
  type Worker,
  cleanupQueues,
  collect,
  envRecordingTool,
  mongoClient,
  newQueues,
  processesMentioning,
  publishVideo,
  slowTool,
  startWorker,
  storeVideoAsGateway,
  tmpEntries,
} from './harness.js';

const run = promisify(execFile);

/** Media files on the converter's own disk that no upload may pull into its MP3: a 1234 Hz tone. */
const localDir = await mkdtemp(join(tmpdir(), 'local-media-'));
const local = { ts: join(localDir, 'local.ts'), mp4: join(localDir, 'local.mp4') };
for (const path of [local.ts, local.mp4]) {
  await run('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=1234:duration=3',
    '-c:a',
    path.endsWith('.ts') ? 'mp2' : 'aac',
    path,
  ]);
}
const corpus = await hostileCorpus(local);

const PLAYLIST = (demuxer: string) => `the file is a playlist or manifest (${demuxer}), which is not accepted`;
const UNREADABLE = 'the file is not a video or audio file that can be read';
/** What each hostile file now fails with: ffmpeg names the demuxer it refused; behind a RIFF header it sees a broken WAV. */
const expectedReason: Record<string, string> = {
  'a live HLS playlist with an inline data: segment, behind an ID3 tag': PLAYLIST('hls'),
  'a live HLS playlist with an inline data: segment': PLAYLIST('hls'),
  'an HLS playlist of a local file, behind an ID3 tag': PLAYLIST('hls'),
  'an HLS playlist of a local file, behind a RIFF header': UNREADABLE,
  'a DASH manifest of a local file, behind an ID3 tag': PLAYLIST('dash'),
  'a DASH manifest of a local file, behind a RIFF header': PLAYLIST('dash'),
  'an ffconcat list of a local file, behind an ID3 tag': PLAYLIST('concat'),
  'an ffconcat list of a local file, behind a RIFF header': UNREADABLE,
};

let mongo: MongoClient;
let tone: Buffer;
const jobOf = (fid: string) => mongoJobStore(mongo).get(fid);
const mp3Count = (fid: string) =>
  mongo
    .db('mp3s')
    .collection('fs.files')
    .countDocuments({ $or: [{ _id: new ObjectId(mp3IdFor(fid)) }, { 'metadata.videoFid': fid }] });
const failedJob = (fid: string, timeoutMs = 20_000) =>
  waitFor(
    async () => {
      const job = await jobOf(fid);
      return job?.state === 'failed' ? job : undefined;
    },
    { timeoutMs, what: `job ${fid} to fail` },
  );

beforeAll(async () => {
  mongo = mongoClient();
  const made = await makeVideo({ seconds: 4 });
  tone = await readFile(made.path);
  await made.cleanup();
});
afterAll(async () => {
  await mongo.close();
  await rm(localDir, { recursive: true, force: true });
});

describe('hostile uploads', () => {
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

  it('the corpus covers every case the expectations name', () => {
    expect(corpus.map((c) => c.name).sort()).toEqual(Object.keys(expectedReason).sort());
  });

  it.each(corpus.map((c) => [c.name, c.data] as const))(
    'when the upload is %s, then the job fails with its reason within seconds, no MP3 is made and no ffmpeg or ffprobe is left',
    async (name, data) => {
      const owner = uniqueEmail();
      const fid = await storeVideoAsGateway(mongo, data, owner, 'song.mp3');
      await publishVideo(q.video, fid, owner);
      const job = await failedJob(fid);
      expect(job.reason).toBe(expectedReason[name]);
      expect(await mp3Count(fid)).toBe(0);
      expect(await processesMentioning(w.tmpDir)).toEqual([]);
      await waitFor(async () => (await tmpEntries(w.tmpDir)).length === 0, { what: 'an empty temp folder' });
    },
  );

  it('when all of them arrive at once and an ordinary video right after, then every one fails, the video converts, and no local file reached an MP3', async () => {
    const owner = uniqueEmail();
    const hostile: string[] = [];
    for (const { data } of corpus) {
      const fid = await storeVideoAsGateway(mongo, data, owner, 'song.mp3');
      await publishVideo(q.video, fid, owner);
      hostile.push(fid);
    }
    const ordinary = await storeVideoAsGateway(mongo, tone, owner, 'ordinary.mp4');
    await publishVideo(q.video, ordinary, owner);

    const [message] = await collect(q.mp3, 1, 30_000);
    expect(message!.body.video_fid).toBe(ordinary);
    for (const fid of hostile) {
      expect((await failedJob(fid)).reason).toBeTruthy();
      expect(await mp3Count(fid)).toBe(0);
    }
    // The one MP3 is the ordinary video's 4 s, not a local file's 3 s.
    const path = join(w.tmpDir, '..', `check-${ordinary}.mp3`);
    await writeFile(path, await readGridFsFile(mongo, 'mp3s', mp3IdFor(ordinary)));
    const mp3 = await probe(path);
    await rm(path);
    expect(mp3.durationSeconds).toBeCloseTo(4, 0);
    expect(await processesMentioning(w.tmpDir)).toEqual([]);
  });
});

describe('containers outside the list', () => {
  it('when the upload is a PNG image, then the job fails naming the format, at the first ffprobe, and no MP3 is made', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'png-'));
    const path = join(dir, 'picture.png');
    await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'color=c=red:s=64x64', '-frames:v', '1', path]);
    const png = await readFile(path);
    await rm(dir, { recursive: true, force: true });
    const q = newQueues();
    const w = await startWorker(q);
    try {
      const owner = uniqueEmail();
      const fid = await storeVideoAsGateway(mongo, png, owner, 'picture.png');
      await publishVideo(q.video, fid, owner);
      const job = await failedJob(fid);
      expect(job.reason).toBe("the file's format (png_pipe) is not supported");
      expect(job.attempts).toBe(1);
      expect(await mp3Count(fid)).toBe(0);
      const [notice] = await collect(q.failed, 1);
      expect(notice!.body).toMatchObject({ video_fid: fid, status: 'failed', reason: "the file's format (png_pipe) is not supported" });
    } finally {
      await w.worker.stop(1_000);
      await cleanupQueues(q);
    }
  });
});

describe('limits on what a job may cost', () => {
  it('when the source says it is longer than MAX_DURATION_SECONDS, then the job fails at once, naming the limit', async () => {
    const q = newQueues();
    const w = await startWorker(q, { MAX_DURATION_SECONDS: '2' });
    try {
      const owner = uniqueEmail();
      const fid = await storeVideoAsGateway(mongo, tone, owner);
      await publishVideo(q.video, fid, owner);
      expect((await failedJob(fid)).reason).toBe('the video is longer than the limit of 2 s');
      expect(await mp3Count(fid)).toBe(0);
    } finally {
      await w.worker.stop(1_000);
      await cleanupQueues(q);
    }
  });

  it('when the source understates its length, then ffmpeg stops past the limit and the job fails, naming the limit', async () => {
    const data = await understatedAac(60);
    const q = newQueues();
    const w = await startWorker(q, { MAX_DURATION_SECONDS: '10' });
    try {
      const owner = uniqueEmail();
      const fid = await storeVideoAsGateway(mongo, data, owner, 'noise.aac');
      await publishVideo(q.video, fid, owner);
      expect((await failedJob(fid)).reason).toBe('the video is longer than the limit of 10 s');
      expect(await mp3Count(fid)).toBe(0);
    } finally {
      await w.worker.stop(1_000);
      await cleanupQueues(q);
    }
  });

  it('when the MP3 would pass MAX_OUTPUT_BYTES, then ffmpeg stops writing there and the job fails, naming the limit', async () => {
    const q = newQueues();
    const w = await startWorker(q, { MAX_OUTPUT_BYTES: '20000' });
    try {
      const owner = uniqueEmail();
      const fid = await storeVideoAsGateway(mongo, tone, owner);
      await publishVideo(q.video, fid, owner);
      expect((await failedJob(fid)).reason).toBe('the MP3 would be larger than the limit of 19.5 KiB');
      expect(await mp3Count(fid)).toBe(0);
      await waitFor(async () => (await tmpEntries(w.tmpDir)).length === 0, { what: 'an empty temp folder' });
    } finally {
      await w.worker.stop(1_000);
      await cleanupQueues(q);
    }
  });
});

describe('child processes', () => {
  it('when ffprobe runs past FFPROBE_TIMEOUT_MS, then it is killed with everything it started, retried like any transient failure, and the job fails once the attempts run out', async () => {
    const slow = await slowTool('ffprobe', 30);
    const q = newQueues();
    const w = await startWorker(q, { FFPROBE_PATH: slow.path, FFPROBE_TIMEOUT_MS: '1000' });
    try {
      const owner = uniqueEmail();
      const fid = await storeVideoAsGateway(mongo, tone, owner);
      await publishVideo(q.video, fid, owner);
      await waitFor(async () => (await processesMentioning(slow.dir)).length > 0, { what: 'the slow ffprobe to start' });
      const job = await failedJob(fid, 30_000);
      expect(job.reason).toContain('reading the file took longer than 1 s');
      // Retried like any transient failure: every attempt timed out, then the job was given up on.
      expect(job.reason).toMatch(/^gave up after 3 attempts: reading the file took longer than 1 s/);
      expect(job.attempts).toBe(3);
      expect(await processesMentioning(slow.dir)).toEqual([]);
      expect(await processesMentioning(w.tmpDir)).toEqual([]);
    } finally {
      await w.worker.stop(1_000);
      await cleanupQueues(q);
      await rm(slow.dir, { recursive: true, force: true });
    }
  });

  it('when the worker stops while ffprobe runs, then ffprobe and what it started are killed and the job goes back to the queue', async () => {
    const slow = await slowTool('ffprobe', 30);
    const q = newQueues();
    const w = await startWorker(q, { FFPROBE_PATH: slow.path });
    let stopped = false;
    try {
      const owner = uniqueEmail();
      const fid = await storeVideoAsGateway(mongo, tone, owner);
      await publishVideo(q.video, fid, owner);
      await waitFor(async () => (await processesMentioning(slow.dir)).length > 0, { what: 'the slow ffprobe to start' });
      stopped = true;
      await w.worker.stop(300);
      expect(await processesMentioning(slow.dir)).toEqual([]);
      expect(await tmpEntries(w.tmpDir)).toEqual([]);
      expect(await jobOf(fid)).toMatchObject({ state: 'queued' });
    } finally {
      if (!stopped) await w.worker.stop(1_000);
      await cleanupQueues(q);
      await rm(slow.dir, { recursive: true, force: true });
    }
  });

  it('when the worker stops while ffmpeg runs, then nothing ffmpeg started is left', async () => {
    const slow = await slowTool('ffmpeg', 30);
    const q = newQueues();
    const w = await startWorker(q, { FFMPEG_PATH: slow.path });
    let stopped = false;
    try {
      const owner = uniqueEmail();
      const fid = await storeVideoAsGateway(mongo, tone, owner);
      await publishVideo(q.video, fid, owner);
      await waitFor(async () => (await processesMentioning(slow.dir)).length > 0, { what: 'the slow ffmpeg to start' });
      stopped = true;
      await w.worker.stop(300);
      expect(await processesMentioning(slow.dir)).toEqual([]);
      expect(await jobOf(fid)).toMatchObject({ state: 'queued' });
    } finally {
      if (!stopped) await w.worker.stop(1_000);
      await cleanupQueues(q);
      await rm(slow.dir, { recursive: true, force: true });
    }
  });

  it('when ffmpeg and ffprobe run, then their environment holds PATH and none of the worker’s secrets', async () => {
    const [ffmpegEnv, ffprobeEnv] = await Promise.all([envRecordingTool('ffmpeg'), envRecordingTool('ffprobe')]);
    process.env.CONVERTER_TEST_SECRET = 'amqp://user:secret@broker';
    const q = newQueues();
    const w = await startWorker(q, { FFMPEG_PATH: ffmpegEnv.path, FFPROBE_PATH: ffprobeEnv.path });
    try {
      const owner = uniqueEmail();
      const fid = await storeVideoAsGateway(mongo, tone, owner);
      await publishVideo(q.video, fid, owner);
      await collect(q.mp3, 1);
      for (const { envFile } of [ffmpegEnv, ffprobeEnv]) {
        const runs = (await readFile(envFile, 'utf8')).split('---\n').filter((r) => r.trim());
        expect(runs.length).toBeGreaterThan(0);
        for (const r of runs) {
          const names = r
            .split('\n')
            .filter(Boolean)
            .map((line) => line.split('=')[0]);
          // What the shell of the wrapper adds itself (PWD) aside, only PATH came from the worker.
          expect(names.filter((n) => n !== 'PWD' && n !== 'SHLVL' && n !== '_').sort()).toEqual(['PATH']);
          expect(r).not.toContain('secret');
        }
      }
    } finally {
      delete process.env.CONVERTER_TEST_SECRET;
      await w.worker.stop(1_000);
      await cleanupQueues(q);
    }
  });
});
