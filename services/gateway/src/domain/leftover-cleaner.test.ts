import { createLogger } from '@mp3converter/shared/logger';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LeftoverCleaner } from './leftover-cleaner.js';
import { FakeStore } from './store.fake.js';

const past = () => new Date(Date.now() - 1_000);
const future = () => new Date(Date.now() + 60_000);

const A = '65f0c0ffee001122334455a0';
const DEAD = '65f0c0ffee001122334455a1';
const LIVE = '65f0c0ffee001122334455a2';
const MINE = '65f0c0ffee001122334455a3';
const ACCEPTED = '65f0c0ffee001122334455a4';
const LATER = '65f0c0ffee001122334455a5';

let store: FakeStore;
let cleaner: LeftoverCleaner;

beforeEach(() => {
  vi.useFakeTimers();
  store = new FakeStore();
  cleaner = new LeftoverCleaner(store, store.jobs, store, createLogger({ service: 'test', level: 'silent' }), {
    waitMs: 1_000,
    retryDelaysMs: [100, 200, 400],
  });
});
afterEach(() => {
  cleaner.stop();
  vi.useRealTimers();
});

describe('LeftoverCleaner.discard', () => {
  it('when the store answers, then the video, its job and its lease are gone once it resolves', async () => {
    await store.upload(A, future(), true);
    await cleaner.discard(A);
    expect(await store.has(A)).toBe(false);
    expect(cleaner.pending).toBe(0);
  });

  it('when the store is away, then it resolves anyway and retries until the store answers again', async () => {
    await store.upload(A, future(), true);
    store.down = true;
    await cleaner.discard(A);
    expect(await store.has(A)).toBe(true);
    expect(cleaner.pending).toBe(1);

    await vi.advanceTimersByTimeAsync(100 + 200 + 400 + 400 + 400);
    expect(cleaner.pending).toBe(1);
    store.down = false;
    await vi.advanceTimersByTimeAsync(400);
    expect(await store.has(A)).toBe(false);
    expect(cleaner.pending).toBe(0);
  });

  it('when the store hangs, then it resolves after waitMs, and the removal still completes later', async () => {
    await store.upload(A, future());
    let answer!: () => void;
    const slow = new Promise<void>((r) => (answer = r));
    const remove = store.delete.bind(store);
    store.delete = async (id) => {
      await slow;
      return remove(id);
    };
    let resolved = false;
    const discarding = cleaner.discard(A).then(() => (resolved = true));
    await vi.advanceTimersByTimeAsync(999);
    expect(resolved).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await discarding;
    expect(await store.has(A)).toBe(true);
    answer();
    await vi.advanceTimersByTimeAsync(0);
    expect(await store.has(A)).toBe(false);
  });

  it('when the cleaner is stopped, then it retries no more', async () => {
    await store.upload(A, future());
    store.down = true;
    await cleaner.discard(A);
    cleaner.stop();
    store.down = false;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await store.has(A)).toBe(true);
  });
});

describe('LeftoverCleaner.sweep', () => {
  it('when a lease has run out and there is no job, then the upload is removed', async () => {
    await store.upload(DEAD, past());
    expect(await cleaner.sweep()).toBe(1);
    expect(await store.has(DEAD)).toBe(false);
  });

  it('when a lease has not run out, then the upload is left alone (another gateway is writing it)', async () => {
    await store.upload(LIVE, future());
    expect(await cleaner.sweep()).toBe(0);
    expect(store.videos.has(LIVE)).toBe(true);
    expect(store.leases.has(LIVE)).toBe(true);
  });

  it('when an upload is being written here, then it is left alone even if its lease lapsed', async () => {
    await store.upload(MINE, past());
    const done = cleaner.writing(MINE);
    expect(await cleaner.sweep()).toBe(0);
    expect(store.videos.has(MINE)).toBe(true);
    done();
    expect(await cleaner.sweep()).toBe(1);
  });

  it('when a lapsed upload has its job, then it was accepted: the video and job stay, only the lease goes', async () => {
    await store.upload(ACCEPTED, past(), true);
    expect(await cleaner.sweep()).toBe(0);
    expect(store.videos.has(ACCEPTED)).toBe(true);
    expect(await store.jobs.get(ACCEPTED)).toBeDefined();
    expect(store.leases.has(ACCEPTED)).toBe(false);
  });

  it('when started, then it sweeps every interval until stopped', async () => {
    cleaner.start(1_000);
    await store.upload(DEAD, past());
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await store.has(DEAD)).toBe(false);
    cleaner.stop();
    await store.upload(LATER, past());
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await store.has(LATER)).toBe(true);
  });

  it('when the store is away, then the sweep fails and the next one does the work', async () => {
    cleaner.start(1_000);
    await store.upload(DEAD, past());
    store.down = true;
    await vi.advanceTimersByTimeAsync(1_000);
    store.down = false;
    expect(await store.has(DEAD)).toBe(true);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await store.has(DEAD)).toBe(false);
  });
});
