import { readFile } from 'node:fs/promises';
import { makeVideo, metricValue, queueDepth, scrape, waitFor } from '@mp3converter/shared/testing';
import { deadLetterQueueOf } from '@mp3converter/shared/amqp';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { NOTHING_LEFT, leftovers } from '../../gateway/test/harness.js';
import { RETRY_DELAYS_MS, type System, fid, jobEnded, publishEvent, startSystem } from './harness.js';
import { type Receiver, startReceiver } from './receiver.js';

/*
 * A real gateway (auth, MongoDB, RabbitMQ) and a real webhooks worker on the real `job.events` exchange,
 * delivering to receivers on 127.0.0.1, which this deployment allows (WEBHOOK_ALLOWED_DESTINATIONS).
 */
let system: System;
const receivers: Receiver[] = [];
const receiver = async (...args: Parameters<typeof startReceiver>) => {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
};

beforeAll(async () => {
  system = await startSystem({ WEBHOOK_ALLOWED_DESTINATIONS: '127.0.0.1/32', WEBHOOKS_PER_USER: '3' });
});
afterAll(async () => {
  await system.stop();
});
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

async function register(authorization: string, url: string, events?: string[]) {
  const res = await system.api(authorization, 'POST', '/webhooks', { url, ...(events ? { events } : {}) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; secret: string; url: string };
}

/** The endpoint's deliveries once `done` says they are where the test wants them. */
async function deliveriesOf(authorization: string, id: string, done: (d: any[]) => boolean, what = 'deliveries') {
  return waitFor(
    async () => {
      const res = await system.api(authorization, 'GET', `/webhooks/${id}/deliveries`);
      return res.status === 200 && done(res.body.deliveries) ? (res.body.deliveries as any[]) : undefined;
    },
    { what, timeoutMs: 20_000 },
  );
}

describe('webhooks, delivered', () => {
  it('when a job of the user ends, then the receiver gets it signed, and the Standard Webhooks reference library verifies it', async () => {
    const { email, authorization } = await system.user();
    const r = await receiver(() => ({ status: 200, body: '{"ok":true}' }));
    const { id, secret, url } = await register(authorization, r.url('/in?token=abc'));
    expect(url).toBe(r.url('/in?token=abc'));
    const event = jobEnded(email, 'done');
    await publishEvent(event);

    await waitFor(() => r.received.length === 1, { what: 'the webhook' });
    const [got] = r.received;
    expect(got!.method).toBe('POST');
    expect(got!.path).toBe('/in?token=abc');
    expect(got!.headers['content-type']).toBe('application/json');
    const payload = new Webhook(secret).verify(got!.body, got!.headers);
    expect(payload).toEqual({
      type: 'job.done',
      timestamp: event.at,
      data: {
        video_fid: event.video_fid,
        state: 'done',
        mp3_fid: event.mp3_fid,
        reason: null,
        status_url: `https://mp3converter.test/jobs/${event.video_fid}`,
        download_url: `https://mp3converter.test/download?fid=${event.mp3_fid}`,
      },
    });

    const [delivery] = await deliveriesOf(authorization, id, (d) => d[0]?.state === 'delivered');
    expect(delivery).toMatchObject({
      id: got!.headers['webhook-id'],
      event: 'job.done',
      video_fid: event.video_fid,
      state: 'delivered',
      attempts: 1,
      next_attempt_at: null,
      last_attempt: { outcome: 'delivered', status: 200, response_excerpt: '{"ok":true}', error: null },
    });
    const detail = await system.api(authorization, 'GET', `/webhooks/${id}/deliveries/${delivery.id}`);
    expect(detail.status).toBe(200);
    expect(detail.body.payload).toBe(got!.body);
    expect(detail.body.history).toHaveLength(1);
    expect(detail.headers.get('cache-control')).toBe('no-store');
  });

  it('when the same event arrives twice, then one delivery is made, and only endpoints asking for that event hear it', async () => {
    const { email, authorization } = await system.user();
    const done = await receiver();
    const failed = await receiver();
    await register(authorization, done.url(), ['job.done']);
    await register(authorization, failed.url(), ['job.failed', 'job.cancelled']);
    const before = await system.settled();
    const event = jobEnded(email, 'done');
    await publishEvent(event);
    await publishEvent({ ...event, at: new Date(Date.parse(event.at) + 5).toISOString() });
    await publishEvent(jobEnded(email, 'cancelled'));
    // All three settled by the worker, and nothing left to attempt: every delivery they made was made.
    await waitFor(async () => (await system.settled()) - before >= 3 && (await system.pending()) === 0, { what: 'the events settled' });
    expect(done.received).toHaveLength(1);
    expect(failed.received.map((r) => JSON.parse(r.body).type)).toEqual(['job.cancelled']);
  });

  it('when the receiver fails twice (503, then no answer in time), then it is tried again with growing delays under the same id, and delivered', async () => {
    const { email, authorization } = await system.user();
    const r = await receiver((_req, n) => (n === 1 ? { status: 503, body: 'busy' } : n === 2 ? 'hang' : { status: 204 }));
    const { id, secret } = await register(authorization, r.url());
    await publishEvent(jobEnded(email, 'failed'));

    await waitFor(() => r.received.length === 3, { what: 'three attempts', timeoutMs: 20_000 });
    const ids = new Set(r.received.map((x) => x.headers['webhook-id']));
    expect(ids.size).toBe(1);
    const gaps = [r.received[1]!.at - r.received[0]!.at, r.received[2]!.at - r.received[1]!.at];
    expect(gaps[0]).toBeGreaterThanOrEqual(RETRY_DELAYS_MS[0]!);
    // The second attempt waited for its timeout (2 s) before the second delay began.
    // The second attempt took its whole timeout (2 s, counted from before it connected); the delay runs from its end.
    expect(gaps[1]).toBeGreaterThanOrEqual(RETRY_DELAYS_MS[1]! + 2_000 - 100);
    for (const got of r.received) expect(new Webhook(secret).verify(got.body, got.headers)).toMatchObject({ type: 'job.failed' });
    const timestamps = r.received.map((x) => Number(x.headers['webhook-timestamp']));
    expect(timestamps).toEqual([...timestamps].sort());

    const [delivery] = await deliveriesOf(authorization, id, (d) => d[0]?.state === 'delivered');
    expect(delivery.attempts).toBe(3);
    const { body } = await system.api(authorization, 'GET', `/webhooks/${id}/deliveries/${delivery.id}`);
    expect(body.history.map((a: any) => [a.outcome, a.status])).toEqual([
      ['delivered', 204],
      ['timeout', null],
      ['http_error', 503],
    ]);
    expect(body.history[2].response_excerpt).toBe('busy');
  });

  it('when every retry fails, then the delivery has failed; a redelivery asked for sends it again, same id, and it is delivered', async () => {
    const { email, authorization } = await system.user();
    const r = await receiver(() => ({ status: 500, body: 'down' }));
    const { id, secret } = await register(authorization, r.url());
    await publishEvent(jobEnded(email, 'done'));
    const [failed] = await deliveriesOf(authorization, id, (d) => d[0]?.state === 'failed', 'the delivery given up on');
    expect(failed.attempts).toBe(RETRY_DELAYS_MS.length + 1);
    expect(r.received).toHaveLength(RETRY_DELAYS_MS.length + 1);

    r.answer(() => ({ status: 200 }));
    const asked = await system.api(authorization, 'POST', `/webhooks/${id}/deliveries/${failed.id}/redeliver`);
    expect(asked.status).toBe(202);
    expect(asked.body).toMatchObject({ id: failed.id, state: 'pending' });
    const [delivered] = await deliveriesOf(authorization, id, (d) => d[0]?.state === 'delivered', 'the redelivery');
    expect(delivered.attempts).toBe(RETRY_DELAYS_MS.length + 2);
    const last = r.received.at(-1)!;
    expect(last.headers['webhook-id']).toBe(failed.id);
    expect(new Webhook(secret).verify(last.body, last.headers)).toMatchObject({ type: 'job.done' });
  });

  it('when the receiver redirects, then the redirect is not followed and the delivery fails at once', async () => {
    const { email, authorization } = await system.user();
    const target = await receiver();
    const r = await receiver(() => ({ status: 302, headers: { location: target.url() } }));
    const { id } = await register(authorization, r.url());
    await publishEvent(jobEnded(email, 'done'));
    const [delivery] = await deliveriesOf(authorization, id, (d) => d[0]?.state === 'failed');
    expect(delivery.last_attempt).toMatchObject({ outcome: 'http_error', status: 302 });
    expect(target.connections).toBe(0);
  });

  it('when the secret is rotated, then deliveries carry both signatures until the overlap ends, each verifying with its own secret', async () => {
    const { email, authorization } = await system.user();
    const r = await receiver();
    const { id, secret: old } = await register(authorization, r.url());
    const rotated = await system.api(authorization, 'POST', `/webhooks/${id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(old);
    expect(Date.parse(rotated.body.previous_secret_expires_at)).toBeGreaterThan(Date.now() + 86_000_000);
    const view = await system.api(authorization, 'GET', `/webhooks/${id}`);
    expect(view.body.previous_secret_expires_at).toBe(rotated.body.previous_secret_expires_at);
    expect(view.body.secret).toBeUndefined();

    await publishEvent(jobEnded(email, 'cancelled'));
    await waitFor(() => r.received.length === 1);
    const [got] = r.received;
    expect(got!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(new Webhook(rotated.body.secret).verify(got!.body, got!.headers)).toMatchObject({ type: 'job.cancelled' });
    expect(new Webhook(old).verify(got!.body, got!.headers)).toMatchObject({ type: 'job.cancelled' });
  });

  it('when an endpoint is removed, then its deliveries go with it and it hears nothing more', async () => {
    const { email, authorization } = await system.user();
    const r = await receiver();
    const { id } = await register(authorization, r.url());
    expect((await system.api(authorization, 'DELETE', `/webhooks/${id}`)).status).toBe(204);
    expect((await system.api(authorization, 'GET', `/webhooks/${id}`)).status).toBe(404);
    const before = await system.settled();
    await publishEvent(jobEnded(email, 'done'));
    await waitFor(async () => (await system.settled()) > before && (await system.pending()) === 0);
    expect(r.connections).toBe(0);
  });

  it('when a message on the queue is not a job event, then it is dead-lettered, and the worker goes on', async () => {
    const { email } = await system.user();
    const r = await receiver();
    await publishEvent(Buffer.from('{"type":"state","video_fid":"nope"'));
    await waitFor(async () => (await queueDepth(inject('servers').rabbitUrl, deadLetterQueueOf(system.queue))) === 1, { what: 'the dead letter' });
    expect(r.connections).toBe(0);
    expect(email).toBeTruthy();
  });
});

describe('webhooks, counted', () => {
  it("when a delivery is retried once and then delivered, then the worker's metrics say so", async () => {
    const counters = async () => {
      const samples = await scrape(system.worker.http.url);
      return {
        delivered: metricValue(samples, 'webhook_attempts_total', { outcome: 'delivered' }),
        httpError: metricValue(samples, 'webhook_attempts_total', { outcome: 'http_error' }),
        retried: metricValue(samples, 'webhook_deliveries_total', { result: 'retried' }),
        created: metricValue(samples, 'webhook_deliveries_created_total'),
        durations: metricValue(samples, 'webhook_attempt_duration_seconds_count'),
        queueKnown: samples.some((x) => x.name === 'queue_messages' && x.labels.queue === system.queue),
      };
    };
    const before = await counters();
    const { email, authorization } = await system.user();
    const r = await receiver((_req, n) => (n === 1 ? { status: 502 } : { status: 200 }));
    const { id } = await register(authorization, r.url());
    await publishEvent(jobEnded(email, 'done'));
    await deliveriesOf(authorization, id, (d) => d[0]?.state === 'delivered');
    const after = await waitFor(async () => {
      const now = await counters();
      return now.delivered > before.delivered ? now : undefined;
    });
    expect(after.created - before.created).toBeGreaterThanOrEqual(1);
    expect(after.httpError - before.httpError).toBeGreaterThanOrEqual(1);
    expect(after.retried - before.retried).toBeGreaterThanOrEqual(1);
    expect(after.durations - before.durations).toBeGreaterThanOrEqual(2);
    expect(after.queueKnown).toBe(true);
  });
});

describe('webhooks, owned', () => {
  it("when someone else's endpoint or delivery ids are used, then each answer is 404, and nothing of the owner's changes", async () => {
    const owner = await system.user();
    const other = await system.user();
    const r = await receiver();
    const { id } = await register(owner.authorization, r.url());
    await publishEvent(jobEnded(owner.email, 'done'));
    const [delivery] = await deliveriesOf(owner.authorization, id, (d) => d[0]?.state === 'delivered');
    const own = await register(other.authorization, r.url('/other'));

    const tries = [
      ['GET', `/webhooks/${id}`],
      ['DELETE', `/webhooks/${id}`],
      ['POST', `/webhooks/${id}/rotate-secret`],
      ['GET', `/webhooks/${id}/deliveries`],
      ['GET', `/webhooks/${id}/deliveries/${delivery.id}`],
      ['POST', `/webhooks/${id}/deliveries/${delivery.id}/redeliver`],
      // Their own endpoint with the owner's delivery id.
      ['GET', `/webhooks/${own.id}/deliveries/${delivery.id}`],
      ['POST', `/webhooks/${own.id}/deliveries/${delivery.id}/redeliver`],
    ] as const;
    for (const [method, path] of tries) {
      const res = await system.api(other.authorization, method, path);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toMatch(/^(webhook|delivery)_not_found$/);
    }
    expect((await system.api(other.authorization, 'GET', '/webhooks')).body.webhooks.map((w: any) => w.id)).toEqual([own.id]);
    const still = await system.api(owner.authorization, 'GET', `/webhooks/${id}/deliveries/${delivery.id}`);
    expect(still.body).toMatchObject({ state: 'delivered', attempts: 1 });
    expect(r.received).toHaveLength(1);
  });

  it('when a request carries no token, then every webhook route answers 401', async () => {
    for (const [method, path] of [
      ['GET', '/webhooks'],
      ['POST', '/webhooks'],
      ['GET', '/webhooks/ep_000000000000000000000000'],
      ['POST', '/webhooks/ep_000000000000000000000000/deliveries/msg_00000000000000000000000000000000/redeliver'],
    ] as const) {
      const res = await fetch(`${system.stack.url}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(401);
    }
  });

  it('when one user registers 20 endpoints at once, then exactly WEBHOOKS_PER_USER are made and the rest are refused with 409', async () => {
    const { authorization } = await system.user();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => system.api(authorization, 'POST', '/webhooks', { url: `http://127.0.0.1:1999/burst/${i}` })),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(3);
    expect(statuses.filter((s) => s === 409)).toHaveLength(17);
    expect(answers.find((a) => a.status === 409)!.body.error.code).toBe('too_many_webhooks');
    const listed = await system.api(authorization, 'GET', '/webhooks');
    expect(listed.body.webhooks).toHaveLength(3);
    // A slot freed is a slot to take again.
    expect((await system.api(authorization, 'DELETE', `/webhooks/${listed.body.webhooks[0].id}`)).status).toBe(204);
    expect((await system.api(authorization, 'POST', '/webhooks', { url: 'http://127.0.0.1:1999/again' })).status).toBe(201);
  });

  it('when bodies are hostile (not JSON, huge, wrong shapes), then each is refused with a JSON 4xx and nothing is stored', async () => {
    const { authorization } = await system.user();
    for (const [body, status] of [
      ['not json', 400],
      ['"http://127.0.0.1:1999/"', 400],
      [JSON.stringify({ url: `http://127.0.0.1:1999/${'a'.repeat(20_000)}` }), 413],
      [JSON.stringify({ url: 'http://127.0.0.1:1999/', events: ['job.progress'] }), 400],
      [JSON.stringify({ url: 'http://127.0.0.1:1999/', __proto__: { admin: true }, extra: 1 }), 400],
      [JSON.stringify({ url: ['http://127.0.0.1:1999/'] }), 400],
    ] as const) {
      const res = await system.api(authorization, 'POST', '/webhooks', body);
      expect(res.status, body.slice(0, 60)).toBe(status);
      expect(res.body.error.code).toBeTruthy();
    }
    expect((await system.api(authorization, 'GET', '/webhooks')).body.webhooks).toEqual([]);
  });
});

describe("an upload's notify_url", () => {
  let video: Buffer;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const made = await makeVideo({ seconds: 1 });
    cleanup = made.cleanup;
    video = await readFile(made.path);
  });
  afterAll(() => cleanup());

  it('when a video is uploaded with notify_url and then cancelled, then the end of that job reaches the URL, signed with the secret the upload answered', async () => {
    const { authorization } = await system.user();
    const r = await receiver();
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(video)], { type: 'video/mp4' }), 'clip.mp4');
    // Held back from the converter: the gateway's own queue has no consumer here, so the job stays queued.
    const res = await fetch(`${system.stack.url}/upload?notify_url=${encodeURIComponent(r.url('/job'))}`, {
      method: 'POST',
      body: form,
      headers: { authorization },
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const accepted = (await res.json()) as any;
    expect(accepted.webhook).toEqual({ id: expect.stringMatching(/^ep_/), secret: expect.stringMatching(/^whsec_/) });

    const view = await system.api(authorization, 'GET', `/webhooks/${accepted.webhook.id}`);
    expect(view.body).toMatchObject({ video_fid: accepted.video_fid, url: r.url('/job'), events: ['job.done', 'job.failed', 'job.cancelled'] });
    expect((await system.api(authorization, 'GET', '/webhooks')).body.webhooks).toEqual([]);

    expect((await system.api(authorization, 'DELETE', `/jobs/${accepted.video_fid}`)).status).toBe(200);
    await waitFor(() => r.received.length === 1, { what: 'the job.cancelled webhook' });
    const payload = new Webhook(accepted.webhook.secret).verify(r.received[0]!.body, r.received[0]!.headers);
    expect(payload).toMatchObject({ type: 'job.cancelled', data: { video_fid: accepted.video_fid, state: 'cancelled' } });
  });

  it('when a resumable upload names notify_url in its metadata, then its creation answers the endpoint and secret, and the end of the job is sent there', async () => {
    const { authorization } = await system.user();
    const r = await receiver();
    const b64 = (v: string) => Buffer.from(v).toString('base64');
    const res = await fetch(`${system.stack.url}/uploads`, {
      method: 'POST',
      headers: {
        authorization,
        'tus-resumable': '1.0.0',
        'upload-length': String(video.length),
        'upload-metadata': `filename ${b64('clip.mp4')},notify_url ${b64(r.url('/tus'))}`,
        'content-type': 'application/offset+octet-stream',
      },
      body: new Uint8Array(video),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('upload-offset')).toBe(String(video.length));
    expect(res.headers.get('cache-control')).toBe('no-store');
    const id = res.headers.get('webhook-id')!;
    const secret = res.headers.get('webhook-secret')!;
    expect(id).toMatch(/^ep_/);
    const videoFid = res.headers.get('location')!.split('/').pop()!;
    expect((await system.api(authorization, 'GET', `/webhooks/${id}`)).body).toMatchObject({ video_fid: videoFid, url: r.url('/tus') });
    // The metadata kept with the upload does not carry it: the endpoint does.
    const head = await fetch(`${system.stack.url}/uploads/${videoFid}`, { method: 'HEAD', headers: { authorization, 'tus-resumable': '1.0.0' } });
    expect(head.headers.get('upload-metadata')).not.toContain('notify_url');

    await waitFor(async () => (await system.api(authorization, 'GET', `/jobs/${videoFid}`)).status === 200, { what: 'the job recorded' });
    expect((await system.api(authorization, 'DELETE', `/jobs/${videoFid}`)).status).toBe(200);
    await waitFor(() => r.received.length === 1, { what: 'the job.cancelled webhook' });
    expect(new Webhook(secret).verify(r.received[0]!.body, r.received[0]!.headers)).toMatchObject({ type: 'job.cancelled', data: { video_fid: videoFid } });
  });

  it('when a resumable upload names a notify_url that leads inside, then it is refused and no upload is made', async () => {
    const { email, authorization } = await system.user();
    const since = new Date();
    const res = await fetch(`${system.stack.url}/uploads?notify_url=${encodeURIComponent('http://[::ffff:a9fe:a9fe]/')}`, {
      method: 'POST',
      headers: { authorization, 'tus-resumable': '1.0.0', 'upload-length': '1000' },
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(await res.text()).error.code).toBe('destination_refused');
    expect(res.headers.get('webhook-id')).toBeNull();
    expect(await leftovers(system.stack.mongo, email, since)).toEqual(NOTHING_LEFT);
  });

  it.each([
    ['http://user:pw@127.0.0.1:1999/', 'credentials_in_url'],
    ['file:///etc/passwd', 'unsupported_scheme'],
    ['http://169.254.169.254/latest/meta-data/', 'destination_refused'],
    ['http://0x7f.2:1999/', 'destination_refused'],
    ['http://127.0.0.1:25/', 'port_not_allowed'],
  ])('when notify_url is %s, then the upload is refused with %s before its body is read', async (url, code) => {
    const { email, authorization } = await system.user();
    const since = new Date();
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(64)], { type: 'video/mp4' }), 'clip.mp4');
    const res = await fetch(`${system.stack.url}/upload?notify_url=${encodeURIComponent(url)}`, { method: 'POST', body: form, headers: { authorization } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe(code);
    expect(await leftovers(system.stack.mongo, email, since)).toEqual(NOTHING_LEFT);
  });
});

describe('hostile URLs at registration', () => {
  it.each([
    ['http://user:pass@127.0.0.1:1999/', 'credentials_in_url'],
    ['ftp://127.0.0.1/', 'unsupported_scheme'],
    ['gopher://127.0.0.1:70/', 'unsupported_scheme'],
    ['file:///etc/passwd', 'unsupported_scheme'],
    ['http://127.0.0.1:22/', 'port_not_allowed'],
    ['http://127.0.0.1:1999/#x', 'invalid_url'],
    [`http://127.0.0.1:1999/${'a'.repeat(3_000)}`, 'invalid_url'],
    ['http://169.254.169.254/', 'destination_refused'],
    ['http://[fd00:ec2::254]/', 'destination_refused'],
    ['http://[::ffff:169.254.169.254]/', 'destination_refused'],
    ['http://10.0.0.1/', 'destination_refused'],
    // 127.0.0.1 is allowed here, 127.0.0.2 is not: the allowlist is exact, whatever the form.
    ['http://2130706434:1999/', 'destination_refused'],
    ['http://0x7f.2:1999/', 'destination_refused'],
    ['http://[::1]:1999/', 'destination_refused'],
  ])('when %s is registered, then it is refused with %s', async (url, code) => {
    const { authorization } = await system.user();
    const res = await system.api(authorization, 'POST', '/webhooks', { url });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe(code);
  });

  it('when the allowed receiver is named in a roundabout form, then it is stored in its plain form', async () => {
    const { authorization } = await system.user();
    expect((await register(authorization, 'http://2130706433:1999/x')).url).toBe('http://127.0.0.1:1999/x');
    expect((await register(authorization, 'http://0x7f.1:1999/y')).url).toBe('http://127.0.0.1:1999/y');
  });

  it('when the id in a path is not an id at all, then it is not found', async () => {
    const { authorization } = await system.user();
    for (const path of ['/webhooks/..%2f..%2fjobs', '/webhooks/%24where', `/webhooks/ep_${'0'.repeat(24)}/deliveries/..`]) {
      expect((await system.api(authorization, 'GET', path)).status, path).toBe(404);
    }
  });

  it('when fid() makes ids, then they are valid video ids', () => {
    expect(fid()).toMatch(/^[0-9a-f]{24}$/);
  });
});
