import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { signatureOf, signedDownloadPath } from '@mp3converter/shared/links';
import { ObjectId } from '@mp3converter/shared/storage';
import { TEST_LINK_SECRET, captureLogger, jsonOf, makeVideo, uniqueName, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Queues, type Worker, cleanupQueues, startWorker } from '../../converter/test/harness.js';
import { mp3IdFor } from '../../converter/src/domain/mp3-id.js';
import { NOTHING_LEFT, type Stack, drainQueue, leftovers, readVideo, signIn, startStack, uploadFile } from './harness.js';

let stack: Stack;
let queues: Queues;
let converter: Worker;
let video: Buffer;
let cleanup: () => Promise<void>;
const gatewayLog = captureLogger('gateway');

beforeAll(async () => {
  stack = await startStack({ RETENTION_SWEEP_INTERVAL_MS: '3600000' }, undefined, gatewayLog.logger);
  queues = { video: stack.videoQueue, mp3: uniqueName('mp3'), failed: uniqueName('failed') };
  converter = await startWorker(queues);
  const made = await makeVideo({ seconds: 3 });
  cleanup = made.cleanup;
  video = await readVideo(made.path);
});
afterAll(async () => {
  await converter.worker.stop(1_000);
  await stack.stop();
  await cleanupQueues(queues);
  await cleanup();
});

/** Uploads and waits until the MP3 is there: the job's video id and MP3 id. */
async function converted(authorization: string, query = ''): Promise<{ fid: string; mp3Fid: string }> {
  const res = await uploadFile(stack, authorization, [{ name: 'talk.mp4', data: video }], query);
  expect(res.status).toBe(202);
  const fid = (await jsonOf(res)).video_fid as string;
  await waitFor(async () => (await mongoJobStore(stack.mongo).get(fid))?.state === 'done', { timeoutMs: 30_000, what: 'the job to be done' });
  return { fid, mp3Fid: mp3IdFor(fid) };
}

const linkFor = (mp3Fid: string, owner: string, expires: number) => `${stack.url}${signedDownloadPath({ mp3Fid, owner, expires }, TEST_LINK_SECRET)}`;
const inAWeek = () => Math.floor(Date.now() / 1000) + 7 * 86_400;

describe('output options on the upload', () => {
  it('when the options are bad, then 400 naming every problem, before anything is stored', async () => {
    const user = await signIn(stack);
    const started = new Date();
    const res = await uploadFile(stack, user.authorization, [{ name: 'a.mp4', data: video }], '?bitrate=100&channels=3&quality=2&volume=11');
    expect(res.status).toBe(400);
    const { error } = await jsonOf(res);
    expect(error.code).toBe('invalid_options');
    for (const word of ['bitrate', 'channels', 'volume']) expect(error.message).toContain(word);
    expect(await leftovers(stack.mongo, user.email, started)).toEqual(NOTHING_LEFT);
  });

  it('when options are given, then they travel in the video message and show on the job', async () => {
    const user = await signIn(stack);
    const idle = await startStack({}, { auth: stack.auth, authConfig: stack.authConfig });
    try {
      const res = await uploadFile(idle, user.authorization, [{ name: 'a.mp4', data: video }], '?bitrate=96&sample_rate=44100&channels=1&tags=drop');
      expect(res.status).toBe(202);
      const { video_fid } = await jsonOf(res);
      const [message] = await drainQueue(idle.videoQueue);
      expect(message!.body).toEqual({
        video_fid,
        mp3_fid: null,
        username: user.email,
        options: { bitrate: 96, sample_rate: 44100, channels: 1, tags: 'drop' },
      });
      const job = await jsonOf(await fetch(`${idle.url}/jobs/${video_fid}`, { headers: { authorization: user.authorization } }));
      expect(job.options).toEqual({ bitrate: 96, sample_rate: 44100, channels: 1, tags: 'drop' });
    } finally {
      await idle.stop();
    }
  });
});

describe('signed download links', () => {
  it('when a link is opened with no token, then the MP3 comes, with Range too, as long as it has not expired', async () => {
    const user = await signIn(stack);
    const { mp3Fid } = await converted(user.authorization);
    const withToken = Buffer.from(await (await fetch(`${stack.url}/download?fid=${mp3Fid}`, { headers: { authorization: user.authorization } })).arrayBuffer());
    const link = linkFor(mp3Fid, user.email, inAWeek());
    const res = await fetch(link);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    expect(Buffer.from(await res.arrayBuffer()).equals(withToken)).toBe(true);
    const part = await fetch(link, { headers: { range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(withToken.subarray(10, 20))).toBe(true);
    // Mail scanners open links first: it keeps working.
    expect((await fetch(link)).status).toBe(200);
  });

  it('when a link expired, or its id, owner, expiry or signature were altered, then 403, and nothing is sent', async () => {
    const user = await signIn(stack);
    const other = await signIn(stack);
    const { mp3Fid } = await converted(user.authorization);
    const expires = inAWeek();
    const sig = signatureOf({ mp3Fid, owner: user.email, expires }, TEST_LINK_SECRET);
    const expired = await fetch(linkFor(mp3Fid, user.email, Math.floor(Date.now() / 1000) - 1));
    expect(expired.status).toBe(403);
    expect((await jsonOf(expired)).error.code).toBe('link_expired');
    for (const url of [
      `${stack.url}/download?fid=${mp3Fid}&expires=${expires + 3600}&sig=${sig}`,
      `${stack.url}/download?fid=${mp3Fid}&expires=${expires}&sig=${sig.slice(0, -2)}xx`,
      `${stack.url}/download?fid=${mp3Fid}&expires=${expires}&sig=`,
      `${stack.url}/download?fid=${mp3Fid}&expires=soon&sig=${sig}`,
      linkFor(mp3Fid, other.email, expires),
    ]) {
      const res = await fetch(url);
      expect(res.status, url).toBe(403);
      expect((await jsonOf(res)).error.code, url).toBe('invalid_link');
    }
  });

  it('when the owner asks for a fresh link, then it works in a plain client; a job that is not theirs is 404', async () => {
    const user = await signIn(stack);
    const { fid } = await converted(user.authorization);
    const res = await fetch(`${stack.url}/jobs/${fid}/link`, { method: 'POST', headers: { authorization: user.authorization } });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const { url, expires_at } = await jsonOf(res);
    expect(url.startsWith('http://mp3converter.test/download?fid=')).toBe(true);
    expect(Date.parse(expires_at)).toBeGreaterThan(Date.now() + 6 * 86_400_000);
    expect((await fetch(url.replace('http://mp3converter.test', stack.url))).status).toBe(200);
    const stranger = await signIn(stack);
    expect((await fetch(`${stack.url}/jobs/${fid}/link`, { method: 'POST', headers: { authorization: stranger.authorization } })).status).toBe(404);
  });

  it('when links are opened (good, altered, expired, malformed) and a fresh one is asked for, then no log line carries a signature', async () => {
    const user = await signIn(stack);
    const { fid, mp3Fid } = await converted(user.authorization);
    const expires = inAWeek();
    const sig = signatureOf({ mp3Fid, owner: user.email, expires }, TEST_LINK_SECRET);
    const expiredSig = signatureOf({ mp3Fid, owner: user.email, expires: 1 }, TEST_LINK_SECRET);
    const fresh = await jsonOf(await fetch(`${stack.url}/jobs/${fid}/link`, { method: 'POST', headers: { authorization: user.authorization } }));
    const freshSig = new URL(fresh.url as string).searchParams.get('sig');
    expect(freshSig).toBeTruthy();
    const statuses = [];
    for (const url of [
      linkFor(mp3Fid, user.email, expires),
      `${stack.url}/download?fid=${mp3Fid}&expires=${expires}&sig=${sig.slice(0, -2)}xx`,
      `${stack.url}/download?fid=${mp3Fid}&expires=1&sig=${expiredSig}`,
      `${stack.url}/download?fid=nothex&expires=${expires}&sig=${sig}`,
    ]) {
      const res = await fetch(url);
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses).toEqual([200, 403, 403, 400]);
    // The positive signal first: the requests above are in the log, so their absence below means something.
    await waitFor(async () => gatewayLog.lines().filter((l) => l.path === '/download').length >= 4, { what: 'the downloads to be logged' });
    const log = JSON.stringify(gatewayLog.lines());
    for (const secret of [sig, sig.slice(0, -2), expiredSig, freshSig!]) expect(log).not.toContain(secret);
  });
});

describe('retention', () => {
  it('when a job expires, then the sweep removes its MP3 and video, and downloads (token or link) answer 410', async () => {
    const user = await signIn(stack);
    const { fid, mp3Fid } = await converted(user.authorization);
    const link = linkFor(mp3Fid, user.email, inAWeek());
    await stack.mongo
      .db('videos')
      .collection('jobs')
      .updateOne({ _id: new ObjectId(fid) }, { $set: { expires_at: new Date(Date.now() - 1000) } });
    expect(await stack.gateway.retention.sweep()).toBeGreaterThanOrEqual(1);
    expect(
      await stack.mongo
        .db('mp3s')
        .collection('fs.files')
        .countDocuments({ _id: new ObjectId(mp3Fid) }),
    ).toBe(0);
    expect(
      await stack.mongo
        .db('mp3s')
        .collection('fs.chunks')
        .countDocuments({ files_id: new ObjectId(mp3Fid) }),
    ).toBe(0);
    expect(
      await stack.mongo
        .db('videos')
        .collection('fs.files')
        .countDocuments({ _id: new ObjectId(fid) }),
    ).toBe(0);
    const byToken = await fetch(`${stack.url}/download?fid=${mp3Fid}`, { headers: { authorization: user.authorization } });
    expect(byToken.status).toBe(410);
    expect((await jsonOf(byToken)).error.code).toBe('mp3_expired');
    expect((await fetch(link)).status).toBe(410);
    const job = await jsonOf(await fetch(`${stack.url}/jobs/${fid}`, { headers: { authorization: user.authorization } }));
    expect(job).toMatchObject({ state: 'done', expired: true, download_url: null });
  });

  it('when an expired MP3 is being downloaded, then the sweep leaves it for a later round', async () => {
    const user = await signIn(stack);
    const { fid, mp3Fid } = await converted(user.authorization);
    await stack.mongo
      .db('videos')
      .collection('jobs')
      .updateOne({ _id: new ObjectId(fid) }, { $set: { expires_at: new Date(Date.now() - 1000) } });
    // A download in progress on some gateway, as its mark says.
    const mark = await stack.mongo
      .db('mp3s')
      .collection('downloads')
      .insertOne({ mp3_fid: mp3Fid, until: new Date(Date.now() + 60_000) });
    await stack.gateway.retention.sweep();
    expect(
      await stack.mongo
        .db('mp3s')
        .collection('fs.files')
        .countDocuments({ _id: new ObjectId(mp3Fid) }),
    ).toBe(1);
    await stack.mongo.db('mp3s').collection('downloads').deleteOne({ _id: mark.insertedId });
    await stack.gateway.retention.sweep();
    expect(
      await stack.mongo
        .db('mp3s')
        .collection('fs.files')
        .countDocuments({ _id: new ObjectId(mp3Fid) }),
    ).toBe(0);
  });
});

describe('quotas', () => {
  it('when an upload would pass the storage quota, then 413 naming the quota, and nothing of it is kept', async () => {
    const small = await startStack({ USER_STORAGE_QUOTA_BYTES: String(video.length + 1000) }, { auth: stack.auth, authConfig: stack.authConfig });
    try {
      const user = await signIn(small);
      expect((await uploadFile(small, user.authorization, [{ name: 'one.mp4', data: video }])).status).toBe(202);
      const started = new Date();
      const second = await uploadFile(small, user.authorization, [{ name: 'two.mp4', data: video }]);
      expect(second.status).toBe(413);
      const { error } = await jsonOf(second);
      expect(error.code).toBe('quota_exceeded');
      expect(error.message).toMatch(/storage quota of \d/);
      const left = await leftovers(small.mongo, user.email, started);
      expect(left).toEqual({ ...NOTHING_LEFT, files: 1, jobs: 1 });
    } finally {
      await small.stop();
    }
  });

  it('when a user has as many jobs in flight as allowed, then the next upload is 429 with the limit', async () => {
    const busy = await startStack({ MAX_JOBS_IN_FLIGHT: '1' }, { auth: stack.auth, authConfig: stack.authConfig });
    try {
      const user = await signIn(busy);
      expect((await uploadFile(busy, user.authorization, [{ name: 'one.mp4', data: video }])).status).toBe(202);
      const res = await uploadFile(busy, user.authorization, [{ name: 'two.mp4', data: video }]);
      expect(res.status).toBe(429);
      expect((await jsonOf(res)).error).toMatchObject({ code: 'too_many_jobs', message: expect.stringContaining('the limit is 1') });
    } finally {
      await busy.stop();
    }
  });
});
