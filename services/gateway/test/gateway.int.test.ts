import { randomBytes } from 'node:crypto';
import { TcpProxy, behindId3, hostileCorpus, jsonOf, makeMp3, makeVideo, uniqueEmail, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic } from '../../auth/test/helpers.js';
import { NOTHING_LEFT, type Stack, drainQueue, leftovers, readVideo, signIn, startStack, storeMp3, uploadFile } from './harness.js';
import { inject } from 'vitest';

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

describe('POST /login', () => {
  it('when the credentials are right, then the token comes back as text, as from auth', async () => {
    const { token } = await signIn(stack);
    expect(token.split('.')).toHaveLength(3);
  });

  it("when auth refuses, then auth's status and body pass through", async () => {
    const res = await fetch(`${stack.url}/login`, { method: 'POST', headers: { authorization: basic(uniqueEmail(), 'nope') } });
    expect(res.status).toBe(401);
    expect(await jsonOf(res)).toEqual({ error: { code: 'invalid_credentials', message: 'invalid credentials' } });
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="mp3converter", charset="UTF-8"');
  });

  it("when a page's script is refused, then no Basic challenge comes with the 401, so no browser dialog covers the page", async () => {
    const res = await fetch(`${stack.url}/login`, {
      method: 'POST',
      headers: { authorization: basic(uniqueEmail(), 'nope'), 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBeNull();
    expect((await jsonOf(res)).error.code).toBe('invalid_credentials');
  });

  it('when a JSON body carries the credentials, then it is forwarded', async () => {
    const res = await fetch(`${stack.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"email":"x@y.z","password":"p"}',
    });
    expect(res.status).toBe(401);
    expect((await jsonOf(res)).error.code).toBe('invalid_credentials');
  });
});

describe('POST /upload', () => {
  it('when a video is uploaded, then 202, it is in GridFS with its name, type and owner, and one message is queued', async () => {
    const user = await signIn(stack);
    const res = await uploadFile(stack, user.authorization, [{ name: 'holiday clip.mp4', type: 'video/mp4', data: video }]);
    expect(res.status).toBe(202);
    const body = await jsonOf(res);
    expect(body).toMatchObject({ state: 'queued', filename: 'holiday clip.mp4', size: video.length, status_url: `/status?fid=${body.video_fid}` });
    expect(res.headers.get('location')).toBe(body.status_url);

    const file = await stack.mongo
      .db('videos')
      .collection('fs.files')
      .findOne({ _id: new (await import('mongodb')).ObjectId(body.video_fid) });
    expect(file).toMatchObject({
      filename: 'holiday clip.mp4',
      length: video.length,
      metadata: { owner: user.email, contentType: 'video/mp4', detectedType: 'video/mp4' },
    });

    const messages = await drainQueue(stack.videoQueue);
    expect(messages).toEqual([{ body: { video_fid: body.video_fid, mp3_fid: null, username: user.email }, persistent: true }]);
    expect(Object.keys(messages[0]!.body)).toEqual(['video_fid', 'mp3_fid', 'username']);

    const status = await fetch(`${stack.url}${body.status_url}`, { headers: { authorization: user.authorization } });
    expect(status.status).toBe(200);
    expect(await jsonOf(status)).toMatchObject({ video_fid: body.video_fid, state: 'queued', mp3_fid: null, filename: 'holiday clip.mp4' });
  });

  it('when the field name is anything, then it is accepted as the original did', async () => {
    const user = await signIn(stack);
    const res = await uploadFile(stack, user.authorization, [{ field: 'whatever', name: 'a.mp4', data: video }]);
    expect(res.status).toBe(202);
    await drainQueue(stack.videoQueue);
  });

  it('when no file, two files or a non-multipart body is sent, then 400 and nothing is kept', async () => {
    const user = await signIn(stack);
    const none = await fetch(`${stack.url}/upload`, { method: 'POST', headers: { authorization: user.authorization }, body: new FormData() });
    const two = await uploadFile(stack, user.authorization, [
      { name: 'a.mp4', data: video },
      { name: 'b.mp4', data: video },
    ]);
    const sameField = await uploadFile(stack, user.authorization, [
      { field: 'f', name: 'a.mp4', data: video },
      { field: 'f', name: 'b.mp4', data: video },
    ]);
    const json = await fetch(`${stack.url}/upload`, {
      method: 'POST',
      headers: { authorization: user.authorization, 'content-type': 'application/json' },
      body: '{}',
    });
    for (const res of [none, two, sameField, json]) {
      expect(res.status).toBe(400);
      expect(await jsonOf(res)).toEqual({ error: { code: 'exactly_one_file_required', message: 'exactly 1 file required' } });
    }
    expect(await leftovers(stack.mongo, user.email, started)).toEqual(NOTHING_LEFT);
    expect(await drainQueue(stack.videoQueue)).toEqual([]);
  });

  it('when the file is neither video nor audio, then 415 and nothing is kept', async () => {
    const user = await signIn(stack);
    const res = await uploadFile(stack, user.authorization, [{ name: 'notes.mp4', type: 'video/mp4', data: randomBytes(300_000) }]);
    expect(res.status).toBe(415);
    expect((await jsonOf(res)).error.code).toBe('unsupported_media_type');
    const text = await uploadFile(stack, user.authorization, [{ name: 'x.txt', type: 'text/plain', data: Buffer.from('hello world') }]);
    expect(text.status).toBe(415);
    expect(await leftovers(stack.mongo, user.email, started)).toEqual(NOTHING_LEFT);
    expect(await drainQueue(stack.videoQueue)).toEqual([]);
  });

  it('when the file is a playlist, manifest or concat list, bare or behind an ID3 tag or a RIFF header, then 415 and nothing is kept', async () => {
    const user = await signIn(stack);
    const corpus = await hostileCorpus({ ts: '/tmp/local.ts', mp4: '/tmp/local.mp4' });
    for (const { name, data } of corpus) {
      const res = await uploadFile(stack, user.authorization, [{ name: 'song.mp3', type: 'audio/mpeg', data }]);
      expect(res.status, name).toBe(415);
      const { error } = await jsonOf(res);
      expect(error.code, name).toBe('unsupported_media_type');
      expect(error.message, name).toMatch(/playlist|manifest|list|text behind/);
    }
    expect(await leftovers(stack.mongo, user.email, started)).toEqual(NOTHING_LEFT);
    expect(await drainQueue(stack.videoQueue)).toEqual([]);
  });

  it('when an MP3 carries a 300 KiB ID3 tag (cover art), then it is accepted and stored whole', async () => {
    const user = await signIn(stack);
    const mp3 = behindId3(await makeMp3(1), 300 * 1024);
    const res = await uploadFile(stack, user.authorization, [{ name: 'song.mp3', type: 'audio/mpeg', data: mp3 }]);
    expect(res.status).toBe(202);
    const body = await jsonOf(res);
    expect(body.size).toBe(mp3.length);
    const [message] = await drainQueue(stack.videoQueue);
    expect(message!.body.video_fid).toBe(body.video_fid);
    const stored = await stack.mongo
      .db('videos')
      .collection('fs.files')
      .findOne({ _id: new (await import('mongodb')).ObjectId(body.video_fid) });
    expect(stored).toMatchObject({ length: mp3.length, metadata: { detectedType: 'audio/mpeg' } });
  });

  it('when the token is missing, bad or auth is away, then 401, 403 and 503', async () => {
    expect((await uploadFile(stack, undefined, [{ name: 'a.mp4', data: video }])).status).toBe(401);
    const forged = await uploadFile(stack, 'Bearer a.b.c', [{ name: 'a.mp4', data: video }]);
    expect(forged.status).toBe(403);
    expect(await jsonOf(forged)).toEqual({ error: { code: 'invalid_token', message: 'not authorized' } });

    const proxy = await new TcpProxy('127.0.0.1', stack.auth.http.port).start();
    const viaProxy = await startStack({ AUTH_SVC_ADDRESS: `127.0.0.1:${proxy.port}` }, stack);
    try {
      const user = await signIn(viaProxy);
      await proxy.stop();
      const res = await uploadFile(viaProxy, user.authorization, [{ name: 'a.mp4', data: video }]);
      expect(res.status).toBe(503);
      expect((await jsonOf(res)).error.code).toBe('auth_unavailable');
      const ready = await jsonOf(await fetch(`${viaProxy.gateway.health.url}/readyz`));
      expect(ready.status).toBe('not ready');
      expect(ready.checks.auth).not.toBe('ok');
      expect(await leftovers(viaProxy.mongo, user.email, started)).toEqual(NOTHING_LEFT);
    } finally {
      await viaProxy.stop();
    }
  });

  it('when the broker is down during the upload, then 503 and the video is removed', async () => {
    const rabbit = new URL(inject('servers').rabbitUrl);
    const proxy = await new TcpProxy(rabbit.hostname, Number(rabbit.port || 5672)).start();
    rabbit.host = `127.0.0.1:${proxy.port}`;
    const viaProxy = await startStack({ RABBITMQ_URL: rabbit.toString() }, stack);
    try {
      const user = await signIn(viaProxy);
      await proxy.stop();
      await waitFor(() => !viaProxy.gateway.amqp.connected, { what: 'gateway to notice the broker is gone' });
      const res = await uploadFile(viaProxy, user.authorization, [{ name: 'a.mp4', data: video }]);
      expect(res.status).toBe(503);
      expect((await jsonOf(res)).error.code).toBe('queue_unavailable');
      expect(await leftovers(viaProxy.mongo, user.email, started)).toEqual(NOTHING_LEFT);

      // The connection comes back by itself, with no restart (the original's gateway needed one).
      await proxy.start(proxy.port);
      await waitFor(() => viaProxy.gateway.amqp.connected, { timeoutMs: 30_000, what: 'gateway to reconnect' });
      const again = await uploadFile(viaProxy, user.authorization, [{ name: 'a.mp4', data: video }]);
      expect(again.status).toBe(202);
      expect(await drainQueue(viaProxy.videoQueue)).toHaveLength(1);
    } finally {
      await viaProxy.stop();
      await proxy.stop();
    }
  });

  it('when the file is over MAX_UPLOAD_BYTES, then 413 and nothing of it remains', async () => {
    const small = await startStack({ MAX_UPLOAD_BYTES: String(video.length - 1) }, stack);
    try {
      const user = await signIn(small);
      const big = Buffer.concat([video, randomBytes(2_000_000)]);
      const res = await uploadFile(small, user.authorization, [{ name: 'big.mp4', data: big }]);
      expect(res.status).toBe(413);
      expect((await jsonOf(res)).error.code).toBe('upload_too_large');
      expect(await leftovers(small.mongo, user.email, started)).toEqual(NOTHING_LEFT);
      expect(await drainQueue(small.videoQueue)).toEqual([]);
    } finally {
      await small.stop();
    }
  });

  it('when the client goes away in the middle of an upload, then nothing of it remains', async () => {
    const user = await signIn(stack);
    const boundary = 'x' + randomBytes(8).toString('hex');
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.mp4"\r\nContent-Type: video/mp4\r\n\r\n`);
    const controller = new AbortController();
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        if (sent === 0) ctrl.enqueue(new Uint8Array(Buffer.concat([head, video])));
        else if (sent < 20) ctrl.enqueue(new Uint8Array(randomBytes(256 * 1024)));
        else {
          controller.abort();
          return;
        }
        sent++;
        await new Promise((r) => setTimeout(r, 10));
      },
    });
    await fetch(`${stack.url}/upload`, {
      method: 'POST',
      headers: { authorization: user.authorization, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
      signal: controller.signal,
      duplex: 'half',
    } as RequestInit).catch(() => undefined);
    await waitFor(
      async () => {
        const left = await leftovers(stack.mongo, user.email, started);
        return left.files === 0 && left.jobs === 0 && left.leases === 0 && left.orphanChunks === 0;
      },
      { what: 'the cut upload to be cleaned up' },
    );
    expect(await drainQueue(stack.videoQueue)).toEqual([]);
  });

  it('when 20 uploads arrive at once, then 20 files and 20 messages, each once', async () => {
    const users = await Promise.all([signIn(stack), signIn(stack)]);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => uploadFile(stack, users[i % 2]!.authorization, [{ name: `clip-${i}.mp4`, data: video }])),
    );
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(202));
    const ids = await Promise.all(results.map(async (r) => (await jsonOf(r)).video_fid as string));
    expect(new Set(ids).size).toBe(20);
    const messages = await drainQueue(stack.videoQueue);
    expect(messages.map((m) => m.body.video_fid).sort()).toEqual([...ids].sort());
    for (const u of users) expect((await leftovers(stack.mongo, u.email, started)).files).toBe(10);
  });
});

describe('GET /download', () => {
  const mp3 = randomBytes(10_000);

  it('when the owner asks, then the whole MP3 with its type, length and name', async () => {
    const user = await signIn(stack);
    const fid = await storeMp3(stack.mongo, user.email, mp3, 'holiday clip.mp3');
    const res = await fetch(`${stack.url}/download?fid=${fid}`, { headers: { authorization: user.authorization } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    expect(res.headers.get('content-length')).toBe(String(mp3.length));
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="holiday clip.mp3"');
    expect(Buffer.from(await res.arrayBuffer()).equals(mp3)).toBe(true);
  });

  it('when a Range is asked, then 206 with exactly those bytes; past the end, 416', async () => {
    const user = await signIn(stack);
    const fid = await storeMp3(stack.mongo, user.email, mp3);
    const get = (range: string) => fetch(`${stack.url}/download?fid=${fid}`, { headers: { authorization: user.authorization, range } });

    const middle = await get('bytes=100-1099');
    expect(middle.status).toBe(206);
    expect(middle.headers.get('content-range')).toBe(`bytes 100-1099/${mp3.length}`);
    expect(middle.headers.get('content-length')).toBe('1000');
    expect(Buffer.from(await middle.arrayBuffer()).equals(mp3.subarray(100, 1100))).toBe(true);

    const tail = await get('bytes=-500');
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(mp3.subarray(mp3.length - 500))).toBe(true);

    const resume = await get('bytes=9000-');
    expect(Buffer.from(await resume.arrayBuffer()).equals(mp3.subarray(9000))).toBe(true);

    const past = await get(`bytes=${mp3.length}-`);
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${mp3.length}`);
  });

  it("when another user asks for someone's MP3, or an unknown id, then 404", async () => {
    const [owner, other] = await Promise.all([signIn(stack), signIn(stack)]);
    const fid = await storeMp3(stack.mongo, owner.email, mp3);
    const theirs = await fetch(`${stack.url}/download?fid=${fid}`, { headers: { authorization: other.authorization } });
    expect(theirs.status).toBe(404);
    const unknown = await fetch(`${stack.url}/download?fid=${'0'.repeat(24)}`, { headers: { authorization: owner.authorization } });
    expect(unknown.status).toBe(404);
    expect(await jsonOf(theirs)).toEqual(await jsonOf(unknown));
  });

  it('when fid is missing or malformed, then 400 (the original answered 500)', async () => {
    const user = await signIn(stack);
    const missing = await fetch(`${stack.url}/download`, { headers: { authorization: user.authorization } });
    expect(missing.status).toBe(400);
    expect(await jsonOf(missing)).toEqual({ error: { code: 'fid_required', message: 'fid is required' } });
    const bad = await fetch(`${stack.url}/download?fid=nothex`, { headers: { authorization: user.authorization } });
    expect(bad.status).toBe(400);
    expect((await jsonOf(bad)).error.code).toBe('invalid_fid');
  });

  it('when there is no token, then 401', async () => {
    expect((await fetch(`${stack.url}/download?fid=${'0'.repeat(24)}`)).status).toBe(401);
  });
});

describe('GET /status', () => {
  it("when another user asks for someone's job, then 404", async () => {
    const [owner, other] = await Promise.all([signIn(stack), signIn(stack)]);
    const res = await uploadFile(stack, owner.authorization, [{ name: 'a.mp4', data: video }]);
    const { video_fid } = await jsonOf(res);
    const theirs = await fetch(`${stack.url}/status?fid=${video_fid}`, { headers: { authorization: other.authorization } });
    expect(theirs.status).toBe(404);
    await drainQueue(stack.videoQueue);
  });
});

describe('shutdown', () => {
  it('when the gateway is told to stop during an upload, then that upload still completes and new requests are refused', async () => {
    const own = await startStack({}, stack);
    const user = await signIn(own);
    const boundary = 'x' + randomBytes(8).toString('hex');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        const part = sent++;
        if (part === 0)
          ctrl.enqueue(
            new Uint8Array(
              Buffer.concat([
                Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="late.mp4"\r\nContent-Type: video/mp4\r\n\r\n`),
                video,
              ]),
            ),
          );
        else if (part === 1) {
          await gate; // the rest arrives only once shutdown has begun
          ctrl.enqueue(new Uint8Array(randomBytes(100_000)));
        } else {
          ctrl.enqueue(new Uint8Array(Buffer.from(`\r\n--${boundary}--\r\n`)));
          ctrl.close();
        }
      },
    });
    const upload = fetch(`${own.url}/upload`, {
      method: 'POST',
      headers: { authorization: user.authorization, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
      duplex: 'half',
    } as RequestInit);
    await waitFor(() => sent >= 2, { what: 'the upload to be under way' });
    const stopping = own.gateway.stop(10_000);
    await waitFor(async () => (await own.gateway.readiness.report()).ready === false, { what: 'readiness to drop' });
    release();
    const res = await upload;
    expect(res.status).toBe(202);
    expect((await drainQueue(own.videoQueue)).map((m) => m.body.video_fid)).toEqual([(await jsonOf(res)).video_fid]);
    await stopping;
    await expect(fetch(`${own.url}/login`, { method: 'POST' })).rejects.toThrow();
    await expect(fetch(`${own.gateway.health.url}/healthz`)).rejects.toThrow();
    await own.stop();
  });
});

describe('probes and errors', () => {
  it('when everything is up, then /readyz on the probe port checks Mongo, RabbitMQ and auth', async () => {
    const res = await fetch(`${stack.gateway.health.url}/readyz`);
    expect(await jsonOf(res)).toEqual({ status: 'ready', checks: { mongodb: 'ok', rabbitmq: 'ok', auth: 'ok' } });
    expect(await jsonOf(await fetch(`${stack.gateway.health.url}/healthz`))).toEqual({ status: 'ok' });
  });

  it('when the public port is asked for the probes, then 404: the Ingress never serves them', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const res = await fetch(`${stack.url}${path}`);
      expect(res.status, path).toBe(404);
      expect((await jsonOf(res)).error.code).toBe('route_not_found');
    }
  });

  it('when an unknown path or method is used, then JSON 404 / 405', async () => {
    expect((await fetch(`${stack.url}/nope`)).status).toBe(404);
    const wrong = await fetch(`${stack.url}/upload`);
    expect(wrong.status).toBe(405);
    expect((await jsonOf(wrong)).error.code).toBe('method_not_allowed');
  });
});
