import { randomBytes } from 'node:crypto';
import { ObjectId } from '@mp3converter/shared/storage';
import { jsonOf, makeVideo, uniqueName, waitFor } from '@mp3converter/shared/testing';
import { parse as parseContentDisposition } from 'content-disposition';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Queues, type Worker, cleanupQueues, startWorker } from '../../converter/test/harness.js';
import { type Stack, closing, drainQueue, part, rawHttp, rawUpload, readVideo, signIn, startStack, storeMp3, uploadFile } from './harness.js';

const NAME = 'видео – тест ✓.mp4';

let stack: Stack;
let video: Buffer;
let cleanupVideo: () => Promise<void>;

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

/** The name a client saving the download would use: RFC 6266's `filename*` where given, else `filename`. */
function savedName(header: string | null): string | undefined {
  if (!header) return undefined;
  const { type, parameters } = parseContentDisposition(header);
  expect(type).toBe('attachment');
  return parameters.filename;
}

/** The name an old client that knows only `filename` would use. */
const fallbackName = (header: string | null) => (header ? parseContentDisposition(header, { extended: false }).parameters.filename : undefined);

const asciiOnly = (header: string | null) => /^[\x20-\x7e]*$/.test(header ?? '');

describe('UTF-8 file names, end to end through gateway and converter', () => {
  let queues: Queues;
  let converter: Worker;

  beforeAll(async () => {
    queues = { video: stack.videoQueue, mp3: uniqueName('mp3'), failed: uniqueName('failed') };
    converter = await startWorker(queues);
  });
  afterAll(async () => {
    await converter.worker.stop(1_000);
    await cleanupQueues(queues);
  });

  it(`when ${NAME} is uploaded, then it is stored and shown under that name, and its MP3 downloads as the same name in .mp3`, async () => {
    const user = await signIn(stack);
    const res = await uploadFile(stack, user.authorization, [{ name: NAME, data: video }]);
    expect(res.status).toBe(202);
    const accepted = await jsonOf(res);
    expect(accepted.filename).toBe(NAME);
    const stored = await stack.mongo
      .db('videos')
      .collection('fs.files')
      .findOne({ _id: new ObjectId(accepted.video_fid) });
    expect(stored?.filename).toBe(NAME);

    const status = await waitFor(
      async () => {
        const body = await jsonOf(await fetch(`${stack.url}${accepted.status_url}`, { headers: { authorization: user.authorization } }));
        return body.state === 'done' || body.state === 'failed' ? body : undefined;
      },
      { timeoutMs: 60_000, what: 'the conversion to finish' },
    );
    expect(status).toMatchObject({ state: 'done', filename: NAME });

    const download = await fetch(`${stack.url}${status.download_url}`, { headers: { authorization: user.authorization } });
    expect(download.status).toBe(200);
    const header = download.headers.get('content-disposition');
    expect(asciiOnly(header)).toBe(true);
    expect(header).toContain(`filename*=UTF-8''${encodeURIComponent('видео – тест ✓.mp3')}`);
    expect(savedName(header)).toBe('видео – тест ✓.mp3');
    expect(fallbackName(header)).toBe('audio.mp3');
    expect((await download.arrayBuffer()).byteLength).toBeGreaterThan(1_000);
  });
});

describe('UTF-8 file names as clients send them', () => {
  const B = 'utf8-boundary';

  it.each([
    ['raw UTF-8 in filename (browsers, curl)', `filename="${NAME}"`],
    ["RFC 5987's filename* (some HTTP libraries)", `filename*=UTF-8''${encodeURIComponent(NAME)}`],
  ])('when the name comes as %s, then it is stored as sent', async (_how, parameter) => {
    const user = await signIn(stack);
    const body = Buffer.concat([part(B, [`Content-Disposition: form-data; name="file"; ${parameter}`, 'Content-Type: video/mp4'], video), closing(B)]);
    const res = await rawHttp(
      stack.gateway.http.port,
      rawUpload({ authorization: user.authorization, 'content-type': `multipart/form-data; boundary=${B}` }, body),
    );
    expect(res?.status).toBe(202);
    expect(res?.json.filename).toBe(NAME);
    const status = await jsonOf(await fetch(`${stack.url}${res?.json.status_url}`, { headers: { authorization: user.authorization } }));
    expect(status.filename).toBe(NAME);
    await drainQueue(stack.videoQueue);
  });
});

describe('download names', () => {
  const mp3 = randomBytes(2_000);

  it.each([
    ['holiday clip.mp3', 'holiday clip.mp3', 'holiday clip.mp3'],
    ['café crème.mp3', 'café crème.mp3', 'cafe creme.mp3'],
    ['видео – тест ✓.mp3', 'видео – тест ✓.mp3', 'audio.mp3'],
    [`it's "live".mp3`, `it's "live".mp3`, "it's _live_.mp3"],
    ['tab\there\r\n.mp3', 'tabhere.mp3', 'tabhere.mp3'],
    ['../../etc/passwd.mp3', '.._.._etc_passwd.mp3', '.._.._etc_passwd.mp3'],
    ['clip\u202e3pm.exe', 'clip3pm.exe', 'clip3pm.exe'],
  ])('when the stored MP3 is named %j, then it is saved as %j, or %j by a client without filename*', async (stored, saved, fallback) => {
    const user = await signIn(stack);
    const fid = await storeMp3(stack.mongo, user.email, mp3, stored);
    const res = await fetch(`${stack.url}/download?fid=${fid}`, { headers: { authorization: user.authorization } });
    expect(res.status).toBe(200);
    const header = res.headers.get('content-disposition');
    expect(asciiOnly(header)).toBe(true);
    expect(savedName(header)).toBe(saved);
    expect(fallbackName(header)).toBe(fallback);
  });
});
