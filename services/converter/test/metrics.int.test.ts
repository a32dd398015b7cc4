import { readFile } from 'node:fs/promises';
import { encodeMessage } from '@mp3converter/shared/contracts';
import type { MongoClient } from '@mp3converter/shared/storage';
import { makeVideo, metricValue, publishRaw, scrape, uniqueEmail, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupQueues, collect, mongoClient, newQueues, rabbitUrl, slowFfmpeg, startWorker, storeVideoAsGateway } from './harness.js';

let mongo: MongoClient;
let tone: Buffer;
beforeAll(async () => {
  mongo = mongoClient();
  const made = await makeVideo({ seconds: 3 });
  tone = await readFile(made.path);
  await made.cleanup();
});
afterAll(async () => {
  await mongo.close();
});

describe('converter metrics', () => {
  it('when a video published through the shared publisher is converted, then its queue wait, conversion time and × realtime are recorded', async () => {
    const q = newQueues();
    const { worker } = await startWorker(q);
    try {
      const owner = uniqueEmail();
      const fid = await storeVideoAsGateway(mongo, tone, owner);
      await worker.amqp.publish(q.video, encodeMessage({ video_fid: fid, mp3_fid: null, username: owner }));
      await collect(q.mp3, 1);
      const samples = await waitFor(
        async () => {
          const s = await scrape(worker.http.url);
          return metricValue(s, 'queue_messages_settled_total', { queue: q.video, outcome: 'done' }) === 1 && s;
        },
        { what: 'the delivery settled as done' },
      );
      expect(metricValue(samples, 'converter_queue_wait_seconds_count')).toBe(1);
      expect(metricValue(samples, 'converter_queue_wait_seconds_sum')).toBeGreaterThanOrEqual(0);
      expect(metricValue(samples, 'converter_conversion_seconds_count')).toBe(1);
      expect(metricValue(samples, 'converter_conversion_seconds_sum')).toBeGreaterThan(0);
      expect(metricValue(samples, 'converter_conversion_realtime_ratio_count')).toBe(1);
      // Three seconds of audio encode in well under three seconds.
      expect(metricValue(samples, 'converter_conversion_realtime_ratio_bucket', { le: '1' })).toBe(0);
      expect(metricValue(samples, 'converter_failures_total')).toBe(0);
      // Converted whole: copied, not served.
      expect(metricValue(samples, 'converter_video_read_bytes_total', { how: 'copied' })).toBe(tone.length);
      expect(metricValue(samples, 'converter_video_read_bytes_total', { how: 'served' })).toBe(0);
      expect(metricValue(samples, 'queue_consumers', { queue: q.video })).toBe(1);
      expect(metricValue(samples, 'broker_connected')).toBe(1);
    } finally {
      await worker.stop(1_000);
      await cleanupQueues(q);
    }
  });

  it('when a job times out on every attempt, then a retry, the timeouts, the give-up and the dead letter are counted, and the dead-letter depth shows it', async () => {
    const q = newQueues();
    const { worker } = await startWorker(q, { FFMPEG_PATH: await slowFfmpeg(5), FFMPEG_TIMEOUT_MS: '300', MAX_ATTEMPTS: '2' });
    try {
      const owner = uniqueEmail();
      const fid = await storeVideoAsGateway(mongo, tone, owner);
      await worker.amqp.publish(q.video, encodeMessage({ video_fid: fid, mp3_fid: null, username: owner }));
      await publishRaw(rabbitUrl(), q.video, '{not json');
      await collect(q.failed, 1);
      const samples = await waitFor(
        async () => {
          const s = await scrape(worker.http.url);
          return metricValue(s, 'queue_messages', { queue: `${q.video}.dead` }) === 2 && s;
        },
        { what: 'two dead letters in the queue' },
      );
      expect(metricValue(samples, 'queue_messages_settled_total', { queue: q.video, outcome: 'retry' })).toBe(1);
      expect(metricValue(samples, 'queue_messages_settled_total', { queue: q.video, outcome: 'dead' })).toBe(2);
      expect(metricValue(samples, 'converter_failures_total', { reason: 'timeout' })).toBe(2);
      expect(metricValue(samples, 'converter_failures_total', { reason: 'gave_up' })).toBe(1);
      expect(metricValue(samples, 'converter_failures_total', { reason: 'invalid_message' })).toBe(1);
      expect(metricValue(samples, 'converter_conversion_seconds_count')).toBe(0);
    } finally {
      await worker.stop(1_000);
      await cleanupQueues(q);
    }
  });
});
