import { AppError } from '@mp3converter/shared/errors';
import { describe, expect, it } from 'vitest';
import type { OwnerLocks, ReservedNow, UploadReservations } from './ports.js';
import { UploadAdmission } from './upload-admission.js';

const MiB = 1024 ** 2;
const limits = { maxUploadBytes: 100 * MiB, storageQuotaBytes: 300 * MiB, maxJobsInFlight: 3 };
const hold = { holdMs: 60_000, renew: false };
const quiet = { warn: () => undefined };

/** The holds in memory, as the store keeps them. */
class MemoryReservations implements UploadReservations {
  readonly holds = new Map<string, { owner: string; bytes: number; until: Date }>();

  async read(owner: string): Promise<ReservedNow> {
    const mine = [...this.holds.values()].filter((h) => h.owner === owner);
    return { count: mine.length, bytes: mine.reduce((s, h) => s + h.bytes, 0) };
  }

  async hold(owner: string, h: { id: string; bytes: number; until: Date }): Promise<void> {
    this.holds.set(h.id, { owner, bytes: h.bytes, until: h.until });
  }

  async renew(): Promise<void> {}

  async release(id: string): Promise<void> {
    this.holds.delete(id);
  }
}

/** One holder at a time per owner, in order: what the store's locks give across gateways. */
class MemoryLocks implements OwnerLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  withLock<T>(owner: string, work: () => Promise<T>): Promise<T> {
    const run = (this.tails.get(owner) ?? Promise.resolve()).then(work, work);
    this.tails.set(
      owner,
      run.catch(() => undefined),
    );
    return run;
  }
}

const admissionWith = (usage: { bytes: number; inFlight: number }, reservations = new MemoryReservations()) =>
  new UploadAdmission({ usageOf: async () => usage }, limits, reservations, new MemoryLocks(), quiet);

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('UploadAdmission', () => {
  it('when a user has room, then the upload holds what it declared, and may be that large', async () => {
    const reservations = new MemoryReservations();
    const held = await admissionWith({ bytes: 0, inFlight: 1 }, reservations).reserve('a@example.test', 'u1', 10 * MiB, hold);
    expect(held).toMatchObject({ maxBytes: 10 * MiB, byQuota: false });
    expect(await reservations.read('a@example.test')).toMatchObject({ count: 1, bytes: 10 * MiB });
  });

  it('when the upload declares nothing and the quota leaves less than the per-upload limit, then it holds what is left', async () => {
    expect(await admissionWith({ bytes: 250 * MiB, inFlight: 0 }).reserve('a@example.test', 'u1', undefined, hold)).toMatchObject({
      maxBytes: 50 * MiB,
      byQuota: true,
    });
  });

  it('when the jobs in flight are at the limit, then 429 too_many_jobs with Retry-After', async () => {
    const err = await refusal(admissionWith({ bytes: 0, inFlight: 3 }).reserve('a@example.test', 'u1', MiB, hold));
    expect(err).toMatchObject({ status: 429, code: 'too_many_jobs', headers: { 'Retry-After': '30' } });
    expect(err.message).toContain('the limit is 3');
  });

  it('when uploads in progress fill the slots the jobs leave, then they count as jobs in flight', async () => {
    const admission = admissionWith({ bytes: 0, inFlight: 1 });
    await admission.reserve('a@example.test', 'u1', MiB, hold);
    await admission.reserve('a@example.test', 'u2', MiB, hold);
    const err = await refusal(admission.reserve('a@example.test', 'u3', MiB, hold));
    expect(err).toMatchObject({ status: 429, code: 'too_many_jobs' });
    expect(err.message).toContain('2 of them uploads in progress');
  });

  it('when uploads in progress hold the rest of the quota, then a declared upload is refused 413 quota_exceeded with Retry-After', async () => {
    const admission = admissionWith({ bytes: 100 * MiB, inFlight: 0 });
    await admission.reserve('a@example.test', 'u1', 100 * MiB, hold);
    await admission.reserve('a@example.test', 'u2', 50 * MiB, hold);
    const err = await refusal(admission.reserve('a@example.test', 'u3', 60 * MiB, hold));
    expect(err).toMatchObject({ status: 413, code: 'quota_exceeded', headers: { 'Retry-After': '30' } });
  });

  it('when the stored files alone fill the quota, then 413 quota_exceeded without Retry-After', async () => {
    const err = await refusal(admissionWith({ bytes: 300 * MiB, inFlight: 0 }).reserve('a@example.test', 'u1', MiB, hold));
    expect(err).toMatchObject({ status: 413, code: 'quota_exceeded', headers: {} });
  });

  it('when an upload is released, then its slot and bytes are free again, and a second release changes nothing', async () => {
    const reservations = new MemoryReservations();
    const admission = admissionWith({ bytes: 0, inFlight: 2 }, reservations);
    const held = await admission.reserve('a@example.test', 'u1', MiB, hold);
    await refusal(admission.reserve('a@example.test', 'u2', MiB, hold));
    await held.release();
    await held.release();
    expect(await admission.reserve('a@example.test', 'u2', MiB, hold)).toMatchObject({ maxBytes: MiB });
  });

  it('when many uploads of one owner are admitted at once, then no more than the slots left are held', async () => {
    const reservations = new MemoryReservations();
    const admission = admissionWith({ bytes: 0, inFlight: 1 }, reservations);
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => admission.reserve('a@example.test', `u${i}`, MiB, hold)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(2);
    expect((await reservations.read('a@example.test')).count).toBe(2);
  });
});
