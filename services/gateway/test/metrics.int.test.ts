import { readFile } from 'node:fs/promises';
import { type Sample, TcpProxy, makeVideo, metricValue, scrape, waitFor } from '@mp3converter/shared/testing';
import * as tus from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Stack, signIn, startStack, uploadFile } from './harness.js';

let stack: Stack;
let video: Buffer;
beforeAll(async () => {
  const made = await makeVideo({ seconds: 1 });
  video = await readFile(made.path);
  await made.cleanup();
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const metrics = () => scrape(stack.gateway.health.url);
const moved = (before: Sample[], after: Sample[], name: string, labels: Record<string, string> = {}) =>
  metricValue(after, name, labels) - metricValue(before, name, labels);

describe('gateway metrics', () => {
  it('when a video is uploaded in one POST, then the upload, its bytes and duration, the request by route and the queued message are all there', async () => {
    const { authorization } = await signIn(stack);
    const before = await metrics();
    const res = await uploadFile(stack, authorization, [{ name: 'clip.mp4', data: video }]);
    expect(res.status).toBe(202);
    const { video_fid: fid } = (await res.json()) as { video_fid: string };
    expect((await fetch(`${stack.url}/status?fid=${fid}`, { headers: { authorization } })).status).toBe(200);
    const after = await metrics();
    expect(moved(before, after, 'gateway_uploads_total', { kind: 'multipart' })).toBe(1);
    expect(moved(before, after, 'gateway_upload_bytes_total', { kind: 'multipart' })).toBe(video.length);
    expect(moved(before, after, 'gateway_upload_duration_seconds_count', { kind: 'multipart' })).toBe(1);
    expect(moved(before, after, 'http_requests_total', { method: 'POST', route: '/upload', status: '202' })).toBe(1);
    expect(moved(before, after, 'http_requests_total', { method: 'GET', route: '/status', status: '200' })).toBe(1);
    expect(after.some((s) => s.labels.route?.includes(fid))).toBe(false);
    // Nothing consumes this test's queue: the broker holds the message, and says so at scrape time.
    await waitFor(async () => metricValue(await metrics(), 'queue_messages', { queue: stack.videoQueue }) === 1, { what: 'the queue depth at 1' });
    expect(metricValue(await metrics(), 'queue_consumers', { queue: stack.videoQueue })).toBe(0);
    expect((await fetch(`${stack.url}/metrics`)).status).toBe(404);
  });

  it('when a video is uploaded resumably in pieces, then it is counted once as a resumable upload with all its bytes', async () => {
    const { authorization } = await signIn(stack);
    const before = await metrics();
    await new Promise<void>((resolve, reject) => {
      const upload = new tus.Upload(video, {
        endpoint: `${stack.url}/uploads/`,
        headers: { authorization },
        metadata: { filename: 'clip.mp4', filetype: 'video/mp4' },
        chunkSize: Math.ceil(video.length / 3),
        retryDelays: [],
        storeFingerprintForResuming: false,
        onSuccess: () => resolve(),
        onError: reject,
      });
      upload.start();
    });
    const after = await metrics();
    expect(moved(before, after, 'gateway_uploads_total', { kind: 'resumable' })).toBe(1);
    expect(moved(before, after, 'gateway_upload_bytes_total', { kind: 'resumable' })).toBe(video.length);
    expect(moved(before, after, 'gateway_upload_duration_seconds_count', { kind: 'resumable' })).toBe(1);
    expect(moved(before, after, 'http_requests_total', { method: 'PATCH', route: '/uploads|/uploads/{*rest}', status: '204' })).toBe(3);
  });

  it('when the broker and MongoDB go away and come back, then a broker reconnect and a store reconnect are counted', async () => {
    const servers = inject('servers');
    const rabbit = new URL(servers.rabbitUrl);
    const mongo = new URL(servers.mongoUrl);
    const rabbitProxy = await new TcpProxy(rabbit.hostname, Number(rabbit.port || 5672)).start();
    const mongoProxy = await new TcpProxy(mongo.hostname, Number(mongo.port || 27017)).start();
    const viaRabbit = new URL(servers.rabbitUrl);
    viaRabbit.host = `127.0.0.1:${rabbitProxy.port}`;
    const viaMongo = new URL(servers.mongoUrl);
    viaMongo.host = `127.0.0.1:${mongoProxy.port}`;
    const flaky = await startStack(
      { RABBITMQ_URL: viaRabbit.toString(), MONGODB_URI: viaMongo.toString() },
      { auth: stack.auth, authConfig: stack.authConfig },
    );
    const checks = async () => ((await (await fetch(`${flaky.gateway.health.url}/readyz`)).json()) as { checks: Record<string, string> }).checks;
    const ready = async () => Object.values(await checks()).every((c) => c === 'ok');
    try {
      await waitFor(ready, { timeoutMs: 30_000, what: 'the gateway ready' });
      const before = await scrape(flaky.gateway.health.url);
      expect(metricValue(before, 'broker_connected')).toBe(1);
      await rabbitProxy.stop();
      await mongoProxy.stop();
      await waitFor(
        async () => {
          const now = await checks();
          return now.mongodb !== 'ok' && now.rabbitmq !== 'ok';
        },
        { timeoutMs: 30_000, what: 'the gateway to find both gone' },
      );
      await rabbitProxy.start();
      await mongoProxy.start();
      await waitFor(ready, { timeoutMs: 30_000, what: 'the gateway ready again' });
      await waitFor(async () => moved(before, await scrape(flaky.gateway.health.url), 'broker_reconnects_total') >= 1, {
        timeoutMs: 30_000,
        what: 'a broker reconnect counted',
      });
      await waitFor(async () => moved(before, await scrape(flaky.gateway.health.url), 'store_reconnects_total', { store: 'mongodb' }) >= 1, {
        timeoutMs: 30_000,
        what: 'a MongoDB reconnect counted',
      });
    } finally {
      await flaky.stop();
      await rabbitProxy.stop();
      await mongoProxy.stop();
    }
  });
});
