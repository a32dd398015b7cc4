import { describe, expect, it } from 'vitest';
import { jobStoreContract } from '../../test/job-store.contract.js';
import { JobListCache } from './list-cache.js';
import { memoryJobStore } from './memory.js';
import { JobStore, LIST_PAGE_JOBS } from './store.js';

jobStoreContract('in memory', async () => {
  const { store, collections } = memoryJobStore({ worker: { id: 'worker-a', leaseMs: 60_000 }, listCache: new JobListCache(1 << 20) });
  return { store, other: new JobStore(collections, { worker: { id: 'worker-b', leaseMs: 60_000 } }) };
});

describe('a listing kept by the list cache (in memory)', () => {
  /** Counts the reads of the jobs themselves. */
  function counted() {
    const { collections } = memoryJobStore();
    let reads = 0;
    const jobs = collections.jobs;
    const counting = Object.assign(Object.create(jobs) as typeof jobs, {
      find: (...args: Parameters<typeof jobs.find>) => {
        reads++;
        return jobs.find(...args);
      },
      findOne: (...args: Parameters<typeof jobs.findOne>) => {
        reads++;
        return jobs.findOne(...args);
      },
    });
    const store = new JobStore({ ...collections, jobs: counting }, { worker: { id: 'w', leaseMs: 60_000 }, listCache: new JobListCache(1 << 20) });
    return { store, reads: () => reads };
  }

  it('when a list of finished jobs is listed again unchanged, then no job is read; a list with a running job reads its page', async () => {
    const { store, reads } = counted();
    const owner = 'ann@example.test';
    const fids = Array.from({ length: LIST_PAGE_JOBS + 3 }, (_, i) => `65f0c0ffee00112233440${i.toString(16).padStart(3, '0')}`);
    for (const videoFid of fids) {
      await store.create({ videoFid, owner, filename: 'a.mp4', size: 1, contentType: 'video/mp4' });
      await store.cancelQueued(videoFid);
    }
    const first = await store.list(owner, { limit: 20 });
    const before = reads();
    expect(await store.list(owner, { limit: 20 })).toEqual(first);
    expect(reads()).toBe(before);

    await store.create({ videoFid: '65f0c0ffee0011223344ffff', owner, filename: 'b.mp4', size: 1, contentType: 'video/mp4' });
    await store.list(owner, { limit: 20 });
    const running = reads();
    await store.list(owner, { limit: 20 });
    expect(reads()).toBeGreaterThan(running);
  });
});
