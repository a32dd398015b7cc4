import { createLogger } from '@mp3converter/shared/logger';
import { beforeEach, describe, expect, it } from 'vitest';
import { JobsService } from './jobs.service.js';
import { FakeStore } from './store.fake.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const OWNER = 'a@example.test';
const ids = ['65f0c0ffee00112233445561', '65f0c0ffee00112233445562', '65f0c0ffee00112233445563'];
let store: FakeStore;
let jobs: JobsService;

beforeEach(async () => {
  store = new FakeStore();
  jobs = new JobsService(store.jobs, store, store, store, store, logger);
  for (const videoFid of ids) {
    store.videos.add(videoFid);
    await store.jobs.create({ videoFid, owner: OWNER, filename: 'clip.mp4', size: 10, contentType: 'video/mp4' });
  }
});

describe('JobsService', () => {
  it('when the owner lists, then newest first, page by page, with queue positions', async () => {
    const first = await jobs.list(OWNER, { limit: 2 });
    expect(first.jobs.map((j) => j.video_fid)).toEqual([ids[2], ids[1]]);
    expect(first.next_cursor).toBe(ids[1]);
    const second = await jobs.list(OWNER, { limit: 2, cursor: first.next_cursor! });
    expect(second).toMatchObject({ jobs: [{ video_fid: ids[0], state: 'queued', position: 1 }], next_cursor: null });
  });

  it('when a page ends exactly at the last job, then it gives no cursor', async () => {
    expect(await jobs.list(OWNER, { limit: 3 })).toMatchObject({
      jobs: [{ video_fid: ids[2] }, { video_fid: ids[1] }, { video_fid: ids[0] }],
      next_cursor: null,
    });
    expect(await jobs.list(OWNER, { limit: 1, cursor: ids[1]! })).toMatchObject({ jobs: [{ video_fid: ids[0] }], next_cursor: null });
  });

  it('when the cursor is someone else’s job or none at all, then 400 invalid_cursor, and nothing is listed', async () => {
    const stranger = 'b@example.test';
    await expect(jobs.list(stranger, { limit: 2, cursor: ids[2]! })).rejects.toMatchObject({ status: 400, code: 'invalid_cursor' });
    await expect(jobs.list(OWNER, { limit: 2, cursor: '65f0c0ffee00112233445569' })).rejects.toMatchObject({ status: 400, code: 'invalid_cursor' });
  });

  it('when someone else asks for, or deletes, a job, then it does not exist for them', async () => {
    await expect(jobs.view('b@example.test', ids[0]!)).rejects.toMatchObject({ status: 404, code: 'job_not_found' });
    await expect(jobs.remove('b@example.test', ids[0]!)).rejects.toMatchObject({ status: 404 });
    expect((await store.jobs.get(ids[0]!))?.state).toBe('queued');
  });

  it('when a queued job is deleted, then it is cancelled at once and its video removed', async () => {
    const removal = await jobs.remove(OWNER, ids[0]!);
    expect(removal).toMatchObject({ status: 200, job: { state: 'cancelled' } });
    expect(store.videos.has(ids[0]!)).toBe(false);
    expect(store.events.map((e) => e.state)).toEqual(['cancelled']);
  });

  it('when a converting job is deleted, then its worker is asked to stop (202), and asking again changes nothing', async () => {
    await store.convert(ids[0]!);
    expect(await jobs.remove(OWNER, ids[0]!)).toMatchObject({ status: 202, job: { state: 'converting', cancel_requested: true } });
    expect(await jobs.remove(OWNER, ids[0]!)).toMatchObject({ status: 202 });
    expect(store.cancelRequests).toEqual([ids[0], ids[0]]);
  });

  it('when the job is finishing, then 409', async () => {
    await store.convert(ids[0]!);
    await store.worker.markFinishing(ids[0]!);
    await expect(jobs.remove(OWNER, ids[0]!)).rejects.toMatchObject({ status: 409, code: 'job_finishing' });
  });

  it('when a done job is deleted, then its MP3 and video go, it is gone from every view, and deleting again answers the same', async () => {
    const mp3 = '65f0c0ffee001122334455aa';
    store.mp3s.add(mp3);
    await store.finish(ids[0]!, mp3);
    expect(await jobs.remove(OWNER, ids[0]!)).toEqual({ status: 204 });
    expect(store.mp3s.has(mp3)).toBe(false);
    expect(store.videos.has(ids[0]!)).toBe(false);
    await expect(jobs.view(OWNER, ids[0]!)).rejects.toMatchObject({ status: 404 });
    expect((await jobs.list(OWNER, { limit: 10 })).jobs.map((j) => j.video_fid)).not.toContain(ids[0]);
    expect(await jobs.remove(OWNER, ids[0]!)).toEqual({ status: 204 });
  });

  it('when a job split by chapters is deleted, then every one of its MP3s goes', async () => {
    const parts = ['65f0c0ffee001122334455a1', '65f0c0ffee001122334455a2', '65f0c0ffee001122334455a3'];
    for (const part of parts) store.mp3s.add(part);
    store.mp3s.add('65f0c0ffee001122334455ff');
    await store.finish(ids[0]!, parts);
    expect(await jobs.remove(OWNER, ids[0]!)).toEqual({ status: 204 });
    expect([...store.mp3s]).toEqual(['65f0c0ffee001122334455ff']);
  });

  it('when a job split into several MP3s is viewed, then it lists them, has no single mp3_fid, and downloads as the ZIP of all of them', async () => {
    const parts = ['65f0c0ffee001122334455a1', '65f0c0ffee001122334455a2'];
    await store.finish(ids[0]!, parts);
    expect(await jobs.view(OWNER, ids[0]!)).toMatchObject({
      state: 'done',
      mp3_fid: null,
      mp3s: parts.map((fid) => ({ fid, title: null, duration: 1, size: 1 })),
      mp3_size: 2,
      download_url: `/download.zip?fid=${ids[0]}`,
    });
  });

  it('when the owner asks for a link to a job split into several MP3s, then it is a signed link to the ZIP of all of them', async () => {
    await store.finish(ids[0]!, ['65f0c0ffee001122334455a1', '65f0c0ffee001122334455a2']);
    const signer = {
      ttlMs: 60_000,
      url: ({ mp3Fid }: { mp3Fid: string }) => `https://x/download?fid=${mp3Fid}`,
      zipUrl: ({ videoFids }: { videoFids: readonly string[] }) => `https://x/download.zip?fid=${videoFids.join('&fid=')}`,
    };
    expect(await jobs.link(OWNER, ids[0]!, signer)).toMatchObject({ url: `https://x/download.zip?fid=${ids[0]}` });
    await store.finish(ids[1]!, '65f0c0ffee001122334455b1');
    expect(await jobs.link(OWNER, ids[1]!, signer)).toMatchObject({ url: 'https://x/download?fid=65f0c0ffee001122334455b1' });
  });
});
