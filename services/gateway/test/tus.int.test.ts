import { createHash } from 'node:crypto';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { ObjectId, type MongoClient } from '@mp3converter/shared/storage';
import { TcpProxy, jsonOf, makeVideo, queueDepth, readGridFsFile, uniqueName, waitFor } from '@mp3converter/shared/testing';
import * as tus from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { addUser, basic } from '../../auth/test/helpers.js';
import { type Stack, drainQueue, signIn, startStack, uploadFile } from './harness.js';

let stack: Stack;
let video: Buffer;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  // Over three GridFS chunks, so chunk boundaries and the partial last chunk are all crossed.
  const made = await makeVideo({ seconds: 40, width: 320, height: 240, fps: 15 });
  video = await readFile(made.path);
  await made.cleanup();
  expect(video.length).toBeGreaterThan(3 * 255 * 1024);
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

/** Uploads `data` with tus-js-client (Node), resolving with the upload's URL once the server has it all. */
function tusUpload(base: string, authorization: string, data: Buffer, options: Partial<tus.UploadOptions> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(data, {
      endpoint: `${base}/uploads/`,
      headers: { authorization },
      metadata: { filename: 'lecture.mp4', filetype: 'video/mp4' },
      retryDelays: [],
      storeFingerprintForResuming: false,
      ...options,
      onSuccess: () => resolve(upload.url!),
      onError: reject,
    });
    upload.start();
  });
}

const tusHeaders = (authorization: string, extra: Record<string, string> = {}) => ({ authorization, 'tus-resumable': '1.0.0', ...extra });

async function create(base: string, authorization: string, size: number, query = ''): Promise<Response> {
  return fetch(`${base}/uploads/${query}`, {
    method: 'POST',
    headers: tusHeaders(authorization, { 'upload-length': String(size), 'upload-metadata': `filename ${Buffer.from('lecture.mp4').toString('base64')}` }),
  });
}

const patch = (url: string, authorization: string, offset: number, body: Buffer) =>
  fetch(url, {
    method: 'PATCH',
    headers: tusHeaders(authorization, { 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }),
    body: new Uint8Array(body),
  });

const head = (url: string, authorization: string) => fetch(url, { method: 'HEAD', headers: tusHeaders(authorization) });

/** What is kept of one upload: its tus document, its chunks, its files document and its job. */
async function kept(mongo: MongoClient, id: string) {
  const db = mongo.db('videos');
  const _id = new ObjectId(id);
  return {
    upload: await db.collection('resumable_uploads').countDocuments({ _id }),
    chunks: await db.collection('fs.chunks').countDocuments({ files_id: _id }),
    files: await db.collection('fs.files').countDocuments({ _id }),
    jobs: await db.collection('jobs').countDocuments({ _id }),
  };
}
const idOf = (url: string) => url.split('/').pop()!;
const absolute = (base: string, location: string) => new URL(location, base).toString();

describe('resumable uploads (tus 1.0) into GridFS', () => {
  it('when a video is sent in odd chunk sizes, then the stored file is byte for byte the source, and its job is queued once', async () => {
    const user = await signIn(stack);
    const url = await tusUpload(stack.url, user.authorization, video, { chunkSize: 100_003 });
    const id = idOf(url);
    expect(sha(await readGridFsFile(stack.mongo, 'videos', id))).toBe(sha(video));
    const file = await stack.mongo
      .db('videos')
      .collection('fs.files')
      .findOne({ _id: new ObjectId(id) });
    expect(file).toMatchObject({
      length: video.length,
      chunkSize: 255 * 1024,
      filename: 'lecture.mp4',
      metadata: { owner: user.email, contentType: 'video/mp4' },
    });
    const messages = await drainQueue(stack.videoQueue);
    expect(messages.map((m) => m.body)).toEqual([{ video_fid: id, mp3_fid: null, username: user.email }]);
    const status = await jsonOf(await fetch(`${stack.url}/status?fid=${id}`, { headers: { authorization: user.authorization } }));
    expect(status).toMatchObject({ video_fid: id, state: 'queued', filename: 'lecture.mp4', size: video.length });
    // A finished upload is not terminated through tus (the job is deleted through /jobs).
    expect((await fetch(absolute(stack.url, url), { method: 'DELETE', headers: tusHeaders(user.authorization) })).status).toBe(400);
  });

  it('when output options come with the creation, then they travel in the video message; bad ones are 400 before anything is kept', async () => {
    const user = await signIn(stack);
    const bad = await create(stack.url, user.authorization, video.length, '?bitrate=7&channels=5');
    expect(bad.status).toBe(400);
    expect((await jsonOf(bad)).error.code).toBe('invalid_options');
    const url = await tusUpload(stack.url, user.authorization, video, {
      endpoint: `${stack.url}/uploads/?bitrate=128`,
      metadata: { filename: 'a.mp4', channels: '1' },
    });
    const [message] = await drainQueue(stack.videoQueue);
    expect(message?.body).toEqual({ video_fid: idOf(url), mp3_fid: null, username: user.email, options: { bitrate: 128, channels: 1 } });
  });

  it('when a PATCH is cut off midway, then the upload resumes from the offset the server reports and ends whole', async () => {
    const user = await signIn(stack);
    const location = (await create(stack.url, user.authorization, video.length)).headers.get('location')!;
    const url = absolute(stack.url, location);
    const sent = 600_000;
    // Half a body, then the connection goes: the server keeps what arrived.
    await new Promise<void>((resolve) => {
      const req = http.request(url, {
        method: 'PATCH',
        headers: tusHeaders(user.authorization, {
          'upload-offset': '0',
          'content-type': 'application/offset+octet-stream',
          'content-length': String(video.length),
        }),
      });
      req.on('error', () => resolve());
      req.write(video.subarray(0, sent), () => setImmediate(() => req.destroy()));
    });
    const offset = await waitFor(
      async () => {
        const res = await head(url, user.authorization);
        const at = Number(res.headers.get('upload-offset'));
        return res.status === 200 && at > 0 ? at : undefined;
      },
      { what: 'the server to keep the bytes of the cut PATCH' },
    );
    expect(offset).toBeLessThanOrEqual(sent);
    // As a gateway killed mid-PATCH leaves it: a chunk past what the document records, the document dirty.
    const db = stack.mongo.db('videos');
    const _id = new ObjectId(idOf(url));
    const doc = await db.collection('resumable_uploads').findOne({ _id });
    await db.collection('fs.chunks').insertOne({ files_id: _id, n: doc!.chunks + 1, data: Buffer.alloc(10) });
    await db.collection('resumable_uploads').updateOne({ _id }, { $set: { dirty: true } });
    expect((await patch(url, user.authorization, offset, video.subarray(offset))).status).toBe(204);
    expect(sha(await readGridFsFile(stack.mongo, 'videos', idOf(url)))).toBe(sha(video));
    expect(await db.collection('fs.chunks').countDocuments({ files_id: _id })).toBe(Math.ceil(video.length / (255 * 1024)));
    expect(await drainQueue(stack.videoQueue)).toHaveLength(1);
  });

  it('when a PATCH names the wrong offset, then 409 and nothing changes', async () => {
    const user = await signIn(stack);
    const url = absolute(stack.url, (await create(stack.url, user.authorization, video.length)).headers.get('location')!);
    expect((await patch(url, user.authorization, 0, video.subarray(0, 300_000))).status).toBe(204);
    const res = await patch(url, user.authorization, 10, video.subarray(10, 20));
    expect(res.status).toBe(409);
    expect((await jsonOf(res)).error.code).toBe('offset_conflict');
    expect((await head(url, user.authorization)).headers.get('upload-offset')).toBe('300000');
    expect((await fetch(url, { method: 'DELETE', headers: tusHeaders(user.authorization) })).status).toBe(204);
    expect(await kept(stack.mongo, idOf(url))).toEqual({ upload: 0, chunks: 0, files: 0, jobs: 0 });
  });

  it('when two gateways share one database, then an upload begun on one is finished on the other, and a stalled holder lets go', async () => {
    const shared = { RESUMABLE_UPLOAD_LOCK_MS: '900', VIDEO_QUEUE: uniqueName('video') };
    const a = await startStack(shared, stack);
    const b = await startStack(shared, stack);
    try {
      const user = await signIn(a);
      const location = (await create(a.url, user.authorization, video.length)).headers.get('location')!;
      expect((await patch(absolute(a.url, location), user.authorization, 0, video.subarray(0, 400_000))).status).toBe(204);
      // A PATCH on A that stalls after a few bytes holds the lock; B asks it to let go, then goes on.
      const stalled = http.request(absolute(a.url, location), {
        method: 'PATCH',
        headers: tusHeaders(user.authorization, { 'upload-offset': '400000', 'content-type': 'application/offset+octet-stream', 'content-length': '100000' }),
      });
      const stalledAnswer = new Promise<{ status: number; offset: string | undefined }>((resolve) => {
        stalled.on('response', (res) => resolve({ status: res.statusCode ?? 0, offset: res.headers['upload-offset'] as string | undefined }));
        stalled.on('error', () => resolve({ status: 0, offset: undefined }));
      });
      stalled.write(video.subarray(400_000, 400_100));
      await waitFor(
        async () =>
          (await a.mongo
            .db('videos')
            .collection<{ _id: string }>('resumable_upload_locks')
            .countDocuments({ _id: idOf(location) })) === 1,
        {
          what: 'the stalled PATCH to hold the lock',
        },
      );
      const onB = absolute(b.url, location);
      const res = await head(onB, user.authorization);
      expect(res.status).toBe(200);
      const offset = Number(res.headers.get('upload-offset'));
      expect(offset).toBeGreaterThanOrEqual(400_000);
      expect(offset).toBeLessThanOrEqual(400_100);
      // The holder was not left hanging: it ended its request, telling its client where the upload stands.
      expect(await stalledAnswer).toEqual({ status: 204, offset: String(offset) });
      stalled.destroy();
      expect((await patch(onB, user.authorization, offset, video.subarray(offset))).status).toBe(204);
      expect(sha(await readGridFsFile(b.mongo, 'videos', idOf(location)))).toBe(sha(video));
      expect(await drainQueue(a.videoQueue)).toHaveLength(1);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('when another user, or nobody, tries an upload, then 404 (401 without a token) and it stays as it was; a fresh token of the owner goes on', async () => {
    const { email, password } = await addUser(stack.authConfig);
    const login = async () =>
      `Bearer ${await (await fetch(`${stack.url}/login`, { method: 'POST', headers: { authorization: basic(email, password) } })).text()}`;
    const owner = await login();
    const other = await signIn(stack);
    const url = absolute(stack.url, (await create(stack.url, owner, video.length)).headers.get('location')!);
    expect((await patch(url, owner, 0, video.subarray(0, 100_000))).status).toBe(204);
    expect((await head(url, other.authorization)).status).toBe(404);
    const stranger = await patch(url, other.authorization, 100_000, video.subarray(100_000));
    expect(stranger.status).toBe(404);
    expect((await jsonOf(stranger)).error.code).toBe('upload_not_found');
    expect((await fetch(url, { method: 'DELETE', headers: tusHeaders(other.authorization) })).status).toBe(404);
    expect((await fetch(url, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0' } })).status).toBe(401);
    expect((await head(url, owner)).headers.get('upload-offset')).toBe('100000');
    // A token that ran out during a long upload: the client logs in again and goes on with the new one.
    const fresh = await login();
    expect((await patch(url, fresh, 100_000, video.subarray(100_000))).status).toBe(204);
    expect(await drainQueue(stack.videoQueue)).toHaveLength(1);
  });

  it('when an upload is over MAX_UPLOAD_BYTES, not media, or over the quota, then it is refused with nothing kept', async () => {
    const limited = await startStack({ MAX_UPLOAD_BYTES: String(video.length - 1), USER_STORAGE_QUOTA_BYTES: String(video.length + 1000) }, stack);
    try {
      const user = await signIn(limited);
      const big = await create(limited.url, user.authorization, video.length);
      expect(big.status).toBe(413);
      expect((await jsonOf(big)).error.code).toBe('upload_too_large');
      expect((await create(limited.url, user.authorization, 0)).status).toBe(415);

      const text = Buffer.from('#EXTM3U\n#EXT-X-TARGETDURATION:10\n'.repeat(400));
      const location = (await create(limited.url, user.authorization, text.length)).headers.get('location')!;
      const refused = await patch(absolute(limited.url, location), user.authorization, 0, text);
      expect(refused.status).toBe(415);
      expect((await jsonOf(refused)).error.code).toBe('unsupported_media_type');
      expect(await kept(limited.mongo, idOf(location))).toEqual({ upload: 0, chunks: 0, files: 0, jobs: 0 });

      // Two uploads that each fit but not together: the second is refused while the first is unfinished.
      const first = await create(limited.url, user.authorization, video.length - 10);
      expect(first.status).toBe(201);
      const second = await create(limited.url, user.authorization, video.length - 10);
      expect(second.status).toBe(413);
      expect((await jsonOf(second)).error.code).toBe('quota_exceeded');
    } finally {
      await limited.stop();
    }
  });

  it('when a user opens more unfinished uploads than MAX_JOBS_IN_FLIGHT, even all at once, then the rest are 429 and not kept', async () => {
    const capped = await startStack({ MAX_JOBS_IN_FLIGHT: '3' }, stack);
    try {
      const user = await signIn(capped);
      const burst = await Promise.all(Array.from({ length: 8 }, () => create(capped.url, user.authorization, video.length)));
      const statuses = burst.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 201).length).toBeLessThanOrEqual(3);
      expect(statuses.every((s) => s === 201 || s === 429)).toBe(true);
      const open = () => capped.mongo.db('videos').collection('resumable_uploads').countDocuments({ owner: user.email, completed: false });
      // Let every slot be taken, one after another, then one more is refused.
      while ((await open()) < 3) expect((await create(capped.url, user.authorization, video.length)).status).toBe(201);
      expect(await open()).toBe(3);
      const refused = await create(capped.url, user.authorization, video.length);
      expect(refused.status).toBe(429);
      expect((await jsonOf(refused)).error.code).toBe('too_many_jobs');
      // A multipart upload counts them too: the slots are taken whichever way the next upload comes.
      const multipart = await uploadFile(capped, user.authorization, [{ name: 'lecture.mp4', data: video }]);
      expect(multipart.status).toBe(429);
      expect((await jsonOf(multipart)).error.code).toBe('too_many_jobs');

      // Ending one (termination) frees its slot.
      const one = await capped.mongo.db('videos').collection('resumable_uploads').findOne({ owner: user.email, completed: false });
      const url = `${capped.url}/uploads/${one!._id.toHexString()}`;
      expect((await fetch(url, { method: 'DELETE', headers: tusHeaders(user.authorization) })).status).toBe(204);
      expect((await create(capped.url, user.authorization, video.length)).status).toBe(201);
      expect(await open()).toBe(3);
    } finally {
      await capped.stop();
    }
  });

  it('when an upload is abandoned, then the expiry sweep removes its chunks and document, and the client is told it is gone', async () => {
    const user = await signIn(stack);
    const url = absolute(stack.url, (await create(stack.url, user.authorization, video.length)).headers.get('location')!);
    expect((await patch(url, user.authorization, 0, video.subarray(0, 700_000))).status).toBe(204);
    expect((await kept(stack.mongo, idOf(url))).chunks).toBeGreaterThan(0);
    const swept = await stack.gateway.resumable.sweep(new Date(Date.now() + 25 * 3600_000));
    expect(swept.expired).toBeGreaterThanOrEqual(1);
    expect(await kept(stack.mongo, idOf(url))).toEqual({ upload: 0, chunks: 0, files: 0, jobs: 0 });
    expect((await head(url, user.authorization)).status).toBe(404);
  });

  it('when the store failed right after the last byte, then the sweep writes the files document and records the job', async () => {
    const user = await signIn(stack);
    const url = await tusUpload(stack.url, user.authorization, video);
    const id = idOf(url);
    await drainQueue(stack.videoQueue);
    // As a gateway leaves it when MongoDB went away between the last chunk and the files document.
    const db = stack.mongo.db('videos');
    await db.collection('fs.files').deleteOne({ _id: new ObjectId(id) });
    await db.collection('jobs').deleteOne({ _id: new ObjectId(id) });
    await db.collection('job_dispatches').deleteMany({ _id: new ObjectId(id) });
    await db.collection('resumable_uploads').updateOne({ _id: new ObjectId(id) }, { $set: { completed: false, job_recorded: false } });
    expect((await head(absolute(stack.url, url), user.authorization)).headers.get('upload-offset')).toBe(String(video.length));

    const swept = await stack.gateway.resumable.sweep(new Date(Date.now() + 120_000));
    expect(swept.recorded).toBe(1);
    expect(sha(await readGridFsFile(stack.mongo, 'videos', id))).toBe(sha(video));
    expect((await drainQueue(stack.videoQueue)).map((m) => m.body)).toEqual([{ video_fid: id, mp3_fid: null, username: user.email }]);
    expect((await stack.gateway.resumable.sweep(new Date(Date.now() + 120_000))).recorded).toBe(0);
  });

  it('when the broker is down as an upload completes, then the upload is accepted and its message published once the broker is back', async () => {
    const rabbit = new URL(inject('servers').rabbitUrl);
    const proxy = await new TcpProxy(rabbit.hostname, Number(rabbit.port || 5672)).start();
    rabbit.host = `127.0.0.1:${proxy.port}`;
    const viaProxy = await startStack({ RABBITMQ_URL: rabbit.toString(), DISPATCH_STALE_MS: '300', DISPATCH_SWEEP_INTERVAL_MS: '200' }, stack);
    try {
      const user = await signIn(viaProxy);
      await proxy.stop();
      await waitFor(() => !viaProxy.gateway.amqp.connected, { what: 'gateway to notice the broker is gone' });
      const url = await tusUpload(viaProxy.url, user.authorization, video, { chunkSize: 400_000 });
      const id = idOf(url);
      expect(await kept(viaProxy.mongo, id)).toMatchObject({ files: 1, jobs: 1 });
      expect(await queueDepth(inject('servers').rabbitUrl, viaProxy.videoQueue)).toBe(0);
      await proxy.start(proxy.port);
      await waitFor(async () => (await queueDepth(inject('servers').rabbitUrl, viaProxy.videoQueue)) === 1, {
        timeoutMs: 30_000,
        what: 'the sweep to publish the held-up message',
      });
      // A later round finds it confirmed: never published twice.
      await viaProxy.gateway.dispatcher.sweep();
      const messages = await drainQueue(viaProxy.videoQueue);
      expect(messages.map((m) => m.body)).toEqual([{ video_fid: id, mp3_fid: null, username: user.email }]);
    } finally {
      await viaProxy.stop();
      await proxy.stop();
    }
  });

  it('when the server is asked what it supports, then tus 1.0 with creation, termination and expiration, and MAX_UPLOAD_BYTES', async () => {
    const res = await fetch(`${stack.url}/uploads/`, { method: 'OPTIONS' });
    expect(res.status).toBe(204);
    expect(res.headers.get('tus-version')).toBe('1.0.0');
    expect(res.headers.get('tus-extension')?.split(',')).toEqual(expect.arrayContaining(['creation', 'termination', 'expiration']));
    expect(Number(res.headers.get('tus-max-size'))).toBeGreaterThan(0);
  });
});
