import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { MongoClient } from '@mp3converter/shared/storage';
import { deleteQueues, drainQueue, makeVideo, publishRaw, queueDepth, uniqueEmail, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupQueues, collect, mongoClient, newQueues, publishVideo, rabbitUrl, startWorker, storeVideoAsGateway } from './harness.js';

const run = promisify(execFile);
const root = new URL('../../..', import.meta.url).pathname;

/** The operator's command as it runs in a pod (`node dist/dead-letters.js …`), here from its sources. */
async function deadLetters(service: 'converter' | 'notification', ...args: string[]): Promise<{ code: number; lines: string[] }> {
  try {
    const { stdout } = await run(process.execPath, ['--conditions=source', '--import', 'tsx', `services/${service}/src/dead-letters.ts`, ...args], {
      cwd: root,
      env: { PATH: process.env.PATH, RABBITMQ_URL: rabbitUrl() },
    });
    return { code: 0, lines: stdout.trim().split('\n') };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string };
    return { code: failed.code ?? -1, lines: (failed.stdout ?? '').trim().split('\n') };
  }
}

const letters = (lines: string[]) => lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

let mongo: MongoClient;
let tone: Buffer;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  mongo = mongoClient();
  const made = await makeVideo({ seconds: 1 });
  cleanup = made.cleanup;
  tone = await readFile(made.path);
});
afterAll(async () => {
  await mongo.close();
  await cleanup();
});

describe('dead letters', () => {
  it('when more messages are given up on than DEAD_LETTER_MAX_LENGTH, then the oldest go; the command lists what is left, replays it, and refuses bad usage', async () => {
    const q = newQueues();
    const w = await startWorker(q, { DEAD_LETTER_MAX_LENGTH: '2' });
    let stopping: Promise<void> | undefined;
    const stopped = () => (stopping ??= w.worker.stop(1_000));
    try {
      for (const body of ['not json 1', 'not json 2', 'not json 3']) await publishRaw(rabbitUrl(), q.video, body);
      // One consumer, one at a time: once a valid job after them is converted, the three were settled.
      const owner = uniqueEmail();
      await publishVideo(q.video, await storeVideoAsGateway(mongo, tone, owner), owner);
      await collect(q.mp3, 1);
      await stopped();

      const listed = await deadLetters('converter', 'list', `${q.video}.dead`, '--limit', '10');
      expect(listed.code).toBe(0);
      expect(letters(listed.lines).map((l) => l.body)).toEqual(['not json 2', 'not json 3']);
      expect(letters(listed.lines)[0]).toMatchObject({ originalQueue: q.video, reason: expect.any(String), deadAt: expect.any(String) });
      expect(await queueDepth(rabbitUrl(), `${q.video}.dead`)).toBe(2);

      const replayed = await deadLetters('converter', 'replay', `${q.video}.dead`, '--limit', '1');
      expect(replayed.code).toBe(0);
      expect(letters(replayed.lines).map((l) => l.body)).toEqual(['not json 2']);
      const back = await drainQueue(rabbitUrl(), q.video);
      expect(back.map((m) => m.raw.toString())).toEqual(['not json 2']);
      expect(back[0]!.headers).toMatchObject({ 'x-replayed-at': expect.any(String) });
      expect(back[0]!.headers).not.toHaveProperty('x-dead-reason');
      expect(await queueDepth(rabbitUrl(), `${q.video}.dead`)).toBe(1);

      expect((await deadLetters('converter', 'purge', `${q.video}.dead`)).code).toBe(2);
      expect((await deadLetters('converter', 'list', `${q.video}.dead`, '--limit', 'all')).code).toBe(2);
      expect((await deadLetters('converter', 'list', `${q.video}.nothing-here`)).code).toBe(1);
    } finally {
      await stopped();
      await cleanupQueues(q);
    }
  });

  it('when dead letters are older than DEAD_LETTER_MAX_AGE_MS, then they are dropped', async () => {
    const q = newQueues();
    const w = await startWorker(q, { DEAD_LETTER_MAX_AGE_MS: '1000' });
    try {
      await publishRaw(rabbitUrl(), q.video, 'not json');
      await waitFor(async () => (await queueDepth(rabbitUrl(), `${q.video}.dead`)) === 1, { what: 'the dead letter' });
      await waitFor(async () => (await queueDepth(rabbitUrl(), `${q.video}.dead`)) === 0, { timeoutMs: 10_000, what: 'the dead letter to expire' });
    } finally {
      await w.worker.stop(1_000);
      await cleanupQueues(q);
    }
  });

  it("when the notification's image runs the command, then it is the same one", async () => {
    const q = newQueues();
    try {
      await publishRaw(rabbitUrl(), `${q.mp3}.dead`, 'an old dead letter');
      const listed = await deadLetters('notification', 'list', `${q.mp3}.dead`);
      expect(listed.code).toBe(0);
      expect(letters(listed.lines).map((l) => l.body)).toEqual(['an old dead letter']);
      expect((await deadLetters('notification')).code).toBe(2);
    } finally {
      await deleteQueues(rabbitUrl(), `${q.mp3}.dead`);
    }
  });
});
