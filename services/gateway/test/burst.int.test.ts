import { randomBytes } from 'node:crypto';
import { TcpProxy, captureLogger, jsonOf, makeVideo, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Stack, gatedUpload, readVideo, signIn, startStack, uploadFile } from './harness.js';

/**
 * Many uploads at once: the per-user limits hold whatever the timing (every upload reserves its job slot and
 * bytes before its body is read), and a store that is slow makes uploads wait their turn instead of failing
 * them. Test, auth and gateway share one process here, so auth gets time to answer under the load.
 */
const LOADED = { AUTH_TIMEOUT_MS: '60000' };
const MiB = 1024 ** 2;

let video: Buffer;
let cleanupVideo: () => Promise<void>;
let shared: Stack;
/** Users whose files are removed at the end: hundreds of MB that would slow every later test's store queries. */
const owners: string[] = [];

beforeAll(async () => {
  const made = await makeVideo({ seconds: 1 });
  video = await readVideo(made.path);
  cleanupVideo = made.cleanup;
  shared = await startStack(LOADED);
});
afterAll(async () => {
  const db = shared.mongo.db('videos');
  const files = await db
    .collection('fs.files')
    .find({ 'metadata.owner': { $in: owners } }, { projection: { _id: 1 } })
    .toArray();
  for (const { _id } of files) await db.collection('fs.chunks').deleteMany({ files_id: _id });
  await db.collection('fs.files').deleteMany({ 'metadata.owner': { $in: owners } });
  await shared.stop();
  await cleanupVideo();
});

/** A new user whose files go at the end. */
async function newUser(stack: Stack) {
  const user = await signIn(stack);
  owners.push(user.email);
  return user;
}

/** A video of about `bytes`: a real one's head, then noise (only the head is inspected). */
const videoOf = (bytes: number) => Buffer.concat([video, randomBytes(Math.max(0, bytes - video.length))]);

const tusHeaders = (authorization: string, extra: Record<string, string> = {}) => ({ authorization, 'tus-resumable': '1.0.0', ...extra });
const createTus = (base: string, authorization: string, size: number) =>
  fetch(`${base}/uploads`, {
    method: 'POST',
    headers: tusHeaders(authorization, { 'upload-length': String(size), 'upload-metadata': `filename ${Buffer.from('clip.mp4').toString('base64')}` }),
  });
const patchTus = (url: string, authorization: string, offset: number, body: Buffer) =>
  fetch(url, {
    method: 'PATCH',
    headers: tusHeaders(authorization, { 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }),
    body: new Uint8Array(body),
  });

/** How many answers of each status, e.g. `{ 202: 5, 429: 7 }`. */
function byStatus(answers: Response[]): Record<number, number> {
  const count: Record<number, number> = {};
  for (const { status } of answers) count[status] = (count[status] ?? 0) + 1;
  return count;
}

/** The owner's reservations still held, across every gateway. */
const heldBy = (stack: Stack, owner: string): Promise<number> => stack.mongo.db('videos').collection('upload_reservations').countDocuments({ owner });

describe('per-user limits under a burst', () => {
  it('when one user sends twelve multipart uploads at once, then no more than MAX_JOBS_IN_FLIGHT are accepted and the rest are 429', async () => {
    const capped = await startStack({ ...LOADED, MAX_JOBS_IN_FLIGHT: '5' }, shared);
    try {
      const user = await newUser(capped);
      const data = videoOf(2 * MiB);
      const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => uploadFile(capped, user.authorization, [{ name: `v${i}.mp4`, data }])));
      const count = byStatus(answers);
      expect(count[202]).toBeGreaterThanOrEqual(1);
      expect(count[202]).toBeLessThanOrEqual(5);
      expect((count[202] ?? 0) + (count[429] ?? 0)).toBe(12);
      const refused = answers.find((r) => r.status === 429)!;
      expect(refused.headers.get('retry-after')).toBeTruthy();
      expect((await jsonOf(refused)).error.code).toBe('too_many_jobs');
      expect(await capped.mongo.db('videos').collection('jobs').countDocuments({ owner: user.email })).toBe(count[202]);
      await waitFor(async () => (await heldBy(capped, user.email)) === 0, { what: 'every reservation released' });
    } finally {
      await capped.stop();
    }
  });

  it('when one user sends eight multipart uploads at once that fit the quota only three at a time, then the quota is never passed', async () => {
    const size = 2 * MiB;
    const quota = Math.floor(3.5 * (size + 1024));
    const small = await startStack({ ...LOADED, USER_STORAGE_QUOTA_BYTES: String(quota) }, shared);
    try {
      const user = await newUser(small);
      const data = videoOf(size);
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => uploadFile(small, user.authorization, [{ name: `v${i}.mp4`, data }])));
      const count = byStatus(answers);
      expect(count[202]).toBeGreaterThanOrEqual(1);
      expect(count[202]).toBeLessThanOrEqual(3);
      expect((count[202] ?? 0) + (count[413] ?? 0)).toBe(8);
      const refused = answers.find((r) => r.status === 413)!;
      expect((await jsonOf(refused)).error.code).toBe('quota_exceeded');
      const stored = await small.mongo.db('videos').collection('fs.files').find({ 'metadata.owner': user.email }).toArray();
      expect(stored.reduce((sum, f) => sum + (f.length as number), 0)).toBeLessThanOrEqual(quota);
    } finally {
      await small.stop();
    }
  });

  it('when one user creates eight resumable uploads at once that fit the quota only three at a time, then no more than three are kept', async () => {
    const size = 2 * MiB;
    const small = await startStack({ ...LOADED, USER_STORAGE_QUOTA_BYTES: String(3 * size + 1000) }, shared);
    try {
      const user = await newUser(small);
      const answers = await Promise.all(Array.from({ length: 8 }, () => createTus(small.url, user.authorization, size)));
      const count = byStatus(answers);
      expect(count[201]).toBeGreaterThanOrEqual(1);
      expect(count[201]).toBeLessThanOrEqual(3);
      expect((count[201] ?? 0) + (count[413] ?? 0)).toBe(8);
      // The uploads in progress hold the rest: their end may leave room, so the refusal says when to look again.
      const refused = answers.find((r) => r.status === 413)!;
      expect(refused.headers.get('retry-after')).toBe('30');
      expect((await jsonOf(refused)).error.code).toBe('quota_exceeded');
      const open = await small.mongo.db('videos').collection('resumable_uploads').countDocuments({ owner: user.email, completed: false });
      expect(open).toBe(count[201]);
    } finally {
      await small.stop();
    }
  });

  it('when multipart uploads are in progress, then resumable creations count them, and the other way round', async () => {
    const capped = await startStack({ ...LOADED, MAX_JOBS_IN_FLIGHT: '4' }, shared);
    try {
      const user = await newUser(capped);
      const data = videoOf(2 * MiB);
      const answers = await Promise.all([
        ...Array.from({ length: 4 }, (_, i) => uploadFile(capped, user.authorization, [{ name: `v${i}.mp4`, data }])),
        ...Array.from({ length: 4 }, () => createTus(capped.url, user.authorization, data.length)),
      ]);
      const count = byStatus(answers);
      expect((count[202] ?? 0) + (count[201] ?? 0)).toBeLessThanOrEqual(4);
      expect(count[429]).toBeGreaterThanOrEqual(4);
      for (const refused of answers.filter((r) => r.status === 429)) expect(refused.headers.get('retry-after')).toBe('30');
    } finally {
      await capped.stop();
    }
  });

  it('when one user uploads one file after the other up to the limit, then each is accepted: a recorded job is not counted twice', async () => {
    const capped = await startStack({ ...LOADED, MAX_JOBS_IN_FLIGHT: '3' }, shared);
    try {
      const user = await newUser(capped);
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await uploadFile(capped, user.authorization, [{ name: `one-${i}.mp4`, data: video }])).status);
      expect(statuses).toEqual([202, 202, 202]);
      expect((await uploadFile(capped, user.authorization, [{ name: 'one-more.mp4', data: video }])).status).toBe(429);
    } finally {
      await capped.stop();
    }
  });

  it('when uploads fail (not media, cut short, terminated), then their slots are free again', async () => {
    const capped = await startStack({ ...LOADED, MAX_JOBS_IN_FLIGHT: '2' }, shared);
    try {
      const user = await newUser(capped);
      const text = Buffer.from('#EXTM3U\n#EXT-X-TARGETDURATION:10\n'.repeat(400));
      const refused = await Promise.all(Array.from({ length: 4 }, () => uploadFile(capped, user.authorization, [{ name: 'list.mp4', data: text }])));
      expect(refused.map((r) => r.status)).toEqual(expect.arrayContaining([415]));
      expect(refused.every((r) => r.status === 415 || r.status === 429)).toBe(true);
      // A resumable upload whose first bytes are not media is gone, and one the client ends frees its slot.
      const bad = await createTus(capped.url, user.authorization, text.length);
      expect(bad.status).toBe(201);
      expect((await patchTus(new URL(bad.headers.get('location')!, capped.url).toString(), user.authorization, 0, text)).status).toBe(415);
      const ended = await createTus(capped.url, user.authorization, 1000);
      const endedUrl = new URL(ended.headers.get('location')!, capped.url).toString();
      expect((await fetch(endedUrl, { method: 'DELETE', headers: tusHeaders(user.authorization) })).status).toBe(204);
      await waitFor(async () => (await heldBy(capped, user.email)) === 0, { what: 'every reservation released' });
      const accepted = await Promise.all(Array.from({ length: 2 }, () => uploadFile(capped, user.authorization, [{ name: 'ok.mp4', data: video }])));
      expect(accepted.map((r) => r.status)).toEqual([202, 202]);
    } finally {
      await capped.stop();
    }
  });
});

describe('a store that is slow', () => {
  it('when four users each send ten uploads of 9.7 MB at once, then every one is accepted', async () => {
    const { logger, lines } = captureLogger('gateway');
    const stack = await startStack(LOADED, shared, logger);
    try {
      const users = await Promise.all(Array.from({ length: 4 }, () => newUser(stack)));
      const data = videoOf(9.7 * MiB);
      const answers = await Promise.all(
        users.flatMap((u) => Array.from({ length: 10 }, (_, i) => uploadFile(stack, u.authorization, [{ name: `v${i}.mp4`, data }]))),
      );
      const failures = lines().filter((l) => l.msg === 'request failed' || l.msg === 'unhandled error');
      expect({ statuses: byStatus(answers), failures: failures.map((l) => l.cause) }).toEqual({ statuses: { 202: 40 }, failures: [] });
    } finally {
      await stack.stop();
    }
  }, 240_000);

  it('when uploads wait for their turn longer than the write timeout, then they are not refused', async () => {
    const stack = await startStack({ ...LOADED, STORAGE_WRITE_CONCURRENCY: '1', MONGODB_WRITE_TIMEOUT_MS: '1000' }, shared);
    try {
      const user = await newUser(stack);
      const data = videoOf(6 * MiB);
      const t0 = Date.now();
      const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => uploadFile(stack, user.authorization, [{ name: `v${i}.mp4`, data }])));
      expect(byStatus(answers)).toEqual({ 202: 6 });
      // Only meaningful when the queue was longer than the write timeout.
      expect(Date.now() - t0).toBeGreaterThan(1000);
    } finally {
      await stack.stop();
    }
  });
});

describe('a store that stalls', () => {
  it('when MongoDB stops answering during uploads, then each is 503 within its bound and the log line names the cause', async () => {
    const mongoUrl = new URL(inject('servers').mongoUrl);
    const proxy = await new TcpProxy(mongoUrl.hostname, Number(mongoUrl.port || 27017)).start();
    mongoUrl.host = `127.0.0.1:${proxy.port}`;
    const { logger, lines } = captureLogger('gateway');
    const writeTimeoutMs = 2_000;
    const stack = await startStack(
      {
        ...LOADED,
        MONGODB_URI: mongoUrl.toString(),
        MONGODB_TIMEOUT_MS: '1500',
        MONGODB_WRITE_TIMEOUT_MS: String(writeTimeoutMs),
        STORAGE_WRITE_CONCURRENCY: '1',
      },
      shared,
      logger,
    );
    try {
      const user = await newUser(stack);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const send = () => gatedUpload(stack.url, user.authorization, video, 2 * MiB, gate);
      const pending = Array.from({ length: 3 }, send);
      await waitFor(async () => (await stack.mongo.db('videos').collection('uploads').countDocuments({ owner: user.email })) === 3, {
        what: 'three uploads under way',
      });
      proxy.hang();
      const t0 = Date.now();
      release();
      const answers = await Promise.all(pending);
      const elapsed = Date.now() - t0;
      expect(answers.map((r) => r.status)).toEqual([503, 503, 503]);
      expect(answers.every((r) => r.headers.get('retry-after'))).toBe(true);
      // Two write timeouts at most (the last turn and the cleanup's wait), with slack for a loaded machine.
      expect(elapsed).toBeLessThan(2 * writeTimeoutMs + 1500 + 4000);
      const failed = lines().filter((l) => l.msg === 'request failed' && l.code === 'storage_unavailable');
      expect(failed).toHaveLength(3);
      for (const line of failed) expect(line.cause).toMatchObject({ type: 'StorageTimeoutError', operation: expect.any(String), message: expect.any(String) });
    } finally {
      proxy.heal();
      await stack.stop();
      await proxy.stop();
    }
  });
});
