import { createLogger } from '@mp3converter/shared/logger';
import { beforeEach, describe, expect, it } from 'vitest';
import { Dispatcher } from './dispatcher.js';
import { LeftoverCleaner } from './leftover-cleaner.js';
import type { VideoQueue } from './ports.js';
import { FakeStore } from './store.fake.js';
import { UploadService } from './upload.service.js';

class FakeQueue implements VideoQueue {
  published: unknown[] = [];
  refuse = false;
  async publish(message: unknown): Promise<void> {
    if (this.refuse) throw new Error('broker unavailable');
    this.published.push(message);
  }
}

const V1 = '65f0c0ffee00112233445566';
const logger = createLogger({ service: 'test', level: 'silent' });
let store: FakeStore;
let queue: FakeQueue;
let uploads: UploadService;
let dispatcher: Dispatcher;

/** As if the job's publish began `agoMs` ago. */
const backdateDispatch = (videoFid: string, agoMs: number) => {
  store.collections.jobs.docs.get(videoFid)!.dispatched_at = new Date(Date.now() - agoMs);
};

beforeEach(async () => {
  store = new FakeStore();
  queue = new FakeQueue();
  const cleaner = new LeftoverCleaner(store, store.jobs, store, logger, { waitMs: 1_000 });
  dispatcher = new Dispatcher(store.jobs, queue, store, { queue: 'video', slotsPerUser: 2, staleMs: 1_000 }, logger);
  uploads = new UploadService(store.jobs, queue, dispatcher, store, store, cleaner, store, logger);
  await store.upload(V1, new Date(Date.now() + 60_000));
});

describe('UploadService.enqueue', () => {
  it('when the job is recorded and the message confirmed, then the video and job stay and the lease goes', async () => {
    await uploads.enqueue({ videoFid: V1, filename: 'clip.mp4', size: 10, contentType: 'video/mp4' }, 'a@example.test');
    expect(queue.published).toEqual([{ video_fid: V1, mp3_fid: null, username: 'a@example.test' }]);
    expect(store.videos.has(V1)).toBe(true);
    expect(await store.jobs.get(V1)).toMatchObject({ owner: 'a@example.test', filename: 'clip.mp4', state: 'queued' });
    expect(store.leases.has(V1)).toBe(false);
  });

  it('when the broker refuses, then the error goes on and the video, job and lease are removed', async () => {
    queue.refuse = true;
    await expect(uploads.enqueue({ videoFid: V1, filename: 'clip.mp4', size: 10, contentType: 'video/mp4' }, 'a@example.test')).rejects.toThrow(
      'broker unavailable',
    );
    expect(await store.has(V1)).toBe(false);
  });

  it('when the job cannot be recorded, then the error goes on, nothing is published and the video is removed', async () => {
    store.jobs.create = async () => {
      throw new Error('store unavailable');
    };
    await expect(uploads.enqueue({ videoFid: V1, filename: null, size: 10, contentType: 'video/mp4' }, 'a@example.test')).rejects.toThrow('store unavailable');
    expect(queue.published).toEqual([]);
    expect(await store.has(V1)).toBe(false);
  });

  it('when a user already has their share on the queue, then further jobs are held, then published one by one as earlier ones end', async () => {
    const ids = ['65f0c0ffee00112233445561', '65f0c0ffee00112233445562', '65f0c0ffee00112233445563', '65f0c0ffee00112233445564'];
    for (const id of ids) await uploads.enqueue({ videoFid: id, filename: null, size: 1, contentType: 'video/mp4' }, 'a@example.test');
    expect(queue.published.map((m) => (m as { video_fid: string }).video_fid)).toEqual(ids.slice(0, 2));
    expect([...store.collections.jobs.docs.values()].map((d) => d.dispatch)).toEqual(['pending', 'pending', 'held', 'held']);
    expect([...store.collections.dispatches.docs.keys()]).toEqual(ids.slice(0, 2));
    // Another user has a share of their own.
    await uploads.enqueue({ videoFid: '65f0c0ffee001122334455b1', filename: null, size: 1, contentType: 'video/mp4' }, 'b@example.test');
    expect(queue.published).toHaveLength(3);
    await store.finish(ids[0]!, '65f0c0ffee001122334455ff');
    expect(await dispatcher.dispatch('a@example.test')).toBe(1);
    expect((queue.published.at(-1) as { video_fid: string }).video_fid).toBe(ids[2]);
    expect(await dispatcher.dispatch('a@example.test')).toBe(0);
  });

  it('when a publish was cut short (left pending), then the sweep publishes it again', async () => {
    await store.jobs.create({
      videoFid: V1,
      owner: 'a@example.test',
      filename: null,
      size: 1,
      contentType: null,
      dispatch: 'pending',
      queue: 'video',
      options: { bitrate: 128 },
    });
    backdateDispatch(V1, 5_000);
    await dispatcher.sweep();
    expect(queue.published).toEqual([{ video_fid: V1, mp3_fid: null, username: 'a@example.test', options: { bitrate: 128 } }]);
    expect(store.collections.dispatches.docs.has(V1)).toBe(true);
  });
});

describe('UploadService.record (a finished resumable upload)', () => {
  const video = { videoFid: V1, filename: 'clip.mp4', size: 10, contentType: 'video/mp4' };

  it('when the broker refuses, then the job is kept pending and the video stays, for the sweep to publish', async () => {
    queue.refuse = true;
    await uploads.record(video, 'a@example.test');
    expect(store.videos.has(V1)).toBe(true);
    expect(await store.jobs.get(V1)).toMatchObject({ state: 'queued', dispatch: 'pending' });
    expect(store.collections.dispatches.docs.has(V1)).toBe(false);
    queue.refuse = false;
    backdateDispatch(V1, 5_000);
    await dispatcher.sweep();
    expect(queue.published).toEqual([{ video_fid: V1, mp3_fid: null, username: 'a@example.test' }]);
  });

  it('when it is recorded a second time (a sweep after a cut-short finish), then nothing more is created or published', async () => {
    await uploads.record(video, 'a@example.test');
    await uploads.record(video, 'a@example.test');
    expect(queue.published).toHaveLength(1);
    expect(store.collections.jobs.docs.size).toBe(1);
  });
});
