import { TEST_LINK_SECRET, captureLogger, deleteQueues, metricValue, publishRaw, scrape, uniqueName, waitFor } from '@mp3converter/shared/testing';
import { createServer } from 'node:net';
import { inject } from 'vitest';
import { loadConfig } from '../src/config.js';
import { type NotificationWorker, startNotificationWorker } from '../src/worker.js';

export const rabbit = () => inject('servers').rabbitUrl;

export interface Harness {
  worker: NotificationWorker;
  queues: { mp3: string; failed: string };
  lines: () => Record<string, unknown>[];
  /** Publishes `body` to `queue` (the mp3 queue unless told), counted for `allHandled`. */
  publish(body: Buffer | string, queue?: string): Promise<void>;
  /**
   * How many messages of `queue` (the mp3 queue unless told) the worker has finished with, from its own
   * `queue_messages_settled_total`: acked as done or dead-lettered. A delivery sent on to a retry queue is
   * not finished; its copy is counted when it is.
   */
  handled(queue?: string): Promise<number>;
  /**
   * Waits until the worker has finished with every message `publish` sent, on both queues: a positive signal
   * that each of them, a duplicate included, was dealt with. Fails if it finished with more than were sent.
   */
  allHandled(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** A notification worker on its own queues, mailing through the SMTP server on `smtpPort`; its log lines kept. */
export async function startWorker(smtpPort: number): Promise<Harness> {
  const queues = { mp3: uniqueName('mp3'), failed: uniqueName('failed') };
  const { logger, lines } = captureLogger('notification');
  const worker = await startNotificationWorker(
    loadConfig({
      HEALTH_PORT: '0',
      MONGODB_URI: inject('servers').mongoUrl,
      RABBITMQ_URL: rabbit(),
      MP3_QUEUE: queues.mp3,
      FAILED_QUEUE: queues.failed,
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtpPort),
      SMTP_TIMEOUT_MS: '2000',
      MAIL_FROM: 'mp3converter <noreply@mp3converter.test>',
      PUBLIC_GATEWAY_URL: 'http://mp3converter.com',
      RETRY_DELAYS_MS: '300,600,900',
      DOWNLOAD_LINK_SECRET: TEST_LINK_SECRET,
    }),
    logger,
  );
  await worker.amqp.start();
  const handled = async (queue = queues.mp3) => {
    const samples = await scrape(worker.http.url);
    return (
      metricValue(samples, 'queue_messages_settled_total', { queue, outcome: 'done' }) +
      metricValue(samples, 'queue_messages_settled_total', { queue, outcome: 'dead' })
    );
  };
  const published = new Map<string, number>([
    [queues.mp3, 0],
    [queues.failed, 0],
  ]);
  return {
    worker,
    queues,
    lines,
    handled,
    async publish(body, queue = queues.mp3) {
      published.set(queue, (published.get(queue) ?? 0) + 1);
      await publishRaw(rabbit(), queue, body);
    },
    async allHandled(timeoutMs = 15_000) {
      for (const [queue, count] of published) {
        let seen = 0;
        await waitFor(async () => (seen = await handled(queue)) >= count, { timeoutMs, what: `the ${count} message(s) published to ${queue} handled` });
        if (seen > count) throw new Error(`${seen} messages of ${queue} handled where ${count} were published`);
      }
    },
    async stop() {
      await worker.stop(1_000);
      const all = [queues.mp3, queues.failed].flatMap((q) => [q, `${q}.dead`, `${q}.retry.300ms`, `${q}.retry.600ms`, `${q}.retry.900ms`]);
      await deleteQueues(rabbit(), ...all);
    },
  };
}

/** A port nothing listens on now: for an SMTP server that is to come later. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
