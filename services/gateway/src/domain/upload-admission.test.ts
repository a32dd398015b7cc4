import { AppError } from '@mp3converter/shared/errors';
import { describe, expect, it } from 'vitest';
import { UploadAdmission } from './upload-admission.js';

const MiB = 1024 ** 2;
const limits = { maxUploadBytes: 100 * MiB, storageQuotaBytes: 300 * MiB, maxJobsInFlight: 3 };
const admissionWith = (usage: { bytes: number; inFlight: number }, reserved = { uploads: 0, bytes: 0 }) =>
  new UploadAdmission({ usageOf: async () => usage }, limits, { reserved: async () => reserved });

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('UploadAdmission', () => {
  it('when a user has room, then the upload may be as large as the per-upload limit, with the job slots left', async () => {
    expect(await admissionWith({ bytes: 0, inFlight: 1 }).admit('a@example.test', 10 * MiB)).toEqual({ maxBytes: 100 * MiB, byQuota: false, jobSlots: 2 });
  });

  it('when the quota leaves less than the per-upload limit, then that is the most the upload may be', async () => {
    expect(await admissionWith({ bytes: 250 * MiB, inFlight: 0 }).admit('a@example.test')).toEqual({ maxBytes: 50 * MiB, byQuota: true, jobSlots: 3 });
  });

  it('when the jobs in flight are at the limit, then 429 too_many_jobs with Retry-After', async () => {
    const err = await refusal(admissionWith({ bytes: 0, inFlight: 3 }).admit('a@example.test'));
    expect(err).toMatchObject({ status: 429, code: 'too_many_jobs', headers: { 'Retry-After': '30' } });
    expect(err.message).toContain('the limit is 3');
  });

  it('when unfinished resumable uploads fill the slots the jobs leave, then they count as jobs in flight', async () => {
    const err = await refusal(admissionWith({ bytes: 0, inFlight: 1 }, { uploads: 2, bytes: 2 * MiB }).admit('a@example.test', MiB));
    expect(err).toMatchObject({ status: 429, code: 'too_many_jobs' });
    expect(err.message).toContain('2 of them unfinished uploads');
  });

  it('when unfinished uploads have reserved the rest of the quota, then a declared upload is refused 413 quota_exceeded', async () => {
    const admission = admissionWith({ bytes: 100 * MiB, inFlight: 0 }, { uploads: 1, bytes: 150 * MiB });
    expect(await admission.admit('a@example.test', 50 * MiB)).toMatchObject({ maxBytes: 50 * MiB, byQuota: true });
    const err = await refusal(admission.admit('a@example.test', 60 * MiB));
    expect(err).toMatchObject({ status: 413, code: 'quota_exceeded' });
  });
});
