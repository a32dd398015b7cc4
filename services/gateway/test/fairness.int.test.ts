import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { encodeMessage } from '@mp3converter/shared/contracts';
import { jsonOf, makeVideo, publishRaw, storeGridFsFile, uniqueEmail, uniqueName, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Queues, cleanupQueues, startWorker } from '../../converter/test/harness.js';
import { type Stack, readVideo, signIn, startStack, uploadFile } from './harness.js';
import { openEvents } from './sse.js';

let video: Buffer;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  const made = await makeVideo({ seconds: 1 });
  cleanup = made.cleanup;
  video = await readVideo(made.path);
});
afterAll(() => cleanup());

const upload = async (stack: Stack, authorization: string): Promise<string> => {
  const res = await uploadFile(stack, authorization, [{ name: 'lecture.mp4', data: video }]);
  expect(res.status).toBe(202);
  return (await jsonOf(res)).video_fid as string;
};

describe('a fair share of the queue per user', () => {
  it('when one user uploads ten and another one, with a share of 2, then the other’s starts before the first user’s third — across a gateway restart', async () => {
    const first = await startStack({ USER_JOB_SLOTS: '2', DISPATCH_SWEEP_INTERVAL_MS: '200', QUEUE_POSITION_INTERVAL_MS: '200' });
    // Jobs other test files left queued in this shared store would stand in line with these (files run one at a time).
    await first.mongo
      .db('videos')
      .collection('jobs')
      .updateMany({ state: 'queued' }, { $set: { state: 'cancelled' } });
    const queues: Queues = { video: first.videoQueue, mp3: uniqueName('mp3'), failed: uniqueName('failed') };
    const alice = await signIn(first);
    const bob = await signIn(first);
    const a: string[] = [];
    for (let i = 0; i < 10; i++) a.push(await upload(first, alice.authorization));
    const b = await upload(first, bob.authorization);

    // Nothing converts yet: the places in line are those the round robin will give (counted from Alice's
    // first: other tests' jobs may wait in the same store).
    const position = async (fid: string, authorization: string) =>
      (await jsonOf(await fetch(`${first.url}/status?fid=${fid}`, { headers: { authorization } }))).position as number;
    const start = await position(a[0]!, alice.authorization);
    expect(start).toBe(1);
    const places = [await position(a[1]!, alice.authorization), await position(b, bob.authorization), await position(a[2]!, alice.authorization)];
    expect(places).toEqual([2, 3, 4]);
    expect(await position(a[9]!, alice.authorization)).toBe(11);
    // The event stream tells each owner the same places.
    const [bobEvents, aliceEvents] = await Promise.all([openEvents(first.url, bob.authorization), openEvents(first.url, alice.authorization)]);
    const placeOn = async (stream: typeof bobEvents, fid: string) =>
      (await stream.next((e) => e.data.video_fid === fid && typeof e.data.position === 'number', `the position of ${fid}`)).data.position;
    expect([await placeOn(aliceEvents, a[1]!), await placeOn(bobEvents, b), await placeOn(aliceEvents, a[2]!)]).toEqual([2, 3, 4]);
    bobEvents.close();
    aliceEvents.close();

    // The gateway that took the uploads goes (its queue and what is on it stay); another one, and a converter, come.
    await first.gateway.stop(1_000);
    await first.mongo.close();
    const second = await startStack(
      { VIDEO_QUEUE: queues.video, USER_JOB_SLOTS: '2', DISPATCH_SWEEP_INTERVAL_MS: '200' },
      { auth: first.auth, authConfig: first.authConfig },
    );
    const converter = await startWorker(queues, { CONCURRENCY: '1' });
    try {
      const jobs = mongoJobStore(second.mongo);
      await waitFor(async () => (await Promise.all([...a, b].map((fid) => jobs.get(fid)))).every((j) => j?.state === 'done'), {
        timeoutMs: 120_000,
        what: 'every job to be done',
      });
      const startedAt = async (fid: string) => (await jobs.get(fid))!.startedAt!.getTime();
      expect(await startedAt(b)).toBeLessThan(await startedAt(a[2]!));
      // Alice's jobs ran in her order, never more than two of hers at once on the queue.
      const aliceStarts = await Promise.all(a.map(startedAt));
      expect(aliceStarts).toEqual([...aliceStarts].sort((x, y) => x - y));
    } finally {
      await converter.worker.stop(1_000);
      await second.stop();
      await first.auth.stop();
      await cleanupQueues(queues);
    }
  }, 180_000);

  it("when the original's three-field message is published straight to the queue, then it converts, bypassing the shares", async () => {
    const stack = await startStack({ USER_JOB_SLOTS: '1' });
    const queues: Queues = { video: stack.videoQueue, mp3: uniqueName('mp3'), failed: uniqueName('failed') };
    const converter = await startWorker(queues);
    try {
      const owner = uniqueEmail('original');
      const fid = await storeGridFsFile(stack.mongo, 'videos', video);
      await publishRaw(inject('servers').rabbitUrl, queues.video, encodeMessage({ video_fid: fid, mp3_fid: null, username: owner }));
      await waitFor(async () => (await mongoJobStore(stack.mongo).get(fid))?.state === 'done', { timeoutMs: 30_000, what: 'the job to be done' });
    } finally {
      await converter.worker.stop(1_000);
      await stack.stop();
      await cleanupQueues(queues);
    }
  });
});
