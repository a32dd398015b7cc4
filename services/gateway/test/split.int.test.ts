import { ObjectId } from '@mp3converter/shared/storage';
import { captureLogger, jsonOf, makeVideo, uniqueName, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmetadataLines } from '../../converter/src/adapters/ffmpeg-args.js';
import { type Queues, type Worker, cleanupQueues, startWorker } from '../../converter/test/harness.js';
import { type Stack, readVideo, signIn, startStack, uploadFile } from './harness.js';

let stack: Stack;
let queues: Queues;
let converter: Worker;
let book: Buffer;
let cleanup: () => Promise<void>;

const CHAPTERS = ['Prologue', 'The Middle: Part 1/2', 'Epilogue'];

beforeAll(async () => {
  stack = await startStack({ RETENTION_SWEEP_INTERVAL_MS: '3600000' }, undefined, captureLogger('gateway').logger);
  queues = { video: stack.videoQueue, mp3: uniqueName('mp3'), failed: uniqueName('failed') };
  converter = await startWorker(queues);
  const sections = CHAPTERS.map((title, i) => `[CHAPTER]\nTIMEBASE=1/1000\nSTART=${i * 4000}\nEND=${(i + 1) * 4000}\n${ffmetadataLines({ title })}`);
  const made = await makeVideo({ seconds: 12, container: 'mp3', metadata: `;FFMETADATA1\n${ffmetadataLines({ title: 'A Book' })}${sections.join('')}` });
  cleanup = made.cleanup;
  book = await readVideo(made.path);
});
afterAll(async () => {
  await converter.worker.stop(1_000);
  await stack.stop();
  await cleanupQueues(queues);
  await cleanup();
});

const partsOf = (mp3Fids: string[]) =>
  stack.mongo
    .db('mp3s')
    .collection('fs.files')
    .countDocuments({ _id: { $in: mp3Fids.map((f) => new ObjectId(f)) } });

/** Uploads the book with `split=chapters` and waits for its job: its view. */
async function split(authorization: string): Promise<{ video_fid: string; mp3s: { fid: string; title: string; duration: number; size: number }[] }> {
  const res = await uploadFile(stack, authorization, [{ name: 'book.mp3', type: 'audio/mpeg', data: book }], '?split=chapters');
  expect(res.status).toBe(202);
  const { video_fid, options } = await jsonOf(res);
  expect(options).toEqual({ split: 'chapters' });
  return waitFor(
    async () => {
      const job = await jsonOf(await fetch(`${stack.url}/jobs/${video_fid}`, { headers: { authorization } }));
      return job.state === 'done' ? job : undefined;
    },
    { timeoutMs: 30_000, what: 'the split job to be done' },
  );
}

describe('a job split by chapters, through the gateway', () => {
  it('when an upload asks for split=chapters, then its job lists its parts, each downloads by its own id and name, and its link is to the ZIP', async () => {
    const user = await signIn(stack);
    const job = await split(user.authorization);
    expect(job).toMatchObject({ mp3_fid: null, download_url: `/download.zip?fid=${job.video_fid}` });
    expect(job.mp3s.map((m) => m.title)).toEqual(CHAPTERS);
    for (const m of job.mp3s) expect(Math.abs(m.duration - 4)).toBeLessThan(0.1);

    const res = await fetch(`${stack.url}/download?fid=${job.mp3s[1]!.fid}`, { headers: { authorization: user.authorization } });
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBe(job.mp3s[1]!.size);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="02 - The Middle_ Part 1_2.mp3"');

    const stranger = await signIn(stack);
    expect((await fetch(`${stack.url}/download?fid=${job.mp3s[0]!.fid}`, { headers: { authorization: stranger.authorization } })).status).toBe(404);

    const link = await jsonOf(await fetch(`${stack.url}/jobs/${job.video_fid}/link`, { method: 'POST', headers: { authorization: user.authorization } }));
    const url = new URL(link.url);
    expect(url.pathname).toBe('/download.zip');
    expect(url.searchParams.getAll('fid')).toEqual([job.video_fid]);
  });

  it('when a split job is deleted, then every one of its parts goes', async () => {
    const user = await signIn(stack);
    const job = await split(user.authorization);
    const fids = job.mp3s.map((m) => m.fid);
    expect(await partsOf(fids)).toBe(3);
    expect((await fetch(`${stack.url}/jobs/${job.video_fid}`, { method: 'DELETE', headers: { authorization: user.authorization } })).status).toBe(204);
    expect(await partsOf(fids)).toBe(0);
    expect(
      await stack.mongo
        .db('mp3s')
        .collection('fs.chunks')
        .countDocuments({ files_id: { $in: fids.map((f) => new ObjectId(f)) } }),
    ).toBe(0);
  });

  it('when a split job expires, then the sweep removes every part and each part’s download answers 410', async () => {
    const user = await signIn(stack);
    const job = await split(user.authorization);
    const fids = job.mp3s.map((m) => m.fid);
    await stack.mongo
      .db('videos')
      .collection('jobs')
      .updateOne({ _id: new ObjectId(job.video_fid) }, { $set: { expires_at: new Date(Date.now() - 1000) } });
    expect(await stack.gateway.retention.sweep()).toBeGreaterThanOrEqual(1);
    expect(await partsOf(fids)).toBe(0);
    for (const fid of fids) {
      const res = await fetch(`${stack.url}/download?fid=${fid}`, { headers: { authorization: user.authorization } });
      expect(res.status).toBe(410);
    }
    expect(await jsonOf(await fetch(`${stack.url}/jobs/${job.video_fid}`, { headers: { authorization: user.authorization } }))).toMatchObject({
      expired: true,
      download_url: null,
    });
  });
});
