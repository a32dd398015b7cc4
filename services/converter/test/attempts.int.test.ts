import { readFile } from 'node:fs/promises';
import { listDeadLetters, replayDeadLetters } from '@mp3converter/shared/amqp';
import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import type { MongoClient } from '@mp3converter/shared/storage';
import { TcpProxy, makeVideo, queueDepth, uniqueEmail, waitFor } from '@mp3converter/shared/testing';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupQueues,
  collect,
  mongoClient,
  newQueues,
  processesMentioning,
  publishVideo,
  rabbitUrl,
  slowFfmpeg,
  slowTool,
  spawnWorker,
  startWorker,
  storeVideoAsGateway,
} from './harness.js';

let mongo: MongoClient;
let tone: Buffer;
let cleanup: () => Promise<void>;
const jobOf = (fid: string) => mongoJobStore(mongo).get(fid);

beforeAll(async () => {
  mongo = mongoClient();
  const made = await makeVideo({ seconds: 3 });
  cleanup = made.cleanup;
  tone = await readFile(made.path);
});
afterAll(async () => {
  await mongo.close();
  await cleanup();
});

describe('attempts counted where redeliveries cannot lose them', () => {
  it('when a job kills its worker every time, then after MAX_ATTEMPTS claims it is failed, the user told and the message dead-lettered', async () => {
    const q = newQueues();
    const slow = await slowTool('ffmpeg', 20);
    const owner = uniqueEmail();
    const fid = await storeVideoAsGateway(mongo, tone, owner);
    await publishVideo(q.video, fid, owner);
    try {
      // Two workers in turn take the job and are killed in the middle of it, as an OOM kill would.
      for (const attempt of [1, 2]) {
        const worker = spawnWorker(q, { FFMPEG_PATH: slow.path, MAX_ATTEMPTS: '2' });
        await waitFor(
          async () => {
            const job = await jobOf(fid);
            return job?.state === 'converting' && job.attempts === attempt;
          },
          { timeoutMs: 30_000, what: `claim ${attempt}` },
        );
        worker.kill();
        await worker.exited;
      }
      // The third claim finds the attempts used up: no conversion is even started.
      const last = spawnWorker(q, { MAX_ATTEMPTS: '2' });
      try {
        const [dead] = await collect(`${q.video}.dead`, 1, 30_000);
        expect(dead!.body).toMatchObject({ video_fid: fid, username: owner });
        expect(dead!.headers['x-dead-reason']).toBe('gave up after 2 attempts: the conversion was interrupted every time');
        const [notice] = await collect(q.failed, 1);
        expect(notice!.body).toMatchObject({ video_fid: fid, status: 'failed', reason: 'gave up after 2 attempts: the conversion was interrupted every time' });
        expect(await jobOf(fid)).toMatchObject({ state: 'failed', attempts: 3 });
        expect(await queueDepth(rabbitUrl(), q.video)).toBe(0);
      } finally {
        last.kill();
        await last.exited;
      }
    } finally {
      // The killed workers' ffmpeg wrappers outlive them (their own process groups); they were started here.
      for (const line of await processesMentioning(slow.dir)) process.kill(Number(line.trim().split(/\s+/)[0]), 'SIGKILL');
      await cleanupQueues(q);
    }
  });

  it('when the connection drops mid-job and the broker hands the job back to the same worker, then it runs once: one attempt, one mp3 message', async () => {
    const q = newQueues();
    const broker = new URL(rabbitUrl());
    const proxy = await new TcpProxy(broker.hostname, Number(broker.port || 5672)).start();
    const viaProxy = new URL(rabbitUrl());
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const w = await startWorker(q, { RABBITMQ_URL: viaProxy.toString(), FFMPEG_PATH: await slowFfmpeg(2) });
    const owner = uniqueEmail();
    const fid = await storeVideoAsGateway(mongo, tone, owner);
    try {
      await publishVideo(q.video, fid, owner);
      await waitFor(async () => (await jobOf(fid))?.state === 'converting', { what: 'the claim' });
      const reconnected = new Promise((resolve) => w.worker.amqp.once('connected', resolve));
      // The broker sees the connection die and puts the unacked delivery back; the worker reconnects.
      await proxy.stop();
      await proxy.start();
      await reconnected;
      await waitFor(async () => (await jobOf(fid))?.state === 'done', { timeoutMs: 30_000, what: 'the job to be done' });
      // The redelivery, deferred while the first run went on, comes back and finds the job done.
      const retries = [200, 400].map((d) => `${q.video}.retry.${d}ms`);
      await waitFor(
        async () => {
          for (const queue of [q.video, ...retries]) if ((await queueDepth(rabbitUrl(), queue)) > 0) return false;
          return w.worker.amqp.drain(0);
        },
        { timeoutMs: 30_000, what: 'every delivery of the job settled' },
      );
      expect(await jobOf(fid)).toMatchObject({ state: 'done', attempts: 1 });
      expect((await collect(q.mp3, 1)).map((m) => m.body.video_fid)).toEqual([fid]);
      expect(await queueDepth(rabbitUrl(), q.mp3)).toBe(0);
      expect(await queueDepth(rabbitUrl(), `${q.video}.dead`)).toBe(0);
    } finally {
      await w.worker.stop(1_000);
      await proxy.stop();
      await cleanupQueues(q);
    }
  });

  it('when the retries run out, then the dead letter can be listed and replayed, and the replay converts with fresh attempts', async () => {
    const q = newQueues();
    const failing = await startWorker(q, { FFMPEG_PATH: await slowFfmpeg(5), FFMPEG_TIMEOUT_MS: '300', MAX_ATTEMPTS: '2' });
    const owner = uniqueEmail();
    const fid = await storeVideoAsGateway(mongo, tone, owner);
    try {
      await publishVideo(q.video, fid, owner);
      await collect(q.failed, 1, 30_000);
      await failing.worker.stop(1_000);
      expect(await jobOf(fid)).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^gave up after 2 attempts: the conversion took longer than/) });

      const listed = await listDeadLetters(rabbitUrl(), `${q.video}.dead`, 10);
      expect(listed).toEqual([expect.objectContaining({ originalQueue: q.video, reason: expect.stringMatching(/^gave up after 2 attempts/) })]);
      expect(await queueDepth(rabbitUrl(), `${q.video}.dead`)).toBe(1);

      const working = await startWorker(q, { MAX_ATTEMPTS: '2' });
      try {
        expect(await replayDeadLetters(rabbitUrl(), `${q.video}.dead`, { limit: 10 })).toHaveLength(1);
        const [mp3] = await collect(q.mp3, 1, 30_000);
        expect(mp3!.body.video_fid).toBe(fid);
        await waitFor(async () => (await jobOf(fid))?.state === 'done', { what: 'the job to be done' });
        expect(await jobOf(fid)).toMatchObject({ state: 'done', attempts: 1 });
        expect(await queueDepth(rabbitUrl(), `${q.video}.dead`)).toBe(0);
      } finally {
        await working.worker.stop(1_000);
      }
    } finally {
      await cleanupQueues(q);
    }
  });
});

describe('dead-letter queues', () => {
  async function declare(queue: string, args?: Record<string, unknown>, message?: string): Promise<void> {
    const conn = await amqp.connect(rabbitUrl());
    try {
      const ch = await conn.createConfirmChannel();
      await ch.assertQueue(queue, { durable: true, ...(args ? { arguments: args } : {}) });
      if (message) {
        ch.sendToQueue(queue, Buffer.from(message), { persistent: true });
        await ch.waitForConfirms();
      }
    } finally {
      await conn.close();
    }
  }

  it('when the worker starts, then its dead-letter queue is bounded in length and age', async () => {
    const q = newQueues();
    const w = await startWorker(q, { DEAD_LETTER_MAX_LENGTH: '50', DEAD_LETTER_MAX_AGE_MS: '60000' });
    try {
      // Declaring it again with exactly these bounds is accepted only if it has them.
      await declare(`${q.video}.dead`, { 'x-max-length': 50, 'x-message-ttl': 60000, 'x-overflow': 'drop-head' });
    } finally {
      await w.worker.stop(1_000);
      await cleanupQueues(q);
    }
  });

  it('when an old unbounded dead-letter queue is empty, then it is declared again with its bounds', async () => {
    const q = newQueues();
    await declare(`${q.video}.dead`);
    const w = await startWorker(q, { DEAD_LETTER_MAX_LENGTH: '50', DEAD_LETTER_MAX_AGE_MS: '60000' });
    try {
      await declare(`${q.video}.dead`, { 'x-max-length': 50, 'x-message-ttl': 60000, 'x-overflow': 'drop-head' });
    } finally {
      await w.worker.stop(1_000);
      await cleanupQueues(q);
    }
  });

  it('when an old unbounded dead-letter queue holds messages, then it is kept as it is and the worker still runs', async () => {
    const q = newQueues();
    await declare(`${q.video}.dead`, undefined, 'an old dead letter');
    const w = await startWorker(q);
    try {
      expect(await (await fetch(`${w.worker.http.url}/readyz`)).json()).toMatchObject({ status: 'ready' });
      expect(await queueDepth(rabbitUrl(), `${q.video}.dead`)).toBe(1);
      const owner = uniqueEmail();
      const fid = await storeVideoAsGateway(mongo, tone, owner);
      await publishVideo(q.video, fid, owner);
      expect((await collect(q.mp3, 1))[0]!.body.video_fid).toBe(fid);
    } finally {
      await w.worker.stop(1_000);
      await cleanupQueues(q);
    }
  });
});

describe('liveness', () => {
  it('when a job shows no progress for longer than STALL_TIMEOUT_MS, then /healthz fails, and recovers once the job is gone', async () => {
    const q = newQueues();
    const w = await startWorker(q, { FFMPEG_PATH: await slowFfmpeg(30), STALL_TIMEOUT_MS: '1500', FFPROBE_TIMEOUT_MS: '1000' });
    try {
      expect((await fetch(`${w.worker.http.url}/healthz`)).status).toBe(200);
      const owner = uniqueEmail();
      const fid = await storeVideoAsGateway(mongo, tone, owner);
      await publishVideo(q.video, fid, owner);
      const unhealthy = await waitFor(
        async () => {
          const res = await fetch(`${w.worker.http.url}/healthz`);
          return res.status === 503 ? ((await res.json()) as { status: string; reason: string }) : undefined;
        },
        { timeoutMs: 20_000, what: '/healthz to fail' },
      );
      expect(unhealthy).toMatchObject({ status: 'unhealthy', reason: expect.stringContaining(fid) });
      w.worker.runner.abortAll();
      await waitFor(async () => (await fetch(`${w.worker.http.url}/healthz`)).status === 200, { what: '/healthz to recover' });
    } finally {
      await w.worker.stop(1_000);
      await cleanupQueues(q);
    }
  });
});
