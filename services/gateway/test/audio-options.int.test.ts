import * as tus from 'tus-js-client';
import { jsonOf, makeVideo } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTHING_LEFT, type Stack, drainQueue, leftovers, readVideo, signIn, startStack, uploadFile } from './harness.js';

let stack: Stack;
let video: Buffer;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  stack = await startStack();
  const made = await makeVideo({ seconds: 1 });
  cleanup = made.cleanup;
  video = await readVideo(made.path);
});
afterAll(async () => {
  await stack.stop();
  await cleanup();
});

const query = (options: Record<string, string>) => `?${new URLSearchParams(options)}`;

/** Uploads with these options; the answer, and the `video` message when it was accepted. */
async function upload(user: { authorization: string }, options: Record<string, string> | string) {
  const res = await uploadFile(stack, user.authorization, [{ name: 'talk.mp4', data: video }], typeof options === 'string' ? options : query(options));
  const body = await jsonOf(res);
  const [message] = res.status === 202 ? await drainQueue(stack.videoQueue) : [];
  return { status: res.status, body, message: message?.body };
}

/** A refused upload: its error, after checking that nothing of it was kept. */
async function refused(options: Record<string, string> | string, status = 400) {
  const user = await signIn(stack);
  const started = new Date();
  const answer = await upload(user, options);
  expect(answer.status).toBe(status);
  expect(await leftovers(stack.mongo, user.email, started)).toEqual(NOTHING_LEFT);
  return answer.body.error as { code: string; message: string };
}

describe('the audio options on POST /upload', () => {
  it('when trim, loudness, a cover frame and tags are given, then the message and the job carry them checked, times in seconds', async () => {
    const user = await signIn(stack);
    const { status, body, message } = await upload(user, {
      start: '1:30',
      end: '01:02:03.5',
      loudness: '-16',
      true_peak: '-2',
      cover: 'frame@0:45',
      title: 'A talk',
      artist: 'Someone',
      album: 'Talks',
    });
    expect(status).toBe(202);
    const options = { start: 90, end: 3723.5, loudness: -16, true_peak: -2, cover: 'frame@45', title: 'A talk', artist: 'Someone', album: 'Talks' };
    expect(body.options).toEqual(options);
    expect(message).toEqual({ video_fid: body.video_fid, mp3_fid: null, username: user.email, options });
    const job = await jsonOf(await fetch(`${stack.url}/jobs/${body.video_fid}`, { headers: { authorization: user.authorization } }));
    expect(job.options).toEqual(options);
  });

  it('when titles are shaped like options, paths, URLs or ffmetadata syntax, then they are accepted as text, exactly', async () => {
    const user = await signIn(stack);
    const given = { title: '-f mp3 file:/tmp/elsewhere.mp3', artist: '-progress tcp://127.0.0.1:9/ -i /etc/passwd', album: ';FFMETADATA1 [CHAPTER] a=b#c\\' };
    const { status, message } = await upload(user, given);
    expect(status).toBe(202);
    expect(message?.options).toEqual(given);
  });

  it('when a title holds a line break or a NUL, then 400 naming it, and nothing is kept', async () => {
    for (const title of ['two\nlines', 'nul\0byte', 'tab\there']) {
      const error = await refused({ title });
      expect(error).toEqual({ code: 'invalid_options', message: 'title: no control characters (line breaks, tabs, NUL, …)' });
    }
  });

  it('when a title, artist or album is longer than 256 characters, then 400 naming the limit, and nothing is kept', async () => {
    const error = await refused({ artist: 'ü'.repeat(257), album: 'x'.repeat(4000) });
    expect(error).toEqual({ code: 'invalid_options', message: 'artist: at most 256 characters; album: at most 256 characters' });
  });

  it('when a value is so large the request line passes the HTTP limit, then 431 with a JSON error, and nothing is kept', async () => {
    const error = await refused({ title: 'x'.repeat(64 * 1024) }, 431);
    expect(error.code).toBe('headers_too_large');
  });

  it('when an option is given twice, or in a bracket syntax, then 400 naming it', async () => {
    expect((await refused('?title=a&title=b')).message).toMatch(/^title: /);
    expect((await refused('?start[x]=1')).message).toBe('start[x]: Unrecognized key: "start[x]"');
  });

  it('when times are malformed or out of order, or a ceiling comes without a loudness, then 400 naming every problem', async () => {
    const error = await refused({ start: '1:60', end: '-5', cover: 'file:/etc/passwd', loudness: '3' });
    expect(error.code).toBe('invalid_options');
    for (const word of ['start:', 'end:', 'cover:', 'loudness:']) expect(error.message).toContain(word);
    expect((await refused({ start: '2:00', end: '1:00' })).message).toBe('end: must be after start (2:00)');
    expect((await refused({ true_peak: '-1' })).message).toBe('true_peak: applies to loudness: give loudness too');
  });
});

describe('the audio options on a resumable upload', () => {
  it('when they come as Upload-Metadata keys, then the message carries them checked', async () => {
    const user = await signIn(stack);
    await new Promise<void>((resolve, reject) => {
      new tus.Upload(video, {
        endpoint: `${stack.url}/uploads/`,
        headers: { authorization: user.authorization },
        metadata: { filename: 'talk.mp4', start: '0:10', loudness: '-14', title: '-y -i /etc/passwd', cover: 'frame@1' },
        retryDelays: [],
        storeFingerprintForResuming: false,
        onError: reject,
        onSuccess: () => resolve(),
      }).start();
    });
    const [message] = await drainQueue(stack.videoQueue);
    expect(message?.body.options).toEqual({ start: 10, loudness: -14, title: '-y -i /etc/passwd', cover: 'frame@1' });
  });
});
