import { createServer } from 'node:net';
import { encodeMessage } from '@mp3converter/shared/contracts';
import { ObjectId } from '@mp3converter/shared/storage';
import { TEST_LINK_SECRET, captureLogger, deleteQueues, metricValue, publishRaw, scrape, uniqueEmail, uniqueName, waitFor } from '@mp3converter/shared/testing';
import { describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startNotificationWorker } from '../src/worker.js';
import { type TestSmtp, startSmtp } from './smtp.js';

const rabbit = () => inject('servers').rabbitUrl;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const mp3Message = (username: string) => ({ video_fid: new ObjectId().toHexString(), mp3_fid: new ObjectId().toHexString(), username });

describe('notification metrics', () => {
  it('when SMTP is down and then back, and a recipient is refused, then retried, sent and failed emails, the settles and the dead letter are counted', async () => {
    const port = await freePort();
    const queues = { mp3: uniqueName('mp3'), failed: uniqueName('failed') };
    const worker = await startNotificationWorker(
      loadConfig({
        HEALTH_PORT: '0',
        MONGODB_URI: inject('servers').mongoUrl,
        RABBITMQ_URL: rabbit(),
        MP3_QUEUE: queues.mp3,
        FAILED_QUEUE: queues.failed,
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(port),
        SMTP_TIMEOUT_MS: '2000',
        MAIL_FROM: 'mp3converter <noreply@mp3converter.test>',
        PUBLIC_GATEWAY_URL: 'http://mp3converter.com',
        RETRY_DELAYS_MS: '300,600,900',
        DOWNLOAD_LINK_SECRET: TEST_LINK_SECRET,
      }),
      captureLogger('notification').logger,
    );
    await worker.amqp.start();
    let smtp: TestSmtp | undefined;
    const value = async (name: string, labels: Record<string, string>) => metricValue(await scrape(worker.http.url), name, labels);
    try {
      await publishRaw(rabbit(), queues.mp3, encodeMessage(mp3Message(uniqueEmail())));
      await waitFor(async () => (await value('notification_emails_total', { queue: queues.mp3, result: 'retried' })) >= 1, {
        what: 'a retried email while SMTP is down',
      });
      smtp = await startSmtp({ port, reject: (to) => (to.startsWith('refused') ? 550 : undefined) });
      await waitFor(async () => (await value('notification_emails_total', { queue: queues.mp3, result: 'sent' })) === 1, { what: 'the email sent' });

      await publishRaw(rabbit(), queues.mp3, encodeMessage(mp3Message(uniqueEmail('refused'))));
      await waitFor(async () => (await value('queue_messages', { queue: `${queues.mp3}.dead` })) === 1, { what: 'the dead letter in its queue' });
      const samples = await scrape(worker.http.url);
      expect(metricValue(samples, 'notification_emails_total', { queue: queues.mp3, result: 'failed' })).toBe(1);
      expect(metricValue(samples, 'notification_emails_total', { queue: queues.mp3, result: 'sent' })).toBe(1);
      expect(metricValue(samples, 'queue_messages_settled_total', { queue: queues.mp3, outcome: 'retry' })).toBe(
        metricValue(samples, 'notification_emails_total', { queue: queues.mp3, result: 'retried' }),
      );
      expect(metricValue(samples, 'queue_messages_settled_total', { queue: queues.mp3, outcome: 'done' })).toBe(1);
      expect(metricValue(samples, 'queue_messages_settled_total', { queue: queues.mp3, outcome: 'dead' })).toBe(1);
      expect(metricValue(samples, 'notification_emails_total', { queue: queues.failed, result: 'sent' })).toBe(0);
      expect(metricValue(samples, 'queue_consumers', { queue: queues.failed })).toBe(1);
    } finally {
      await worker.stop(1_000);
      await smtp?.close();
      const all = [queues.mp3, queues.failed].flatMap((q) => [q, `${q}.dead`, `${q}.retry.300ms`, `${q}.retry.600ms`, `${q}.retry.900ms`]);
      await deleteQueues(rabbit(), ...all);
    }
  });
});
