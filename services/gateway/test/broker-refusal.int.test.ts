import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { jsonOf, makeVideo, uniqueName, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTHING_LEFT, type Stack, drainQueue, leftovers, readVideo, signIn, startStack, uploadFile } from './harness.js';

const run = promisify(execFile);

/**
 * A broker that refuses what is published to `queue`, for real: a policy of length 0 that rejects publishes
 * (RabbitMQ answers the publisher confirm with a nack). The queue's own declaration is left as it is.
 */
async function refusePublishesTo(queue: string): Promise<{ lift(): Promise<void> }> {
  const name = uniqueName('refuse');
  await run('rabbitmqctl', ['set_policy', '--apply-to', 'queues', '--priority', '100', name, `^${queue}$`, '{"max-length":0,"overflow":"reject-publish"}']);
  const policyOf = async () => {
    const { stdout } = await run('rabbitmqctl', ['list_queues', '--quiet', '--no-table-headers', 'name', 'policy']);
    return stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .find(([q]) => q === queue)?.[1];
  };
  await waitFor(async () => (await policyOf()) === name, { what: `the policy on ${queue}` });
  return {
    async lift() {
      await run('rabbitmqctl', ['clear_policy', name]);
      await waitFor(async () => (await policyOf()) !== name, { what: `the policy gone from ${queue}` });
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
    expect(await drainQueue(stack.videoQueue)).toHaveLength(1);
  });
});
