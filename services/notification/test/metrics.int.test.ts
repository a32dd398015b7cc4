import { encodeMessage } from '@mp3converter/shared/contracts';
import { ObjectId } from '@mp3converter/shared/storage';
import { metricValue, publishRaw, scrape, uniqueEmail, waitFor } from '@mp3converter/shared/testing';
import { describe, expect, it } from 'vitest';
import { freePort, rabbit, startWorker } from './harness.js';
import { type TestSmtp, startSmtp } from './smtp.js';

const mp3Message = (username: string) => ({ video_fid: new ObjectId().toHexString(), mp3_fid: new ObjectId().toHexString(), username });

describe('notification metrics', () => {
  it('when SMTP is down and then back, and a recipient is refused, then retried, sent and failed emails, the settles and the dead letter are counted', async () => {
    const port = await freePort();
    const { worker, queues, stop } = await startWorker(port);
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
      await stop();
      await smtp?.close();
    }
  });
});
