import { randomBytes } from 'node:crypto';
import { makeVideo, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTHING_LEFT, type Stack, closing, drainQueue, leftovers, part, rawHttp, rawUpload, readVideo, signIn, startStack } from './harness.js';

let stack: Stack;
let video: Buffer;
let cleanupVideo: () => Promise<void>;
const started = new Date();

beforeAll(async () => {
  stack = await startStack();
  const made = await makeVideo({ seconds: 1 });
  // Past GridFS's 255 KiB chunk size, so chunks are already in MongoDB when a later part goes wrong.
  video = Buffer.concat([await readVideo(made.path), randomBytes(700_000)]);
  cleanupVideo = made.cleanup;
});
afterAll(async () => {
  await stack.stop();
  await cleanupVideo();
});

const B = 'x-boundary-42';
const multipart = (extra: Record<string, string> = {}) => ({ 'content-type': `multipart/form-data; boundary=${B}`, ...extra });
const filePart = (name = 'clip.mp4', data: Buffer = video) =>
  part(B, [`Content-Disposition: form-data; name="file"; filename="${name}"`, 'Content-Type: video/mp4'], data);
const field = (name: string, value: string) => part(B, [`Content-Disposition: form-data; name="${name}"`], value);
const many = (n: number, make: (i: number) => Buffer) => Buffer.concat(Array.from({ length: n }, (_, i) => make(i)));

/** Each body is sent as raw bytes; every one must be a 400 malformed_multipart that leaves nothing behind. */
const cases: [string, (auth: string) => Buffer][] = [
  [
    'the content type has no boundary',
    (auth) => rawUpload({ authorization: auth, 'content-type': 'multipart/form-data' }, Buffer.concat([filePart(), closing(B)])),
  ],
  ['the content type parameters cannot be parsed', (auth) => rawUpload({ authorization: auth, 'content-type': 'multipart/form-data; boundary' }, filePart())],
  ['the body is empty', (auth) => rawUpload({ authorization: auth, ...multipart() }, Buffer.alloc(0))],
  ['the body has no boundary at all', (auth) => rawUpload({ authorization: auth, ...multipart() }, video.subarray(0, 50_000))],
  [
    'the body stops in the middle of the file (chunks already stored)',
    (auth) => rawUpload({ authorization: auth, ...multipart() }, filePart().subarray(0, 600_000)),
  ],
  ['the body ends without its closing boundary', (auth) => rawUpload({ authorization: auth, ...multipart() }, filePart())],
  ['the body stops inside part headers', (auth) => rawUpload({ authorization: auth, ...multipart() }, Buffer.from(`--${B}\r\nContent-Disposition: form-da`))],
  [
    'a part header line has no colon',
    (auth) =>
      rawUpload(
        { authorization: auth, ...multipart() },
        Buffer.concat([part(B, ['Content-Disposition form-data; name="file"; filename="a.mp4"'], video), closing(B)]),
      ),
  ],
  [
    'a part header is larger than 16 KiB',
    (auth) =>
      rawUpload(
        { authorization: auth, ...multipart() },
        Buffer.concat([part(B, ['Content-Disposition: form-data; name="file"; filename="a.mp4"', `X-Padding: ${'p'.repeat(17_000)}`], video), closing(B)]),
      ),
  ],
  [
    'lines end in LF only',
    (auth) =>
      rawUpload(
        { authorization: auth, ...multipart() },
        // The video ends in random bytes: one time in 256 the last is a CR, and then `\r\n--B--` is a well-formed
        // closing delimiter of a form with no file part (rightly answered exactly_one_file_required). A last
        // byte that is never a CR keeps the case about LF-only lines alone.
        Buffer.concat([Buffer.from(`--${B}\nContent-Disposition: form-data; name="file"; filename="a.mp4"\n\n`), video, Buffer.from(`.\n--${B}--\n`)]),
      ),
  ],
  [
    'there are more than 30 parts',
    (auth) => rawUpload({ authorization: auth, ...multipart() }, Buffer.concat([many(31, () => part(B, ['X-Nothing: 1'])), closing(B)])),
  ],
  [
    'there are more than 20 fields',
    (auth) => rawUpload({ authorization: auth, ...multipart() }, Buffer.concat([many(21, (i) => field(`f${i}`, 'v')), closing(B)])),
  ],
  [
    'a field value is larger than 64 KiB',
    (auth) => rawUpload({ authorization: auth, ...multipart() }, Buffer.concat([field('note', 'v'.repeat(70_000)), closing(B)])),
  ],
  [
    'a field name is longer than 200 bytes',
    (auth) => rawUpload({ authorization: auth, ...multipart() }, Buffer.concat([field('n'.repeat(300), 'v'), closing(B)])),
  ],
  [
    'the file part has no field name',
    (auth) =>
      rawUpload({ authorization: auth, ...multipart() }, Buffer.concat([part(B, ['Content-Disposition: form-data; filename="a.mp4"'], video), closing(B)])),
  ],
  ['a field nests too deep', (auth) => rawUpload({ authorization: auth, ...multipart() }, Buffer.concat([field('a[b][c][d][e][f]', 'v'), closing(B)]))],
  ['a field names a huge array index', (auth) => rawUpload({ authorization: auth, ...multipart() }, Buffer.concat([field('a[99999999]', 'v'), closing(B)]))],
  [
    'the file is stored, then more than 20 fields follow',
    (auth) => rawUpload({ authorization: auth, ...multipart() }, Buffer.concat([filePart(), many(21, (i) => field(`f${i}`, 'v')), closing(B)])),
  ],
  [
    'the file is stored, then a part with broken headers follows',
    (auth) => rawUpload({ authorization: auth, ...multipart() }, Buffer.concat([filePart(), part(B, ['broken header line'], 'x'), closing(B)])),
  ],
  [
    'the file is stored, then the body stops inside the next part',
    (auth) => rawUpload({ authorization: auth, ...multipart() }, Buffer.concat([filePart(), Buffer.from(`--${B}\r\nContent-Disposition: form-data; na`)])),
  ],
];

describe('POST /upload with a malformed multipart body', () => {
  it.each(cases)('when %s, then 400 malformed_multipart and nothing is kept', async (_what, build) => {
    const user = await signIn(stack);
    const res = await rawHttp(stack.gateway.http.port, build(user.authorization));
    expect(res?.status).toBe(400);
    expect(res?.headers['content-type']).toMatch(/^application\/json/);
    expect(res?.json.error.code).toBe('malformed_multipart');
    expect(res?.json.error.message).toMatch(/^malformed multipart body: /);
    expect(await leftovers(stack.mongo, user.email, started)).toEqual(NOTHING_LEFT);
    expect(await drainQueue(stack.videoQueue)).toEqual([]);
  });

  it('when the same raw request is well formed, then it is accepted (the cases above fail for their fault alone)', async () => {
    const user = await signIn(stack);
    const res = await rawHttp(
      stack.gateway.http.port,
      rawUpload({ authorization: user.authorization, ...multipart() }, Buffer.concat([field('note', 'v'), filePart(), closing(B)])),
    );
    expect(res?.status).toBe(202);
    expect(await drainQueue(stack.videoQueue)).toHaveLength(1);
    expect((await leftovers(stack.mongo, user.email, started)).leases).toBe(0);
  });

  it('when the client sends half its declared body and goes away, then nothing of it remains', async () => {
    const user = await signIn(stack);
    const request = rawUpload({ authorization: user.authorization, ...multipart(), 'content-length': String(video.length * 2) }, filePart());
    const res = await rawHttp(stack.gateway.http.port, request, { cut: true });
    expect(res?.status).toBe(400);
    expect(res?.json.error.code).toMatch(/^(bad_request|malformed_multipart)$/);
    await waitFor(async () => JSON.stringify(await leftovers(stack.mongo, user.email, started)) === JSON.stringify(NOTHING_LEFT), {
      what: 'the cut upload to be removed',
    });
    expect(await drainQueue(stack.videoQueue)).toEqual([]);
  });

  it('when a chunked body breaks its chunk framing mid-file, then a 400 and nothing of it remains', async () => {
    const user = await signIn(stack);
    const body = filePart();
    const head = rawUpload({ authorization: user.authorization, ...multipart(), 'transfer-encoding': 'chunked', 'content-length': '' }, Buffer.alloc(0));
    const request = Buffer.concat([
      Buffer.from(head.toString('latin1').replace('content-length: \r\n', ''), 'latin1'),
      Buffer.from(`${(400_000).toString(16)}\r\n`),
      body.subarray(0, 400_000),
      Buffer.from('\r\nzz-not-a-size\r\n'),
    ]);
    const res = await rawHttp(stack.gateway.http.port, request);
    expect(res?.status).toBe(400);
    expect(res?.json).toEqual({ error: { code: 'bad_request', message: 'malformed HTTP request' } });
    await waitFor(async () => JSON.stringify(await leftovers(stack.mongo, user.email, started)) === JSON.stringify(NOTHING_LEFT), {
      what: 'the broken upload to be removed',
    });
  });
});
