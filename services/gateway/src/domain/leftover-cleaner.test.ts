import { createLogger } from '@mp3converter/shared/logger';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LeftoverCleaner } from './leftover-cleaner.js';
import { FakeStore } from './store.fake.js';

const past = () => new Date(Date.now() - 1_000);
const future = () => new Date(Date.now() + 60_000);

let store: FakeStore;
let cleaner: LeftoverCleaner;

beforeEach(() => {
  vi.useFakeTimers();
  store = new FakeStore();
  cleaner = new LeftoverCleaner(store, store, store, createLogger({ service: 'test', level: 'silent' }), { waitMs: 1_000, retryDelaysMs: [100, 200, 400] });
});
afterEach(() => {
  cleaner.stop();
  vi.useRealTimers();
});

describe('LeftoverCleaner.discard', () => {
  it('when the store answers, then the video, its job and its lease are gone once it resolves', async () => {
    store.upload('a', future(), true);
    await cleaner.discard('a');
    expect(store.has('a')).toBe(false);
    expect(cleaner.pending).toBe(0);
  });

  it('when the store is away, then it resolves anyway and retries until the store answers again', async () => {
    store.upload('a', future(), true);
    store.down = true;
    await cleaner.discard('a');
    expect(store.has('a')).toBe(true);
    expect(cleaner.pending).toBe(1);

    await vi.advanceTimersByTimeAsync(100 + 200 + 400 + 400 + 400);
    expect(cleaner.pending).toBe(1);
    store.down = false;
    await vi.advanceTimersByTimeAsync(400);
    expect(store.has('a')).toBe(false);
    expect(cleaner.pending).toBe(0);
  });

  it('when the store hangs, then it resolves after waitMs, and the removal still completes later', async () => {
    store.upload('a', future());
    let answer!: () => void;
    const slow = new Promise<void>((r) => (answer = r));
    const remove = store.delete.bind(store);
    store.delete = async (id) => {
      await slow;
      return remove(id);
    };
    let resolved = false;
    const discarding = cleaner.discard('a').then(() => (resolved = true));
    await vi.advanceTimersByTimeAsync(999);
    expect(resolved).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await discarding;
    expect(store.has('a')).toBe(true);
    answer();
    await vi.advanceTimersByTimeAsync(0);
    expect(store.has('a')).toBe(false);
  });

  it('when the cleaner is stopped, then it retries no more', async () => {
    store.upload('a', future());
    store.down = true;
    await cleaner.discard('a');
    cleaner.stop();
    store.down = false;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(store.has('a')).toBe(true);
  });
});

describe('LeftoverCleaner.sweep', () => {
  it('when a lease has run out and there is no job, then the upload is removed', async () => {
    store.upload('dead', past());
    expect(await cleaner.sweep()).toBe(1);
    expect(store.has('dead')).toBe(false);
  });

  it('when a lease has not run out, then the upload is left alone (another gateway is writing it)', async () => {
    store.upload('live', future());
    expect(await cleaner.sweep()).toBe(0);
    expect(store.videos.has('live')).toBe(true);
    expect(store.leases.has('live')).toBe(true);
  });

  it('when an upload is being written here, then it is left alone even if its lease lapsed', async () => {
    store.upload('mine', past());
    const done = cleaner.writing('mine');
    expect(await cleaner.sweep()).toBe(0);
    expect(store.videos.has('mine')).toBe(true);
    done();
    expect(await cleaner.sweep()).toBe(1);
  });

  it('when a lapsed upload has its job, then it was accepted: the video and job stay, only the lease goes', async () => {
    store.upload('accepted', past(), true);
    expect(await cleaner.sweep()).toBe(0);
    expect(store.videos.has('accepted')).toBe(true);
    expect(store.jobs.has('accepted')).toBe(true);
    expect(store.leases.has('accepted')).toBe(false);
  });

  it('when started, then it sweeps every interval until stopped', async () => {
    cleaner.start(1_000);
    store.upload('dead', past());
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.has('dead')).toBe(false);
    cleaner.stop();
    store.upload('later', past());
    await vi.advanceTimersByTimeAsync(5_000);
    expect(store.has('later')).toBe(true);
  });

  it('when the store is away, then the sweep fails and the next one does the work', async () => {
    cleaner.start(1_000);
    store.upload('dead', past());
    store.down = true;
    await vi.advanceTimersByTimeAsync(1_000);
    store.down = false;
    expect(store.has('dead')).toBe(true);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.has('dead')).toBe(false);
  });
});
