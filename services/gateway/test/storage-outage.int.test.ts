import { randomBytes } from 'node:crypto';
import { type MongoClient, ObjectId } from '@mp3converter/shared/storage';
import type { Logger } from '@mp3converter/shared/logger';
import { TcpProxy, captureLogger, jsonOf, makeVideo, uniqueEmail, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NOTHING_LEFT, type Stack, drainQueue, gatedUpload, leftovers, readVideo, signIn, startStack, storeMp3 } from './harness.js';

/**
 * MongoDB taken away from one gateway through a TCP proxy, both ways it happens: refusing connections (a
 * crashed server) and a black hole (a frozen server or a partition: connections accepted, nothing answered).
 */
const TIMEOUT_MS = 1_500;
const WRITE_TIMEOUT_MS = 3_000;
/**
 * Longest a request may take to fail: its deadline and slack for a loaded machine, and for an upload under
 * way the write watchdog and the cleanup's wait too. Without the deadlines the driver alone fails requests to
 * a silent server only once its monitor gives up on it: 5 to 20 s here.
 */
const SLACK_MS = 2_500;
const BOUND_MS = TIMEOUT_MS + SLACK_MS;
const UPLOAD_BOUND_MS = WRITE_TIMEOUT_MS + TIMEOUT_MS + SLACK_MS;

let shared: Stack;
let video: Buffer;
let cleanupVideo: () => Promise<void>;
const started = new Date();

beforeAll(async () => {
  shared = await startStack();
  const made = await makeVideo({ seconds: 1 });
  video = await readVideo(made.path);
  cleanupVideo = made.cleanup;
});
afterAll(async () => {
  await shared.stop();
  await cleanupVideo();
});

/** A gateway whose MongoDB sits behind `proxy`, with short deadlines; auth and the checks' client are direct. */
async function gatewayBehind(proxy: TcpProxy, env: Record<string, string> = {}, logger?: Logger): Promise<Stack> {
  const mongo = new URL(inject('servers').mongoUrl);
  mongo.host = `127.0.0.1:${proxy.port}`;
  return startStack(
    { MONGODB_URI: mongo.toString(), MONGODB_TIMEOUT_MS: String(TIMEOUT_MS), MONGODB_WRITE_TIMEOUT_MS: String(WRITE_TIMEOUT_MS), ...env },
    shared,
    logger,
  );
}

async function mongoProxy(): Promise<TcpProxy> {
  const mongo = new URL(inject('servers').mongoUrl);
  return new TcpProxy(mongo.hostname, Number(mongo.port || 27017)).start();
}

const outages = [
  ['refuses connections', (p: TcpProxy) => p.stop(), (p: TcpProxy) => p.start()],
  ['hangs (a black hole)', (p: TcpProxy) => p.hang(), (p: TcpProxy) => p.heal()],
] as const;

/** An upload whose body stops after the video until `release()` is called (see the harness's gatedUpload). */
function gatedUploadOf(stack: Stack, authorization: string, tail: number) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  return { response: gatedUpload(stack.url, authorization, video, tail, gate), release };
}

/** Waits until an upload of `owner` holds its lease and has chunks in GridFS; returns its id. */
async function uploadUnderWay(mongo: MongoClient, owner: string): Promise<ObjectId> {
  const db = mongo.db('videos');
  return waitFor(
    async () => {
      const lease = await db.collection('uploads').findOne({ owner });
      if (!lease) return undefined;
      return (await db.collection('fs.chunks').countDocuments({ files_id: lease._id })) > 0 ? (lease._id as ObjectId) : undefined;
    },
    { what: 'the upload to have chunks in GridFS' },
  );
}

const expectUnavailable = async (res: Response) => {
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBeTruthy();
  expect(await jsonOf(res)).toEqual({ error: { code: 'storage_unavailable', message: 'storage unavailable, try again later' } });
};

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  const value = await work;
  return { value, ms: Date.now() - t0 };
}

describe.each(outages)('when MongoDB %s', (_how, takeAway, bringBack) => {
  it('and an upload starts, then 503 storage_unavailable in bounded time, and nothing of it remains', async () => {
    const proxy = await mongoProxy();
    // The lease written first may still land once MongoDB is back, after the 503: the sweep takes it.
    const stack = await gatewayBehind(proxy, { UPLOAD_LEASE_MS: '1000', ORPHAN_SWEEP_INTERVAL_MS: '200' });
    try {
      const user = await signIn(stack);
      await takeAway(proxy);
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(video)], { type: 'video/mp4' }), 'clip.mp4');
      const { value: res, ms } = await timed(fetch(`${stack.url}/upload`, { method: 'POST', body: form, headers: { authorization: user.authorization } }));
      await expectUnavailable(res);
      expect(ms).toBeLessThan(BOUND_MS);
      await bringBack(proxy);
      await waitFor(async () => JSON.stringify(await leftovers(shared.mongo, user.email, started)) === JSON.stringify(NOTHING_LEFT), {
        timeoutMs: 30_000,
        what: 'nothing of the upload to remain',
      });
      expect(await drainQueue(stack.videoQueue)).toEqual([]);
    } finally {
      await stack.stop();
      await proxy.stop();
    }
  });

  it('in the middle of an upload, then 503 in bounded time, and once it is back nothing of the upload remains', async () => {
    const proxy = await mongoProxy();
    const stack = await gatewayBehind(proxy);
    try {
      const user = await signIn(stack);
      const upload = gatedUploadOf(stack, user.authorization, 2_000_000);
      await uploadUnderWay(shared.mongo, user.email);
      await takeAway(proxy);
      upload.release();
      const { value: res, ms } = await timed(upload.response);
      await expectUnavailable(res);
      expect(ms).toBeLessThan(UPLOAD_BOUND_MS);
      // The removal could not run while MongoDB was away; no sweep is due for minutes, so only retries remove it.
      const meanwhile = await leftovers(shared.mongo, user.email, started);
      expect(meanwhile.leases).toBe(1);
      expect(meanwhile.orphanChunks).toBeGreaterThan(0);

      await bringBack(proxy);
      await waitFor(async () => JSON.stringify(await leftovers(shared.mongo, user.email, started)) === JSON.stringify(NOTHING_LEFT), {
        timeoutMs: 45_000,
        what: 'the retried removal to succeed',
      });
      expect(stack.gateway.cleaner.pending).toBe(0);
      expect(await drainQueue(stack.videoQueue)).toEqual([]);
    } finally {
      await stack.stop();
      await proxy.stop();
    }
  });

  it('and the status is asked, then 503 in bounded time; once it is back, the job again', async () => {
    const proxy = await mongoProxy();
    const stack = await gatewayBehind(proxy);
    try {
      const user = await signIn(stack);
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(video)], { type: 'video/mp4' }), 'clip.mp4');
      const accepted = await fetch(`${stack.url}/upload`, { method: 'POST', body: form, headers: { authorization: user.authorization } });
      const { status_url } = await jsonOf(accepted);
      const status = () => fetch(`${stack.url}${status_url}`, { headers: { authorization: user.authorization } });

      await takeAway(proxy);
      const { value: res, ms } = await timed(status());
      await expectUnavailable(res);
      expect(ms).toBeLessThan(BOUND_MS);

      await bringBack(proxy);
      await waitFor(async () => (await status()).status === 200, { timeoutMs: 30_000, what: 'the status once MongoDB is back' });
      await drainQueue(stack.videoQueue);
    } finally {
      await stack.stop();
      await proxy.stop();
    }
  });

  it('and a download is asked, then 503 in bounded time; once it is back, the MP3', async () => {
    const proxy = await mongoProxy();
    const stack = await gatewayBehind(proxy);
    try {
      const user = await signIn(stack);
      const mp3 = randomBytes(50_000);
      const fid = await storeMp3(shared.mongo, user.email, mp3);
      const download = () => fetch(`${stack.url}/download?fid=${fid}`, { headers: { authorization: user.authorization } });

      await takeAway(proxy);
      const { value: res, ms } = await timed(download());
      await expectUnavailable(res);
      expect(ms).toBeLessThan(BOUND_MS);

      await bringBack(proxy);
      await waitFor(async () => (await download()).status === 200, { timeoutMs: 30_000, what: 'the download once MongoDB is back' });
      expect(Buffer.from(await (await download()).arrayBuffer()).equals(mp3)).toBe(true);
    } finally {
      await stack.stop();
      await proxy.stop();
    }
  });
});

describe('when MongoDB hangs in the middle of a download', () => {
  it('then the response is cut short of its Content-Length in bounded time, never left hanging, and the log says why', async () => {
    const proxy = await mongoProxy();
    const log = captureLogger('gateway');
    const stack = await gatewayBehind(proxy, {}, log.logger);
    try {
      const user = await signIn(stack);
      // Several read batches (8 chunks of 255 KiB each), so some are fetched after the headers went out.
      const mp3 = randomBytes(6 * 1024 * 1024);
      const fid = await storeMp3(shared.mongo, user.email, mp3);
      const res = await fetch(`${stack.url}/download?fid=${fid}`, { headers: { authorization: user.authorization } });
      expect(res.status).toBe(200);
      proxy.hang();
      const { value: outcome, ms } = await timed(
        res.arrayBuffer().then(
          (b) => ({ bytes: b.byteLength }),
          (err: Error) => ({ error: err.message }),
        ),
      );
      expect(outcome).toHaveProperty('error');
      expect(ms).toBeLessThan(BOUND_MS);
      const cut = await waitFor(() => log.lines().find((l) => l.msg === 'download cut short'), { timeoutMs: 5_000, what: 'the log line' });
      expect(cut).toMatchObject({ level: 'warn', fid, err: { message: expect.stringMatching(/reading a GridFS chunk/) } });
    } finally {
      proxy.heal();
      await stack.stop();
      await proxy.stop();
    }
  });
});

describe('when the store fails before the first byte of a download', () => {
  it('then the answer is a status and a JSON error, not a connection cut before any headers, and the log says why', async () => {
    const log = captureLogger('gateway');
    const stack = await startStack({}, shared, log.logger);
    try {
      const user = await signIn(stack);
      const fid = await storeMp3(shared.mongo, user.email, randomBytes(600_000));
      await shared.mongo
        .db('mp3s')
        .collection('fs.chunks')
        .deleteOne({ files_id: new ObjectId(fid), n: 0 });
      const res = await fetch(`${stack.url}/download?fid=${fid}`, { headers: { authorization: user.authorization } });
      expect(res.status).toBe(500);
      expect(await res.json()).toMatchObject({ error: { code: 'internal' } });
      const line = await waitFor(() => log.lines().find((l) => l.msg === 'unhandled error'), { timeoutMs: 5_000, what: 'the log line' });
      expect(line).toMatchObject({ err: { message: expect.stringMatching(/chunk 0 .* is missing/) } });
    } finally {
      await stack.stop();
    }
  });
});

describe('the sweep of uploads a stopped gateway left behind', () => {
  it('when a lease has run out with chunks and no files document, then they go; a live upload on another gateway stays whole', async () => {
    const writer = await startStack({ UPLOAD_LEASE_MS: '1500' }, shared);
    const sweeper = await startStack({ UPLOAD_LEASE_MS: '1500', ORPHAN_SWEEP_INTERVAL_MS: '200' }, shared);
    try {
      const user = await signIn(writer);
      const stranger = uniqueEmail('gone');
      const db = shared.mongo.db('videos');

      // What a gateway killed mid-upload leaves: chunks, no files document, a lease nobody renews.
      const dead = new ObjectId();
      await db.collection('fs.chunks').insertMany([0, 1].map((n) => ({ files_id: dead, n, data: randomBytes(1_000) })));
      await db.collection('uploads').insertOne({ _id: dead, owner: stranger, started_at: new Date(), expires_at: new Date(Date.now() - 1_000) });
      // What one killed after its upload was accepted leaves: a whole file, its job, a lease.
      const accepted = new ObjectId();
      await db
        .collection('jobs')
        .insertOne({ _id: accepted, owner: stranger, filename: 'ok.mp4', state: 'queued', created_at: new Date(), updated_at: new Date() });
      await db
        .collection('fs.files')
        .insertOne({ _id: accepted, length: 0, chunkSize: 261120, uploadDate: new Date(), filename: 'ok.mp4', metadata: { owner: stranger } });
      await db.collection('uploads').insertOne({ _id: accepted, owner: stranger, started_at: new Date(), expires_at: new Date(Date.now() - 1_000) });

      // A slow upload on the writer, longer than two lease periods: only its renewals keep the sweeper off it.
      const upload = gatedUploadOf(writer, user.authorization, 500_000);
      const live = await uploadUnderWay(shared.mongo, user.email);

      await waitFor(async () => (await db.collection('fs.chunks').countDocuments({ files_id: dead })) === 0, { what: 'the dead upload to be swept' });
      await waitFor(async () => !(await db.collection('uploads').findOne({ _id: accepted })), { what: 'the accepted upload to lose its lease' });
      // The writer's first lease would have run out twice over, with the sweeper passing every 200 ms.
      const firstExpiry = (await db.collection('uploads').findOne({ _id: live }))!.expires_at as Date;
      await waitFor(
        async () => ((await db.collection('uploads').findOne({ _id: live }))?.expires_at as Date | undefined)! > new Date(firstExpiry.getTime() + 3_000),
        { what: 'the writer to renew its lease past two lease periods' },
      );
      expect(await db.collection('fs.chunks').countDocuments({ files_id: live })).toBeGreaterThan(0);
      upload.release();
      const res = await upload.response;
      expect(res.status).toBe(202);
      const body = await jsonOf(res);
      expect(body.video_fid).toBe(live.toHexString());
      expect(body.size).toBe(video.length + 600_000 + 500_000);

      expect(await db.collection('fs.files').findOne({ _id: accepted })).not.toBeNull();
      expect(await db.collection('jobs').findOne({ _id: accepted })).not.toBeNull();
      expect(await db.collection('uploads').findOne({ _id: dead })).toBeNull();
      expect(await drainQueue(writer.videoQueue)).toHaveLength(1);
      await db.collection('fs.files').deleteOne({ _id: accepted });
      await db.collection('jobs').deleteOne({ _id: accepted });
    } finally {
      await writer.stop();
      await sweeper.stop();
    }
  });
});
