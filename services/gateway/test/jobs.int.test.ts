import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { ObjectId } from '@mp3converter/shared/storage';
import { jsonOf, makeVideo, pacedFfmpeg, queueDepth, uniqueName, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Queues, type Worker, cleanupQueues, collect, processesMentioning, startWorker } from '../../converter/test/harness.js';
import { mp3IdFor } from '../../converter/src/domain/mp3-id.js';
import { openEvents } from './sse.js';
import { type Stack, readVideo, signIn, startStack, uploadFile } from './harness.js';

/**
 * Two gateways and two converters in this process, on one database and one set of queues, as replicas run:
 * whichever gateway a request reaches and whichever converter takes a job, the job behaves the same.
 */
let a: Stack;
let b: Stack;
let queues: Queues;
let converters: Worker[];
let long: Buffer; // 20 min of audio: a few seconds of conversion, long enough to watch and to cancel
let short: Buffer;
const cleanups: (() => Promise<void>)[] = [];
const rabbit = () => inject('servers').rabbitUrl;

beforeAll(async () => {
  a = await startStack({ QUEUE_POSITION_INTERVAL_MS: '200', EVENTS_KEEPALIVE_MS: '500' });
  b = await startStack({ VIDEO_QUEUE: a.videoQueue, QUEUE_POSITION_INTERVAL_MS: '200' }, { auth: a.auth, authConfig: a.authConfig });
  queues = { video: a.videoQueue, mp3: uniqueName('mp3'), failed: uniqueName('failed') };
  const [longVideo, shortVideo] = await Promise.all([makeVideo({ seconds: 1200, fps: 1, width: 64, height: 48 }), makeVideo({ seconds: 2 })]);
  cleanups.push(longVideo.cleanup, shortVideo.cleanup);
  [long, short] = await Promise.all([readVideo(longVideo.path), readVideo(shortVideo.path)]);
  converters = await Promise.all([startWorker(queues, { PROGRESS_SNAPSHOT_MS: '500' }), startWorker(queues, { PROGRESS_SNAPSHOT_MS: '500' })]);
});
afterAll(async () => {
  await Promise.all(converters.map((c) => c.worker.stop(1_000)));
  await b.stop();
  await a.stop();
  await cleanupQueues(queues);
  for (const c of cleanups) await c();
});

async function upload(stack: Stack, authorization: string, data: Buffer, name = 'talk.mp4'): Promise<string> {
  const res = await uploadFile(stack, authorization, [{ name, data }]);
  expect(res.status).toBe(202);
  return (await jsonOf(res)).video_fid as string;
}

const getJob = async (stack: Stack, authorization: string, fid: string) => {
  const res = await fetch(`${stack.url}/jobs/${fid}`, { headers: { authorization } });
  return { status: res.status, body: await jsonOf(res) };
};

const deleteJob = (stack: Stack, authorization: string, fid: string) => fetch(`${stack.url}/jobs/${fid}`, { method: 'DELETE', headers: { authorization } });

const waitForState = (stack: Stack, authorization: string, fid: string, state: string) =>
  waitFor(async () => ((await getJob(stack, authorization, fid)).body.state === state ? true : undefined), { timeoutMs: 60_000, what: `job ${fid} ${state}` });

describe('the event stream', () => {
  it('when a job converts, then its owner sees it on any gateway: progress in order, 100 only at done, and nobody else sees it', async () => {
    const owner = await signIn(a);
    const stranger = await signIn(a);
    const mine = await openEvents(b.url, owner.authorization);
    const theirs = await openEvents(b.url, stranger.authorization);
    try {
      expect(mine.status).toBe(200);
      await mine.next((e) => e.event === 'ready', 'ready');
      await theirs.next((e) => e.event === 'ready', 'ready');
      const fid = await upload(a, owner.authorization, long);
      const done = await mine.next((e) => e.data.video_fid === fid && e.data.state === 'done', 'done', 60_000);
      expect(done.data).toMatchObject({ percent: 100, mp3_fid: mp3IdFor(fid) });

      const ofJob = mine.events.filter((e) => e.data.video_fid === fid);
      expect(ofJob[0]!.data).toMatchObject({ state: 'queued' });
      const percents = ofJob.filter((e) => e.data.type === 'progress').map((e) => e.data.percent as number);
      expect(percents.length).toBeGreaterThan(0);
      expect(percents).toEqual([...percents].sort((x, y) => x - y));
      expect(Math.max(...percents)).toBeLessThan(100);
      expect(ofJob.find((e) => e.data.type === 'progress' && e.data.speed > 0)?.data).toMatchObject({
        speed: expect.any(Number),
        eta_seconds: expect.any(Number),
      });
      expect(ofJob.at(-1)!.data.state).toBe('done');
      const ids = ofJob.map((e) => Number(e.id));
      expect(ids).toEqual([...ids].sort((x, y) => x - y));
      expect(ofJob.every((e) => !('owner' in e.data))).toBe(true);

      // The stranger's stream carries the stranger's own job and never the owner's.
      const theirFid = await upload(b, stranger.authorization, short);
      await theirs.next((e) => e.data.video_fid === theirFid && e.data.state === 'done', 'the stranger’s own job', 60_000);
      expect(theirs.events.some((e) => e.data.video_fid === fid)).toBe(false);
    } finally {
      mine.close();
      theirs.close();
    }
  });

  it('when a client reconnects with Last-Event-ID, then it is told where each job changed since stands now', async () => {
    const owner = await signIn(a);
    const first = await openEvents(a.url, owner.authorization);
    // Events are only promised from `ready` on.
    await first.next((e) => e.event === 'ready', 'ready');
    const fid = await upload(a, owner.authorization, short);
    const queued = await first.next((e) => e.data.video_fid === fid && e.data.state === 'queued', 'queued');
    first.close();
    await waitForState(a, owner.authorization, fid, 'done');

    const again = await openEvents(b.url, owner.authorization, queued.id);
    try {
      const replayed = await again.next((e) => e.data.video_fid === fid, 'the replay');
      expect(replayed.data).toMatchObject({ state: 'done', mp3_fid: mp3IdFor(fid), percent: 100 });
      expect(Number(replayed.id)).toBeGreaterThan(Number(queued.id));
    } finally {
      again.close();
    }
  });

  it('when a change was recorded a moment before the last event the client saw (replicas’ clocks a little apart), then the replay still carries it', async () => {
    const owner = await signIn(a);
    const earlier = await upload(a, owner.authorization, short);
    await waitForState(a, owner.authorization, earlier, 'done');
    const first = await openEvents(a.url, owner.authorization);
    await first.next((e) => e.event === 'ready', 'ready');
    const later = await upload(a, owner.authorization, short);
    const seen = await first.next((e) => e.data.video_fid === later && e.data.state === 'queued', 'queued');
    first.close();
    // The earlier job's last change, as a replica whose clock is a second behind recorded it.
    await a.mongo
      .db('videos')
      .collection('jobs')
      .updateOne({ _id: new ObjectId(earlier) }, { $set: { updated_at: new Date(Number(seen.id) - 1_000) } });

    const again = await openEvents(b.url, owner.authorization, seen.id);
    try {
      const replayed = await again.next((e) => e.data.video_fid === earlier, 'the earlier job in the replay');
      expect(replayed.data).toMatchObject({ state: 'done', mp3_fid: mp3IdFor(earlier) });
      expect(Number(replayed.id)).toBeGreaterThanOrEqual(Number(seen.id));
    } finally {
      again.close();
    }
  });

  it('when a user opens more streams than allowed, then 429, and keep-alive comments flow on the open ones', async () => {
    const owner = await signIn(a);
    const open = await Promise.all(Array.from({ length: 5 }, () => openEvents(a.url, owner.authorization)));
    try {
      const extra = await openEvents(a.url, owner.authorization);
      expect(extra.status).toBe(429);
      await waitFor(() => open[0]!.comments > 0, { what: 'a keep-alive' });
    } finally {
      for (const s of open) s.close();
    }
  });

  it('when the token is missing, then 401, and the stream is never opened', async () => {
    expect((await fetch(`${a.url}/events`)).status).toBe(401);
  });
});

describe('the job resource', () => {
  it('when the owner lists jobs, then newest first, by pages, with state, filename, size, duration and the MP3 id; /status agrees', async () => {
    const owner = await signIn(a);
    const fids: string[] = [];
    for (const name of ['one.mp4', 'two.mp4', 'three.mp4']) fids.push(await upload(a, owner.authorization, short, name));
    for (const fid of fids) await waitForState(a, owner.authorization, fid, 'done');

    const page1 = await jsonOf(await fetch(`${b.url}/jobs?limit=2`, { headers: { authorization: owner.authorization } }));
    expect(page1.jobs.map((j: { video_fid: string }) => j.video_fid)).toEqual([fids[2], fids[1]]);
    expect(page1.next_cursor).toBe(fids[1]);
    const page2 = await jsonOf(await fetch(`${b.url}/jobs?limit=2&cursor=${page1.next_cursor}`, { headers: { authorization: owner.authorization } }));
    expect(page2).toMatchObject({ jobs: [{ video_fid: fids[0], filename: 'one.mp4' }], next_cursor: null });
    expect(page2.jobs[0]).toMatchObject({
      state: 'done',
      size: short.length,
      content_type: 'video/mp4',
      duration_seconds: expect.closeTo(2, 0),
      mp3_fid: mp3IdFor(fids[0]!),
      download_url: `/download?fid=${mp3IdFor(fids[0]!)}`,
      percent: 100,
      position: null,
    });
    const status = await jsonOf(await fetch(`${a.url}/status?fid=${fids[0]}`, { headers: { authorization: owner.authorization } }));
    expect(status).toEqual(page2.jobs[0]);

    const stranger = await signIn(a);
    expect((await jsonOf(await fetch(`${a.url}/jobs`, { headers: { authorization: stranger.authorization } }))).jobs).toEqual([]);
    expect((await getJob(a, stranger.authorization, fids[0]!)).status).toBe(404);
  });

  it.each([
    ['limit=0', 400],
    ['limit=1000', 400],
    ['cursor=nope', 400],
  ])('when GET /jobs?%s, then %i with the problem named', async (query, status) => {
    const owner = await signIn(a);
    const res = await fetch(`${a.url}/jobs?${query}`, { headers: { authorization: owner.authorization } });
    expect(res.status).toBe(status);
    expect((await jsonOf(res)).error.code).toBe('invalid_query');
  });

  it('when the cursor is another user’s job, then 400 invalid_cursor as JSON, and none of either user’s jobs', async () => {
    const owner = await signIn(a);
    const stranger = await signIn(a);
    const theirs = await upload(a, owner.authorization, short);
    const res = await fetch(`${b.url}/jobs?cursor=${theirs}`, { headers: { authorization: stranger.authorization } });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = await jsonOf(res);
    expect(body.error.code).toBe('invalid_cursor');
    expect(JSON.stringify(body)).not.toContain(theirs);
  });
});

describe('DELETE /jobs/{video_fid}', () => {
  it('when a job is converting, then the worker holding it stops: no ffmpeg left, no MP3, no message, no email, nothing unacked', async () => {
    // Its own gateways and converters, whose ffmpeg reads at 20 × real time: the 20 min source takes a minute,
    // so the cancel meets the conversion mid-way however fast the machine.
    const paced = await pacedFfmpeg(20);
    const shared = { auth: a.auth, authConfig: a.authConfig };
    const c = await startStack({ EVENTS_KEEPALIVE_MS: '500' }, shared);
    const d = await startStack({ VIDEO_QUEUE: c.videoQueue }, shared);
    const q = { video: c.videoQueue, mp3: uniqueName('mp3'), failed: uniqueName('failed') };
    const env = { PROGRESS_SNAPSHOT_MS: '500', FFMPEG_PATH: paced.path };
    const workers = await Promise.all([startWorker(q, env), startWorker(q, env)]);
    const owner = await signIn(c);
    const events = await openEvents(c.url, owner.authorization);
    try {
      await events.next((e) => e.event === 'ready', 'ready');
      const fid = await upload(c, owner.authorization, long);
      await events.next((e) => e.data.video_fid === fid && e.data.type === 'progress' && e.data.percent > 0, 'progress past 0 %', 60_000);
      const res = await deleteJob(d, owner.authorization, fid);
      expect(res.status).toBe(202);
      expect(await jsonOf(res)).toMatchObject({ video_fid: fid, state: 'converting', cancel_requested: true });
      await events.next((e) => e.data.video_fid === fid && e.data.state === 'cancelled', 'cancelled');
      expect((await getJob(c, owner.authorization, fid)).body).toMatchObject({ state: 'cancelled', reason: 'cancelled by its owner' });
      // Now final, the cancelled job itself can be deleted.
      expect((await deleteJob(c, owner.authorization, fid)).status).toBe(204);

      // A later job converts: by then the cancelled one was settled on its worker.
      const after = await upload(c, owner.authorization, short);
      await waitForState(c, owner.authorization, after, 'done');
      // No handler running on either converter: every delivery was settled (acked), none is held unacked.
      await waitFor(async () => (await Promise.all(workers.map((w) => w.worker.amqp.drain(0)))).every(Boolean), { what: 'both converters idle' });
      for (const w of workers) expect(await processesMentioning(w.tmpDir)).toEqual([]);
      expect(
        await a.mongo
          .db('mp3s')
          .collection('fs.files')
          .countDocuments({ _id: new ObjectId(mp3IdFor(fid)) }),
      ).toBe(0);
      expect(
        await a.mongo
          .db('videos')
          .collection('fs.files')
          .countDocuments({ _id: new ObjectId(fid) }),
      ).toBe(0);
      const announced = await collect(q.mp3, 1);
      expect(announced.map((m) => m.body.video_fid)).toEqual([after]);
      expect(await queueDepth(rabbit(), q.failed)).toBe(0);
      expect(await queueDepth(rabbit(), q.video)).toBe(0);
      expect(await queueDepth(rabbit(), `${q.video}.dead`)).toBe(0);
    } finally {
      events.close();
      await Promise.all(workers.map((w) => w.worker.stop(1_000)));
      await d.stop();
      await c.stop();
      await cleanupQueues(q);
      await paced.cleanup();
    }
  });

  it('when a job is done, then its MP3 and video are deleted and it is gone; DELETE again answers the same; a stranger gets 404', async () => {
    const owner = await signIn(a);
    const fid = await upload(a, owner.authorization, short);
    await waitForState(a, owner.authorization, fid, 'done');
    const stranger = await signIn(a);
    expect((await deleteJob(a, stranger.authorization, fid)).status).toBe(404);

    expect((await deleteJob(b, owner.authorization, fid)).status).toBe(204);
    expect(
      await a.mongo
        .db('mp3s')
        .collection('fs.files')
        .countDocuments({ _id: new ObjectId(mp3IdFor(fid)) }),
    ).toBe(0);
    expect(
      await a.mongo
        .db('mp3s')
        .collection('fs.chunks')
        .countDocuments({ files_id: new ObjectId(mp3IdFor(fid)) }),
    ).toBe(0);
    expect(
      await a.mongo
        .db('videos')
        .collection('fs.files')
        .countDocuments({ _id: new ObjectId(fid) }),
    ).toBe(0);
    expect((await getJob(a, owner.authorization, fid)).status).toBe(404);
    expect((await fetch(`${a.url}/download?fid=${mp3IdFor(fid)}`, { headers: { authorization: owner.authorization } })).status).toBe(404);
    expect((await deleteJob(a, owner.authorization, fid)).status).toBe(204);
  });

  it('when a bad id is given, then 400; an unknown one, 404', async () => {
    const owner = await signIn(a);
    expect((await deleteJob(a, owner.authorization, 'nope')).status).toBe(400);
    expect((await deleteJob(a, owner.authorization, new ObjectId().toHexString())).status).toBe(404);
  });
});

describe('a queued job', () => {
  let idle: Stack;
  let idleQueues: Queues;
  beforeAll(async () => {
    idle = await startStack({}, { auth: a.auth, authConfig: a.authConfig });
    idleQueues = { video: idle.videoQueue, mp3: uniqueName('mp3'), failed: uniqueName('failed') };
  });
  afterAll(async () => {
    await idle.stop();
    await cleanupQueues(idleQueues);
  });

  it('when it waits, then it shows its place in line; when cancelled, no worker ever converts it and nobody is emailed', async () => {
    const owner = await signIn(idle);
    const first = await upload(idle, owner.authorization, short, 'first.mp4');
    const second = await upload(idle, owner.authorization, short, 'second.mp4');
    const [p1, p2] = await Promise.all([getJob(idle, owner.authorization, first), getJob(idle, owner.authorization, second)]);
    expect(p1.body.state).toBe('queued');
    expect(p2.body.position).toBe((p1.body.position as number) + 1);

    const res = await deleteJob(idle, owner.authorization, first);
    expect(res.status).toBe(200);
    expect(await jsonOf(res)).toMatchObject({ state: 'cancelled', position: null });
    expect(
      await idle.mongo
        .db('videos')
        .collection('fs.files')
        .countDocuments({ _id: new ObjectId(first) }),
    ).toBe(0);

    const worker = await startWorker(idleQueues);
    try {
      await waitForState(idle, owner.authorization, second, 'done');
      expect((await getJob(idle, owner.authorization, first)).body.state).toBe('cancelled');
      expect((await collect(idleQueues.mp3, 1)).map((m) => m.body.video_fid)).toEqual([second]);
      expect(await queueDepth(rabbit(), idleQueues.failed)).toBe(0);
      expect(await mongoJobStore(idle.mongo).get(first)).toMatchObject({ attempts: 0 });
    } finally {
      await worker.worker.stop(1_000);
    }
  });
});
