import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { jsonOf, makeVideo, publishConfirmed, uniqueName, waitFor } from '@mp3converter/shared/testing';
import { inject } from 'vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTHING_LEFT, type Stack, drainQueue, leftovers, readVideo, signIn, startStack, uploadFile } from './harness.js';

const run = promisify(execFile);

/** What the tests publish themselves to see whether the broker takes messages; left out of what is checked. */
const PROBE = '{"probe":true}';
const withoutProbes = <T extends { body: Record<string, unknown> }>(messages: T[]) => messages.filter((m) => m.body.probe !== true);

/**
 * A broker that refuses what is published to `queue`, for real: a policy of length 0 that rejects publishes
 * (RabbitMQ answers the publisher confirm with a nack). The queue's own declaration is left as it is. Both
 * ways, the broker's own answer to a probe says when the change holds.
 */
async function refusePublishesTo(queue: string): Promise<{ lift(): Promise<void> }> {
  const rabbit = inject('servers').rabbitUrl;
  const name = uniqueName('refuse');
  await run('rabbitmqctl', ['set_policy', '--apply-to', 'queues', '--priority', '100', name, `^${queue}$`, '{"max-length":0,"overflow":"reject-publish"}']);
  await waitFor(async () => !(await publishConfirmed(rabbit, queue, PROBE)), { intervalMs: 200, what: `the broker to refuse publishes to ${queue}` });
  return {
    async lift() {
      await run('rabbitmqctl', ['clear_policy', name]);
      await waitFor(() => publishConfirmed(rabbit, queue, PROBE), { intervalMs: 200, what: `the broker to take publishes to ${queue} again` });
    },
  };
}

let stack: Stack;
let video: Buffer;
let cleanupVideo: () => Promise<void>;
const started = new Date();

beforeAll(async () => {
  stack = await startStack();
  const made = await makeVideo({ seconds: 1 });
  video = await readVideo(made.path);
  cleanupVideo = made.cleanup;
});
afterAll(async () => {
  await stack.stop();
  await cleanupVideo();
});

describe('a broker that refuses the publish', () => {
  it('when the broker nacks the video message, then 503 queue_unavailable and nothing of the upload stays; once it takes messages again, the upload is queued', async () => {
    const user = await signIn(stack);
    const refusal = await refusePublishesTo(stack.videoQueue);
    try {
      const res = await uploadFile(stack, user.authorization, [{ name: 'a.mp4', data: video }]);
      expect(res.status).toBe(503);
      expect((await jsonOf(res)).error.code).toBe('queue_unavailable');
      expect(await leftovers(stack.mongo, user.email, started)).toEqual(NOTHING_LEFT);
      expect(stack.gateway.amqp.connected).toBe(true);
    } finally {
      await refusal.lift();
    }
    const again = await uploadFile(stack, user.authorization, [{ name: 'a.mp4', data: video }]);
    expect(again.status).toBe(202);
    expect(withoutProbes(await drainQueue(stack.videoQueue))).toHaveLength(1);
  });

  it('when the broker nacks the message of a finished resumable upload, then the upload is kept with its job pending, and the sweep publishes it once the broker takes messages again', async () => {
    const sweeping = await startStack({ DISPATCH_STALE_MS: '300', DISPATCH_SWEEP_INTERVAL_MS: '200' }, stack);
    try {
      const user = await signIn(sweeping);
      const tus = { authorization: user.authorization, 'tus-resumable': '1.0.0' };
      const created = await fetch(`${sweeping.url}/uploads/`, {
        method: 'POST',
        headers: { ...tus, 'upload-length': String(video.length), 'upload-metadata': `filename ${Buffer.from('a.mp4').toString('base64')}` },
      });
      expect(created.status).toBe(201);
      const url = new URL(created.headers.get('location')!, sweeping.url).toString();
      const fid = url.split('/').pop()!;
      const refusal = await refusePublishesTo(sweeping.videoQueue);
      try {
        const done = await fetch(url, {
          method: 'PATCH',
          headers: { ...tus, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
          body: new Uint8Array(video),
        });
        expect(done.status).toBe(204);
        expect(await mongoJobStore(sweeping.mongo).get(fid)).toMatchObject({ state: 'queued', dispatch: 'pending' });
        // The sweep tries again while the broker still refuses: nothing is published, nothing is lost.
        await sweeping.gateway.dispatcher.sweep();
        expect(withoutProbes(await drainQueue(sweeping.videoQueue))).toEqual([]);
        expect(await mongoJobStore(sweeping.mongo).get(fid)).toMatchObject({ state: 'queued', dispatch: 'pending' });
      } finally {
        await refusal.lift();
      }
      const messages: { body: Record<string, unknown> }[] = [];
      await waitFor(
        async () => {
          messages.push(...withoutProbes(await drainQueue(sweeping.videoQueue)));
          return messages.length > 0;
        },
        { timeoutMs: 30_000, what: 'the sweep to publish the refused message' },
      );
      // A later round finds it confirmed: never published twice.
      await sweeping.gateway.dispatcher.sweep();
      messages.push(...withoutProbes(await drainQueue(sweeping.videoQueue)));
      expect(messages.map((m) => m.body)).toEqual([{ video_fid: fid, mp3_fid: null, username: user.email }]);
    } finally {
      await sweeping.stop();
    }
  });
});
