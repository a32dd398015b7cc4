import { createLogger } from '@mp3converter/shared/logger';
import { describe, expect, it } from 'vitest';
import { RetentionSweep } from './retention.js';
import { FakeStore } from './store.fake.js';

const GRACE_MS = 600_000;
const ID = '65f0c0ffee00112233445561';

/** A finished job with its MP3, expired `agoMs` before `now`. */
async function expiredJob(store: FakeStore, id: string, now: Date, agoMs: number): Promise<string> {
  const mp3Fid = `${id.slice(0, 20)}ffff`;
  await store.jobs.create({ videoFid: id, owner: 'a@b.c', filename: 'a.mp4', size: 1, contentType: 'video/mp4' });
  await store.finish(id, mp3Fid, new Date(now.getTime() - agoMs));
  store.mp3s.add(mp3Fid);
  return mp3Fid;
}

describe('RetentionSweep', () => {
  const sweepOf = (store: FakeStore) => new RetentionSweep(store.jobs, store, store, createLogger({ service: 'test', level: 'silent' }), GRACE_MS);

  it('when an expired MP3 is being downloaded within the grace, then it is left for a later round', async () => {
    const store = new FakeStore();
    const now = new Date();
    const mp3Fid = await expiredJob(store, ID, now, GRACE_MS - 1);
    store.downloading.add(mp3Fid);
    expect(await sweepOf(store).sweep(now)).toBe(0);
    expect(store.mp3s.has(mp3Fid)).toBe(true);
  });

  it('when a download still holds an MP3 past the grace, then the MP3 is removed all the same', async () => {
    const store = new FakeStore();
    const now = new Date();
    const mp3Fid = await expiredJob(store, ID, now, GRACE_MS);
    store.downloading.add(mp3Fid);
    expect(await sweepOf(store).sweep(now)).toBe(1);
    expect(store.mp3s.has(mp3Fid)).toBe(false);
    expect((await store.jobs.get(ID))?.expiredAt).toBeInstanceOf(Date);
  });

  it('when a job split into parts expires, then every part goes, but not while one of them is downloaded within the grace', async () => {
    const store = new FakeStore();
    const now = new Date();
    const parts = ['65f0c0ffee001122334455a1', '65f0c0ffee001122334455a2', '65f0c0ffee001122334455a3'];
    await store.jobs.create({ videoFid: ID, owner: 'a@b.c', filename: 'a.mp4', size: 1, contentType: 'video/mp4' });
    await store.finish(ID, parts, new Date(now.getTime() - 1));
    for (const part of parts) store.mp3s.add(part);
    store.downloading.add(parts[2]!);
    expect(await sweepOf(store).sweep(now)).toBe(0);
    expect(store.mp3s.size).toBe(3);
    store.downloading.clear();
    expect(await sweepOf(store).sweep(now)).toBe(1);
    expect(store.mp3s.size).toBe(0);
  });
});
