import { beforeEach, describe, expect, it } from 'vitest';
import type { NewJob } from '../src/jobs/ports.js';
import { LIST_PAGE_JOBS, type JobStore } from '../src/jobs/store.js';

/**
 * What every job store does, run against each of them (the in-memory one in the unit tests, MongoDB's in the
 * integration tests): the same cases, so the in-memory store that other tests stand on cannot drift from the
 * real one. `open` gives a store of its own for each case, keeping a list cache as the gateway's does, and a
 * second worker's view of the same jobs, as another process (a converter) has it.
 */
export function jobStoreContract(name: string, open: () => Promise<{ store: JobStore; other: JobStore }>): void {
  describe(`job store contract: ${name}`, () => {
    let store: JobStore;
    let other: JobStore;
    let n = 0;
    const OWNER = 'owner@example.test';
    const claimOnce = { maxAttempts: 3, revive: false };
    const fid = () => `65f0c0ffee0011223344${(++n).toString(16).padStart(4, '0')}`;
    const newJob = async (fields: Partial<NewJob> = {}) =>
      store.create({ videoFid: fid(), owner: OWNER, filename: 'clip.mp4', size: 10, contentType: 'video/mp4', ...fields });
    const inFuture = () => new Date(Date.now() + 86_400_000);

    beforeEach(async () => {
      ({ store, other } = await open());
    });

    it('when a job is recorded, then it reads back queued, by its id in either case, and nothing else is a job', async () => {
      const job = await newJob({ options: { bitrate: 128 }, queue: 'video', dispatch: 'pending' });
      expect(await store.get(job.videoFid.toUpperCase())).toMatchObject({
        videoFid: job.videoFid,
        owner: OWNER,
        state: 'queued',
        options: { bitrate: 128 },
        dispatch: 'pending',
        deleted: false,
      });
      expect(await store.get(fid())).toBeUndefined();
      expect(await store.get('not an id')).toBeUndefined();
      await store.remove(job.videoFid);
      expect(await store.get(job.videoFid)).toBeUndefined();
    });

    it('when a worker claims a queued job, then it converts under that worker, and another worker is held off until the lease runs out', async () => {
      const job = await newJob();
      expect(await store.claim(job.videoFid, OWNER, claimOnce)).toEqual({ status: 'claimed', attempt: 1 });
      expect(await store.get(job.videoFid)).toMatchObject({ state: 'converting', attempts: 1, startedAt: expect.any(Date) });
      expect(await other.claim(job.videoFid, OWNER, claimOnce)).toEqual({ status: 'held' });
      // The same worker again (the broker redelivered to it): it goes on, counting the attempt.
      expect(await store.claim(job.videoFid, OWNER, claimOnce)).toEqual({ status: 'claimed', attempt: 2 });
    });

    it('when a message names someone else than the recorded owner, then nothing is taken or counted', async () => {
      const job = await newJob();
      expect(await store.claim(job.videoFid, 'mallory@example.test', claimOnce)).toEqual({ status: 'not-owner' });
      expect(await store.get(job.videoFid)).toMatchObject({ state: 'queued', attempts: 0, owner: OWNER });
    });

    it('when a video has no job (the original gateway recorded none), then the first claim records it as converting, and a second one is held', async () => {
      const videoFid = fid();
      expect(await store.claim(videoFid, OWNER, claimOnce)).toEqual({ status: 'claimed', attempt: 1 });
      expect(await store.get(videoFid)).toMatchObject({ state: 'converting', owner: OWNER, dispatch: 'published' });
      // Its owner lists it, after the jobs recorded on upload.
      const uploaded = await newJob();
      expect((await store.list(OWNER, { limit: 5 }))?.jobs.map((j) => j.videoFid)).toEqual([uploaded.videoFid, videoFid]);
      expect(await other.claim(videoFid, OWNER, claimOnce)).toEqual({ status: 'held' });
    });

    it('when a job was claimed more often than allowed, then the claim says exhausted with the last error', async () => {
      const job = await newJob();
      await store.claim(job.videoFid, OWNER, claimOnce);
      await store.release(job.videoFid, { lastError: 'MongoDB went away', refund: false });
      expect(await store.get(job.videoFid)).toMatchObject({ state: 'queued' });
      expect(await store.claim(job.videoFid, OWNER, { maxAttempts: 1, revive: false })).toEqual({
        status: 'exhausted',
        attempts: 2,
        lastError: 'MongoDB went away',
      });
    });

    it('when a job is handed back at shutdown, then its attempt does not count and it keeps its place in line', async () => {
      const job = await newJob();
      await store.claim(job.videoFid, OWNER, claimOnce);
      await store.release(job.videoFid, { lastError: null, refund: true });
      expect(await store.get(job.videoFid)).toMatchObject({ state: 'queued', attempts: 0, queuedAt: job.queuedAt });
    });

    it('when another worker holds the job, then its releases, progress and renewals change nothing', async () => {
      const job = await newJob();
      await store.claim(job.videoFid, OWNER, claimOnce);
      await other.release(job.videoFid, { lastError: null, refund: true });
      await other.recordProgress(job.videoFid, { percent: 50, speed: 1, etaSeconds: 1 });
      expect(await store.get(job.videoFid)).toMatchObject({ state: 'converting', attempts: 1, progress: null });
      await store.recordProgress(job.videoFid, { percent: 40, speed: 2, etaSeconds: 3 });
      await store.recordDuration(job.videoFid, 61.5);
      expect(await store.get(job.videoFid)).toMatchObject({ progress: { percent: 40, speed: 2, etaSeconds: 3 }, durationSeconds: 61.5 });
    });

    it('when the owner asks to cancel a converting job, then the worker hears it at renewal and the job cannot start finishing', async () => {
      const job = await newJob();
      await store.claim(job.videoFid, OWNER, claimOnce);
      expect(await store.renew(job.videoFid)).toEqual({ cancelRequested: false });
      expect(await store.requestCancel(job.videoFid)).toMatchObject({ state: 'converting', cancelRequested: true });
      expect(await store.renew(job.videoFid)).toEqual({ cancelRequested: true });
      expect(await store.markFinishing(job.videoFid)).toBe(false);
      await store.markCancelled(job.videoFid);
      expect(await store.get(job.videoFid)).toMatchObject({ state: 'cancelled', reason: 'cancelled by its owner', finishedAt: expect.any(Date) });
    });

    it('when a job is finishing, then a cancel is refused, and it ends done with its MP3', async () => {
      const job = await newJob();
      await store.claim(job.videoFid, OWNER, claimOnce);
      expect(await store.markFinishing(job.videoFid)).toBe(true);
      expect(await store.requestCancel(job.videoFid)).toBeUndefined();
      const mp3Fid = fid();
      await store.markDone(job.videoFid, { mp3s: [{ fid: mp3Fid, title: 'Talk', durationSeconds: 61.5, size: 1234 }], expiresAt: inFuture() });
      expect(await store.get(job.videoFid)).toMatchObject({
        state: 'done',
        mp3Fid,
        mp3Size: 1234,
        mp3s: [{ fid: mp3Fid, title: 'Talk', durationSeconds: 61.5, size: 1234 }],
        progress: null,
        cancelRequested: false,
      });
      expect(await store.findByMp3(mp3Fid.toUpperCase())).toMatchObject({ videoFid: job.videoFid });
      expect(await store.claim(job.videoFid, OWNER, claimOnce)).toEqual({ status: 'finished', state: 'done' });
      expect(await store.cancelQueued(job.videoFid)).toBeUndefined();
    });

    it('when a job is done with several MP3s (a split by chapters), then it lists them in order, has no single mp3_fid, counts them all, and each finds it', async () => {
      const job = await newJob();
      await store.claim(job.videoFid, OWNER, claimOnce);
      const parts = [
        { fid: fid(), title: 'Intro', durationSeconds: 10, size: 100 },
        { fid: fid(), title: null, durationSeconds: 20.5, size: 200 },
        { fid: fid(), title: '../../x', durationSeconds: 5, size: 50 },
      ];
      await store.markDone(job.videoFid, { mp3s: parts.map((p) => ({ ...p, fid: p.fid.toUpperCase() })), expiresAt: inFuture() });
      expect(await store.get(job.videoFid)).toMatchObject({ state: 'done', mp3Fid: null, mp3Size: 350, mp3s: parts });
      for (const part of parts) expect(await store.findByMp3(part.fid.toUpperCase())).toMatchObject({ videoFid: job.videoFid });
      expect(await store.findByMp3(fid())).toBeUndefined();
      expect(await store.usageOf(OWNER)).toEqual({ bytes: 350, inFlight: 0 });
    });

    it('when a job would be done with no MP3, then the change is refused and the job is left as it was', async () => {
      const job = await newJob();
      await store.claim(job.videoFid, OWNER, claimOnce);
      await expect(store.markDone(job.videoFid, { mp3s: [], expiresAt: inFuture() })).rejects.toThrow(RangeError);
      expect(await store.get(job.videoFid)).toMatchObject({ state: 'converting', mp3s: [] });
    });

    it('when a queued job is cancelled, then in one step, once, and no worker can start it after', async () => {
      const job = await newJob();
      expect(await store.cancelQueued(job.videoFid)).toMatchObject({ state: 'cancelled' });
      expect(await store.cancelQueued(job.videoFid)).toBeUndefined();
      expect(await store.requestCancel(job.videoFid)).toBeUndefined();
      expect(await store.claim(job.videoFid, OWNER, claimOnce)).toEqual({ status: 'finished', state: 'cancelled' });
    });

    it('when a failed job is replayed, then it starts again with fresh attempts; without the replay it stays failed', async () => {
      const job = await newJob();
      await store.claim(job.videoFid, OWNER, claimOnce);
      await store.markFailed(job.videoFid, 'not a video', inFuture());
      expect(await store.claim(job.videoFid, OWNER, claimOnce)).toEqual({ status: 'finished', state: 'failed' });
      expect(await store.claim(job.videoFid, OWNER, { maxAttempts: 3, revive: true })).toEqual({ status: 'claimed', attempt: 1 });
      expect(await store.get(job.videoFid)).toMatchObject({ state: 'converting', reason: null });
    });

    it('when a finished job is deleted, then it is gone from every view but answers when asked for deleted ones; an active one cannot be', async () => {
      const active = await newJob();
      const job = await newJob();
      await store.cancelQueued(job.videoFid);
      await store.markDeleted(job.videoFid);
      await store.markDeleted(active.videoFid);
      expect(await store.get(job.videoFid)).toBeUndefined();
      expect(await store.get(job.videoFid, { includeDeleted: true })).toMatchObject({ deleted: true, state: 'cancelled' });
      expect((await store.list(OWNER, { limit: 10 }))?.jobs.map((j) => j.videoFid)).toEqual([active.videoFid]);
      expect(await store.get(active.videoFid)).toMatchObject({ deleted: false, state: 'queued' });
    });

    it('when finished jobs pass their expiry, then they are listed oldest first until marked expired; active ones never', async () => {
      const now = new Date();
      const older = await newJob();
      const newer = await newJob();
      await newJob();
      for (const [job, agoMs] of [
        [older, 2_000],
        [newer, 1_000],
      ] as const) {
        await store.claim(job.videoFid, OWNER, claimOnce);
        await store.markFailed(job.videoFid, 'not a video', new Date(now.getTime() - agoMs));
      }
      expect((await store.expiring(now, 10)).map((j) => j.videoFid)).toEqual([older.videoFid, newer.videoFid]);
      await store.markExpired(older.videoFid);
      expect((await store.expiring(now, 10)).map((j) => j.videoFid)).toEqual([newer.videoFid]);
      expect(await store.get(older.videoFid)).toMatchObject({ expiredAt: expect.any(Date) });
    });

    it('when the owner lists, then newest first, a page at a time after a cursor, and a cursor of someone else’s is refused', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await newJob()).videoFid);
      const stranger = await newJob({ owner: 'stranger@example.test' });
      expect((await store.list(OWNER, { limit: 3 }))?.jobs.map((j) => j.videoFid)).toEqual([ids[4], ids[3], ids[2]]);
      expect((await store.list(OWNER, { limit: 3, before: ids[2] }))?.jobs.map((j) => j.videoFid)).toEqual([ids[1], ids[0]]);
      expect(await store.list(OWNER, { limit: 3, before: stranger.videoFid })).toBeUndefined();
      expect(await store.list(OWNER, { limit: 3, before: 'not an id' })).toBeUndefined();
    });

    it('when the owner lists, then the answer says whether more jobs follow: at the list’s end, at a list page’s end, and with every job after deleted', async () => {
      const ids: string[] = [];
      for (let i = 0; i < LIST_PAGE_JOBS + 2; i++) ids.push((await newJob()).videoFid);
      const listed = async (limit: number) => {
        const page = await store.list(OWNER, { limit });
        return { fids: page?.jobs.map((j) => j.videoFid), more: page?.more };
      };
      expect(await listed(LIST_PAGE_JOBS + 2)).toEqual({ fids: [...ids].reverse(), more: false });
      expect(await listed(LIST_PAGE_JOBS + 1)).toEqual({ fids: [...ids].reverse().slice(0, -1), more: true });
      // The newest list page holds the last two: the first two end exactly at its end.
      expect(await listed(2)).toEqual({ fids: [ids[LIST_PAGE_JOBS + 1], ids[LIST_PAGE_JOBS]], more: true });
      for (const fid of ids.slice(0, LIST_PAGE_JOBS)) {
        await store.cancelQueued(fid);
        await store.markDeleted(fid);
      }
      expect(await listed(2)).toEqual({ fids: [ids[LIST_PAGE_JOBS + 1], ids[LIST_PAGE_JOBS]], more: false });
      expect(await listed(1)).toEqual({ fids: [ids[LIST_PAGE_JOBS + 1]], more: true });
      expect(await store.list(OWNER, { limit: 5, before: ids[LIST_PAGE_JOBS] })).toEqual({ jobs: [], more: false });
    });

    it('when another process records, deletes, expires or replays jobs of a list that was listed, then the next listing shows it', async () => {
      const finish = async (videoFid: string) => {
        await other.claim(videoFid, OWNER, claimOnce);
        await other.markDone(videoFid, { mp3s: [{ fid: fid(), title: null, durationSeconds: 1, size: 1 }], expiresAt: inFuture() });
      };
      const listed = async () =>
        (await store.list(OWNER, { limit: 10 }))?.jobs.map((j) => `${j.videoFid.slice(-2)} ${j.state}${j.expiredAt ? ' expired' : ''}`);
      const [a, b, c] = [(await newJob()).videoFid, (await newJob()).videoFid, (await newJob()).videoFid];
      await finish(a);
      await finish(b);
      await other.claim(c, OWNER, claimOnce);
      await other.markFailed(c, 'not a video', inFuture());
      const shown = await listed();
      expect(await listed()).toEqual(shown);

      const d = (await other.create({ videoFid: fid(), owner: OWNER, filename: 'x.mp4', size: 1, contentType: 'video/mp4' })).videoFid;
      expect(await listed()).toEqual([`${d.slice(-2)} queued`, ...(shown ?? [])]);
      await finish(d);
      expect(await listed()).toEqual([`${d.slice(-2)} done`, ...(shown ?? [])]);
      await other.markDeleted(a);
      expect(await listed()).toEqual([`${d.slice(-2)} done`, `${c.slice(-2)} failed`, `${b.slice(-2)} done`]);
      await other.markExpired(b);
      expect(await listed()).toEqual([`${d.slice(-2)} done`, `${c.slice(-2)} failed`, `${b.slice(-2)} done expired`]);
      expect(await other.claim(c, OWNER, { maxAttempts: 3, revive: true })).toEqual({ status: 'claimed', attempt: 1 });
      expect(await listed()).toEqual([`${d.slice(-2)} done`, `${c.slice(-2)} converting`, `${b.slice(-2)} done expired`]);
    });

    it('when an upload that failed is taken back, then a listing kept from before no longer shows its job', async () => {
      const kept = await newJob();
      await store.cancelQueued(kept.videoFid);
      const failed = await newJob();
      await store.cancelQueued(failed.videoFid);
      expect((await store.list(OWNER, { limit: 5 }))?.jobs.map((j) => j.videoFid)).toEqual([failed.videoFid, kept.videoFid]);
      await other.remove(failed.videoFid);
      expect((await store.list(OWNER, { limit: 5 }))?.jobs.map((j) => j.videoFid)).toEqual([kept.videoFid]);
    });

    it('when a listed page holds a job that runs, then every listing reads it anew: its progress shows', async () => {
      const job = await newJob();
      await other.claim(job.videoFid, OWNER, claimOnce);
      for (const percent of [10, 55]) {
        await other.recordProgress(job.videoFid, { percent, speed: 2, etaSeconds: 5 });
        expect((await store.list(OWNER, { limit: 5 }))?.jobs[0]?.progress).toMatchObject({ percent });
      }
    });

    it('when a worker records a job no upload recorded (the original’s gateway), then a listing that ended before it says more follow', async () => {
      const job = await newJob();
      await store.cancelQueued(job.videoFid);
      expect(await store.list(OWNER, { limit: 1 })).toMatchObject({ more: false });
      expect(await other.claim(fid(), OWNER, claimOnce)).toEqual({ status: 'claimed', attempt: 1 });
      expect(await store.list(OWNER, { limit: 1 })).toMatchObject({ jobs: [{ videoFid: job.videoFid }], more: true });
    });

    it('when jobs change, then changedSince gives the owner’s changes after the moment, oldest first', async () => {
      const first = await newJob();
      const since = new Date(Date.now() + 1);
      await new Promise((r) => setTimeout(r, 5));
      const second = await newJob();
      await new Promise((r) => setTimeout(r, 2));
      await store.cancelQueued(first.videoFid);
      expect((await store.changedSince(OWNER, since)).map((j) => j.videoFid)).toEqual([second.videoFid, first.videoFid]);
      expect(await store.changedSince('stranger@example.test', since)).toEqual([]);
    });

    it('when an owner has jobs pending and done, then usage counts the videos of the pending and the MP3s of the done', async () => {
      await newJob({ size: 100 });
      const done = await newJob({ size: 50 });
      await store.claim(done.videoFid, OWNER, claimOnce);
      await store.markDone(done.videoFid, { mp3s: [{ fid: fid(), title: null, durationSeconds: 1, size: 7 }], expiresAt: inFuture() });
      const failed = await newJob({ size: 1_000 });
      await store.cancelQueued(failed.videoFid);
      expect(await store.usageOf(OWNER)).toEqual({ bytes: 107, inFlight: 1 });
    });

    it('when jobs are held for their owner’s share, then each is released once, counted, and a pending publish never confirmed is stale', async () => {
      const held = await newJob({ dispatch: 'held', queue: 'video' });
      const pending = await newJob({ dispatch: 'pending', queue: 'video' });
      await newJob({ dispatch: 'held', queue: 'elsewhere' });
      expect(await store.dispatchedCount(OWNER)).toBe(1);
      expect((await store.held(OWNER, 'video', 10)).map((j) => j.videoFid)).toEqual([held.videoFid]);
      const later = new Date(Date.now() + 60_000);
      expect(await store.ownersToDispatch('video', later)).toEqual([OWNER]);
      expect((await store.stalePending(OWNER, 'video', later)).map((j) => j.videoFid)).toEqual([pending.videoFid]);
      await store.confirmDispatch(pending.videoFid);
      expect(await store.stalePending(OWNER, 'video', later)).toEqual([]);
      expect(await store.releaseHeld(held.videoFid)).toBe(true);
      expect(await store.releaseHeld(held.videoFid)).toBe(false);
      expect(await store.dispatchedCount(OWNER)).toBe(2);
      expect(await store.get(held.videoFid)).toMatchObject({ dispatch: 'pending' });
    });

    it('when a held job was cancelled, then it is never released', async () => {
      const held = await newJob({ dispatch: 'held', queue: 'video' });
      await store.cancelQueued(held.videoFid);
      expect(await store.releaseHeld(held.videoFid)).toBe(false);
    });

    it('when jobs wait, then published ones go first in order, held ones after them round robin across owners', async () => {
      const a1 = await newJob({ dispatch: 'pending', queue: 'video' });
      await new Promise((r) => setTimeout(r, 2));
      const a2 = await newJob({ dispatch: 'pending', queue: 'video' });
      await new Promise((r) => setTimeout(r, 2));
      const aHeld1 = await newJob({ dispatch: 'held', queue: 'video' });
      await new Promise((r) => setTimeout(r, 2));
      const aHeld2 = await newJob({ dispatch: 'held', queue: 'video' });
      await new Promise((r) => setTimeout(r, 2));
      const bHeld1 = await newJob({ dispatch: 'held', queue: 'video', owner: 'b@example.test' });
      const positions = await Promise.all([a1, a2, aHeld1, aHeld2, bHeld1].map((j) => store.positionOf(j)));
      expect(positions).toEqual([1, 2, 3, 5, 4]);
      expect((await store.queuedOf(['b@example.test'])).map((j) => j.videoFid)).toEqual([bHeld1.videoFid]);
      await store.claim(a1.videoFid, OWNER, claimOnce);
      expect(await store.positionOf((await store.get(a1.videoFid))!)).toBeNull();
      expect(await store.positionOf(a2)).toBe(1);
    });
  });
}
