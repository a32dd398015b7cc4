import { createLogger } from '@mp3converter/shared/logger';
import { beforeEach, describe, expect, it } from 'vitest';
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

beforeEach(() => {
  store = new FakeStore();
  queue = new FakeQueue();
  const cleaner = new LeftoverCleaner(store, store, store, logger, { waitMs: 1_000 });
  uploads = new UploadService(store, queue, store, cleaner, store, logger);
  store.upload(V1, new Date(Date.now() + 60_000));
});

describe('UploadService.enqueue', () => {
  it('when the job is recorded and the message confirmed, then the video and job stay and the lease goes', async () => {
    await uploads.enqueue({ videoFid: V1, filename: 'clip.mp4', size: 10, contentType: 'video/mp4' }, 'a@example.test');
    expect(queue.published).toEqual([{ video_fid: V1, mp3_fid: null, username: 'a@example.test' }]);
    expect(store.videos.has(V1)).toBe(true);
    expect(store.jobs.get(V1)).toMatchObject({ owner: 'a@example.test', filename: 'clip.mp4', state: 'queued' });
    expect(store.leases.has(V1)).toBe(false);
  });

  it('when the broker refuses, then the error goes on and the video, job and lease are removed', async () => {
    queue.refuse = true;
    await expect(uploads.enqueue({ videoFid: V1, filename: 'clip.mp4', size: 10, contentType: 'video/mp4' }, 'a@example.test')).rejects.toThrow(
      'broker unavailable',
    );
    expect(store.has(V1)).toBe(false);
  });

  it('when the job cannot be recorded, then the error goes on, nothing is published and the video is removed', async () => {
    store.create = async () => {
      throw new Error('store unavailable');
    };
    await expect(uploads.enqueue({ videoFid: V1, filename: null, size: 10, contentType: 'video/mp4' }, 'a@example.test')).rejects.toThrow('store unavailable');
    expect(queue.published).toEqual([]);
    expect(store.has(V1)).toBe(false);
  });
});
