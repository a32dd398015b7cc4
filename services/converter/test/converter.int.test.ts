import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectId } from 'mongodb';
import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import type { MongoClient } from '@mp3converter/shared/storage';
import { drainQueue, makeVideo, probe, publishRaw, queueDepth, readGridFsFile, storeGridFsFile, uniqueEmail, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mp3IdFor } from '../src/domain/mp3-id.js';
import {
  type Queues,
  type Worker,
  cleanupQueues,
  collect,
  mongoClient,
  newQueues,
  processesMentioning,
  publishVideo,
  rabbitUrl,
  slowFfmpeg,
  startWorker,
  storeVideoAsGateway,
  storeVideoAsOriginal,
  tmpEntries,
} from './harness.js';

let mongo: MongoClient;
let tone: Buffer; // 10 s, moov at the front
let toneSeconds: number; // what ffprobe says of it
let moovAtEnd: Buffer; // 4 s, moov at the end (ffmpeg's default)
let silent: Buffer; // 2 s, no audio stream
let varied: Buffer; // 20 s, VBR-hostile audio
const cleanups: (() => Promise<void>)[] = [];

const durations = new Map<Buffer, number>();

async function video(opts: Parameters<typeof makeVideo>[0]): Promise<Buffer> {
  const made = await makeVideo(opts);
  cleanups.push(made.cleanup);
  const data = await readFile(made.path);
  durations.set(data, (await probe(made.path)).durationSeconds);
  return data;
}

async function mp3Probe(mp3Fid: string) {
  const path = join(tmpdir(), `probe-${mp3Fid}.mp3`);
  await writeFile(path, await readGridFsFile(mongo, 'mp3s', mp3Fid));
  return probe(path);
}

const jobOf = (fid: string) => mongoJobStore(mongo).get(fid);

beforeAll(async () => {
  mongo = mongoClient();
  [tone, moovAtEnd, silent, varied] = await Promise.all([
    video({ seconds: 10 }),
    video({ seconds: 4, faststart: false }),
    video({ seconds: 2, audio: false }),
    video({ seconds: 20, audio: 'varied' }),
  ]);
  toneSeconds = durations.get(tone)!;
});
afterAll(async () => {
  await mongo.close();
  for (const c of cleanups) await c();
});

describe('one worker', () => {
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

  it('when a video arrives, then a VBR MP3 with the right duration is stored, the job is done and the mp3 message published', async () => {
    const owner = uniqueEmail();
    const fid = await storeVideoAsGateway(mongo, tone, owner, 'holiday clip.mp4');
    await publishVideo(q.video, fid, owner);
    const [message] = await collect(q.mp3, 1);
    const mp3Fid = mp3IdFor(fid);
    expect(message!.body).toEqual({ video_fid: fid, mp3_fid: mp3Fid, username: owner });
    expect(message!.persistent).toBe(true);

    const file = await mongo
      .db('mp3s')
      .collection('fs.files')
      .findOne({ _id: new ObjectId(mp3Fid) });
    expect(file).toMatchObject({ filename: 'holiday clip.mp3', metadata: { owner, videoFid: fid, contentType: 'audio/mpeg' } });
    expect(file!.metadata.durationSeconds).toBeGreaterThan(9.9);
    expect(file!.metadata.bitRate).toBeGreaterThan(0);

    const mp3 = await mp3Probe(mp3Fid);
    expect(mp3.formatName).toBe('mp3');
    expect(mp3.streams).toEqual([{ codecType: 'audio', codecName: 'mp3' }]);
    expect(Math.abs(mp3.durationSeconds - toneSeconds) / toneSeconds).toBeLessThan(0.01);
    await waitFor(async () => (await jobOf(fid))?.state === 'done');
    expect(await jobOf(fid)).toMatchObject({ state: 'done', mp3Fid });
  });

  it('when the MP4 has its index (moov) at the end, then it still converts', async () => {
    const owner = uniqueEmail();
    const fid = await storeVideoAsGateway(mongo, moovAtEnd, owner);
    await publishVideo(q.video, fid, owner);
    const [message] = await collect(q.mp3, 1);
    expect(message!.body.mp3_fid).toBe(mp3IdFor(fid));
    expect((await mp3Probe(mp3IdFor(fid))).durationSeconds).toBeCloseTo(4, 0);
  });

  it('when the audio makes a VBR bitrate swing, then the MP3 header still gives the duration within 1%', async () => {
    const owner = uniqueEmail();
    const fid = await storeVideoAsGateway(mongo, varied, owner);
    await publishVideo(q.video, fid, owner);
    await collect(q.mp3, 1);
    const mp3 = await mp3Probe(mp3IdFor(fid));
    const videoSeconds = durations.get(varied)!;
    expect(Math.abs(mp3.durationSeconds - videoSeconds) / videoSeconds).toBeLessThan(0.01);
  });

  it("when the original's three-field message names a video stored the original's way, then it converts, owned by username", async () => {
    const owner = uniqueEmail('original');
    const fid = await storeVideoAsOriginal(mongo, tone);
    await publishRaw(rabbitUrl(), q.video, `{"video_fid": "${fid}", "mp3_fid": null, "username": "${owner}"}`);
    const [message] = await collect(q.mp3, 1);
    expect(message!.body).toEqual({ video_fid: fid, mp3_fid: mp3IdFor(fid), username: owner });
    const file = await mongo
      .db('mp3s')
      .collection('fs.files')
      .findOne({ _id: new ObjectId(mp3IdFor(fid)) });
    expect(file).toMatchObject({ filename: `${fid}.mp3`, metadata: { owner, videoFid: fid } });
    // The mp3 message goes out before the job is marked done.
    await waitFor(async () => (await jobOf(fid))?.state === 'done', { what: 'the job to be done' });
    expect(await jobOf(fid)).toMatchObject({ state: 'done', owner });
  });

  /**
   * A good video sent after the rest and converted: with one conversion at a time, everything sent before it
   * has been settled by then, so what did not happen can be checked.
   */
  async function sentinel(): Promise<void> {
    const owner = uniqueEmail('sentinel');
    const fid = await storeVideoAsGateway(mongo, tone, owner);
    await publishVideo(q.video, fid, owner);
    await waitFor(async () => (await jobOf(fid))?.state === 'done', { timeoutMs: 30_000, what: 'the sentinel video to convert' });
    await collect(q.mp3, 1);
  }

  /** Nothing waits to be retried or was dead-lettered. */
  async function nothingPending(): Promise<void> {
    for (const queue of [q.video, `${q.video}.retry.200ms`, `${q.video}.retry.400ms`]) expect(await queueDepth(rabbitUrl(), queue)).toBe(0);
    expect(await drainQueue(rabbitUrl(), `${q.video}.dead`)).toEqual([]);
  }

  it.each([
    ['a video without audio', () => silent, 'the video has no audio track'],
    ['random bytes', () => randomBytes(200_000), 'the file is not a video or audio file that can be read'],
    ['a truncated MP4 (index at the end)', () => moovAtEnd.subarray(0, Math.floor(moovAtEnd.length / 2)), 'the file is truncated or damaged'],
    ['a truncated MP4 (index at the front)', () => tone.subarray(0, Math.floor(tone.length / 2)), 'the file is truncated or damaged'],
  ])('when the input is %s, then the job fails with its reason and the user is told, acked: no retry, no dead letter', async (_label, data, reason) => {
    const owner = uniqueEmail();
    const fid = await storeVideoAsGateway(mongo, data(), owner);
    await publishVideo(q.video, fid, owner);
    const [notice] = await collect(q.failed, 1);
    expect(notice!.body).toEqual({ video_fid: fid, mp3_fid: null, username: owner, status: 'failed', reason: expect.stringContaining(reason) });
    expect(await jobOf(fid)).toMatchObject({ state: 'failed', reason: expect.stringContaining(reason), attempts: 1 });
    await sentinel();
    await nothingPending();
    expect(await drainQueue(rabbitUrl(), q.failed)).toEqual([]);
    expect(
      await mongo
        .db('mp3s')
        .collection('fs.files')
        .countDocuments({ _id: new ObjectId(mp3IdFor(fid)) }),
    ).toBe(0);
  });

  it.each([
    ['not JSON', 'this is not json'],
    ['missing fields', '{"video_fid": "65f0c0ffee00112233445566"}'],
    ['a bad id', '{"video_fid": "zzz", "mp3_fid": null, "username": "a@b.c"}'],
  ])('when the message is %s, then it is dead-lettered with the reason, not retried', async (_label, body) => {
    await publishRaw(rabbitUrl(), q.video, body);
    const [dead] = await collect(`${q.video}.dead`, 1);
    expect(dead!.raw.toString()).toBe(body);
    expect(String(dead!.headers['x-dead-reason'])).toMatch(/invalid message|not valid JSON/);
    await sentinel();
    await nothingPending();
  });

  it('when the video id is unknown, then the job fails as not found and the user is told, without retries', async () => {
    const owner = uniqueEmail();
    const fid = new ObjectId().toHexString();
    await publishVideo(q.video, fid, owner);
    const [notice] = await collect(q.failed, 1);
    expect(notice!.body).toMatchObject({ username: owner, reason: 'the uploaded video could not be found' });
    expect(await jobOf(fid)).toMatchObject({ state: 'failed', owner });
    await sentinel();
    await nothingPending();
  });

  it("when a message names another user than the owner the job store knows, then it is dead-lettered as owner_mismatch, nothing is made or told, and the owner's message still converts", async () => {
    const owner = uniqueEmail('owner');
    const intruder = uniqueEmail('intruder');
    const fid = await storeVideoAsGateway(mongo, tone, owner);
    await publishVideo(q.video, fid, intruder);
    const [dead] = await collect(`${q.video}.dead`, 1);
    expect(dead!.body).toEqual({ video_fid: fid, mp3_fid: null, username: intruder });
    expect(String(dead!.headers['x-dead-reason'])).toMatch(/^owner_mismatch: /);
    // Dead-lettering settled it: whatever it was to cause has happened by now.
    expect(await jobOf(fid)).toMatchObject({ state: 'queued', owner, attempts: 0, reason: null });
    expect(await mongo.db('mp3s').collection('fs.files').countDocuments({ 'metadata.videoFid': fid })).toBe(0);
    expect(await drainQueue(rabbitUrl(), q.mp3)).toEqual([]);
    expect(await drainQueue(rabbitUrl(), q.failed)).toEqual([]);
    await nothingPending();

    await publishVideo(q.video, fid, owner);
    const [message] = await collect(q.mp3, 1);
    expect(message!.body).toEqual({ video_fid: fid, mp3_fid: mp3IdFor(fid), username: owner });
    await nothingPending();
  });

  it('when a message is delivered again after the job is done, then no second MP3 and no second mp3 message', async () => {
    const owner = uniqueEmail();
    const fid = await storeVideoAsGateway(mongo, tone, owner);
    await publishVideo(q.video, fid, owner);
    await collect(q.mp3, 1);
    await waitFor(async () => (await jobOf(fid))?.state === 'done');
    await publishVideo(q.video, fid, owner);
    await sentinel();
    expect(await drainQueue(rabbitUrl(), q.mp3)).toEqual([]);
    expect(await mongo.db('mp3s').collection('fs.files').countDocuments({ 'metadata.videoFid': fid })).toBe(1);
  });

  it('when a worker died after storing the MP3 but before publishing, then the redelivery publishes it without converting again', async () => {
    const owner = uniqueEmail();
    const fid = await storeVideoAsGateway(mongo, tone, owner);
    const mp3Fid = mp3IdFor(fid);
    // What the dead worker left: its lease (expired), the stored MP3, no mp3 message, no ack.
    await mongoJobStore(mongo, { worker: { id: 'dead-worker', leaseMs: 1 } }).claim(fid, owner, { maxAttempts: 3, revive: false });
    await storeGridFsFile(mongo, 'mp3s', randomBytes(1000), { id: new ObjectId(mp3Fid), filename: 'clip.mp3', metadata: { owner, videoFid: fid } });
    await new Promise((r) => setTimeout(r, 20));
    await publishVideo(q.video, fid, owner);
    const [message] = await collect(q.mp3, 1);
    expect(message!.body.mp3_fid).toBe(mp3Fid);
    expect(await mongo.db('mp3s').collection('fs.files').countDocuments({ 'metadata.videoFid': fid })).toBe(1);
    await waitFor(async () => (await jobOf(fid))?.state === 'done');
    expect(await jobOf(fid)).toMatchObject({ state: 'done', mp3Fid, attempts: 2 });
  });

  it('when everything is done, then no temporary file remains', async () => {
    await waitFor(async () => (await tmpEntries(w.tmpDir)).length === 0, { what: 'an empty temp folder' });
  });
});

describe('two workers', () => {
  it('when they share a backlog, then each video is converted exactly once', async () => {
    const q = newQueues();
    const owner = uniqueEmail();
    const fids = await Promise.all(Array.from({ length: 6 }, () => storeVideoAsGateway(mongo, tone, owner)));
    for (const fid of fids) await publishVideo(q.video, fid, owner);
    const [a, b] = await Promise.all([startWorker(q), startWorker(q)]);
    try {
      const messages = await collect(q.mp3, 6, 60_000);
      expect(messages.map((m) => m.body.video_fid).sort()).toEqual([...fids].sort());
      const converted = (lines: Record<string, unknown>[]) => lines.filter((l) => l.status === 'converted').map((l) => l.videoFid);
      await waitFor(() => converted([...a.lines(), ...b.lines()]).length >= fids.length, { what: 'every conversion to be logged' });
      expect([...converted(a.lines()), ...converted(b.lines())].sort()).toEqual([...fids].sort());
      expect(converted(a.lines()).length).toBeGreaterThan(0);
      expect(converted(b.lines()).length).toBeGreaterThan(0);
      for (const fid of fids) expect(await mongo.db('mp3s').collection('fs.files').countDocuments({ 'metadata.videoFid': fid })).toBe(1);
    } finally {
      await Promise.all([a.worker.stop(1_000), b.worker.stop(1_000)]);
      await cleanupQueues(q);
    }
  });
});

describe('the lease of a running job', () => {
  const leaseOf = async (fid: string) =>
    (
      await mongo
        .db('videos')
        .collection('jobs')
        .findOne({ _id: new ObjectId(fid) })
    )?.lease_until as Date | undefined;

  it('when a job runs longer than its lease, then the lease is renewed while it runs', async () => {
    const q = newQueues();
    const w = await startWorker(q, { FFMPEG_PATH: await slowFfmpeg(30), JOB_LEASE_MS: '1000' });
    const owner = uniqueEmail();
    const fid = await storeVideoAsGateway(mongo, tone, owner);
    try {
      await publishVideo(q.video, fid, owner);
      const first = await waitFor(async () => ((await jobOf(fid))?.state === 'converting' ? leaseOf(fid) : undefined), { what: 'the claim' });
      const renewed = await waitFor(
        async () => {
          const lease = await leaseOf(fid);
          return lease && lease.getTime() >= first.getTime() + 1_000 ? lease : undefined;
        },
        { timeoutMs: 10_000, what: 'the lease to be renewed past its first term' },
      );
      expect(renewed.getTime()).toBeGreaterThan(Date.now());
    } finally {
      await w.worker.stop(300);
      await cleanupQueues(q);
    }
  });

  it('when the cancel request message is lost, then the cancel flag on the job stops it at the next renewal: nothing kept, nobody told', async () => {
    const q = newQueues();
    const w = await startWorker(q, { FFMPEG_PATH: await slowFfmpeg(30), JOB_LEASE_MS: '1000' });
    const owner = uniqueEmail();
    const fid = await storeVideoAsGateway(mongo, tone, owner);
    try {
      await publishVideo(q.video, fid, owner);
      await waitFor(async () => (await jobOf(fid))?.state === 'converting', { what: 'the claim' });
      // What DELETE writes on the job; its job.control message never goes out.
      expect(await mongoJobStore(mongo).requestCancel(fid)).toMatchObject({ cancelRequested: true });
      await waitFor(async () => (await jobOf(fid))?.state === 'cancelled', { timeoutMs: 10_000, what: 'the job to be cancelled' });
      await waitFor(async () => w.worker.amqp.drain(0), { what: 'the delivery settled' });
      await waitFor(async () => (await tmpEntries(w.tmpDir)).length === 0, { what: 'an empty temp folder' });
      expect(await processesMentioning(w.tmpDir)).toEqual([]);
      for (const queue of [q.video, q.mp3, q.failed, `${q.video}.dead`]) expect(await queueDepth(rabbitUrl(), queue)).toBe(0);
      expect(await mongo.db('mp3s').collection('fs.files').countDocuments({ 'metadata.videoFid': fid })).toBe(0);
    } finally {
      await w.worker.stop(1_000);
      await cleanupQueues(q);
    }
  });
});

describe('failures that pass', () => {
  it('when ffmpeg runs past FFMPEG_TIMEOUT_MS, then it is killed, retried a bounded number of times, then dead-lettered and failed', async () => {
    const q = newQueues();
    const w = await startWorker(q, { FFMPEG_PATH: await slowFfmpeg(5), FFMPEG_TIMEOUT_MS: '300' });
    try {
      const owner = uniqueEmail();
      const fid = await storeVideoAsGateway(mongo, tone, owner);
      await publishVideo(q.video, fid, owner);
      const [dead] = await collect(`${q.video}.dead`, 1, 30_000);
      expect(dead!.headers['x-dead-reason']).toMatch(/gave up after 3 attempts: the conversion took longer than/);
      expect(dead!.headers['x-retry-count']).toBe(2);
      expect(await jobOf(fid)).toMatchObject({ state: 'failed' });
      expect((await collect(q.failed, 1))[0]!.body.reason).toMatch(/gave up after 3 attempts/);
      await waitFor(async () => (await tmpEntries(w.tmpDir)).length === 0, { what: 'an empty temp folder' });
    } finally {
      await w.worker.stop(1_000);
      await cleanupQueues(q);
    }
  });

  it('when the worker is stopped in the middle of a job, then ffmpeg is killed, temp files go, and another worker finishes the job', async () => {
    const q = newQueues();
    const slow = await startWorker(q, { FFMPEG_PATH: await slowFfmpeg(30) });
    const owner = uniqueEmail();
    const fid = await storeVideoAsGateway(mongo, tone, owner);
    await publishVideo(q.video, fid, owner);
    await waitFor(async () => (await jobOf(fid))?.state === 'converting', { what: 'the job to start' });
    await waitFor(async () => (await tmpEntries(slow.tmpDir)).length > 0, { what: 'the temp folder to be used' });
    await slow.worker.stop(300);
    expect(await tmpEntries(slow.tmpDir)).toEqual([]);
    expect(await jobOf(fid)).toMatchObject({ state: 'queued' });

    const next = await startWorker(q);
    try {
      const [message] = await collect(q.mp3, 1);
      expect(message!.body.video_fid).toBe(fid);
      expect(await mongo.db('mp3s').collection('fs.files').countDocuments({ 'metadata.videoFid': fid })).toBe(1);
    } finally {
      await next.worker.stop(1_000);
      await cleanupQueues(q);
    }
  });

  it('when the worker runs, then /healthz and /readyz answer on its health port', async () => {
    const q = newQueues();
    const w = await startWorker(q);
    try {
      const health = await fetch(`${w.worker.http.url}/healthz`);
      expect(health.status).toBe(200);
      expect(health.headers.get('x-content-type-options')).toBe('nosniff');
      const ready = await fetch(`${w.worker.http.url}/readyz`);
      expect(await ready.json()).toEqual({ status: 'ready', checks: { mongodb: 'ok', rabbitmq: 'ok' } });
    } finally {
      await w.worker.stop(1_000);
      await cleanupQueues(q);
    }
  });
});
