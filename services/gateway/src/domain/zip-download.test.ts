import { randomBytes } from 'node:crypto';
import type { Job } from '@mp3converter/shared/jobs';
import { type SignedZipLink, zipSignatureOf } from '@mp3converter/shared/links';
import { createLogger } from '@mp3converter/shared/logger';
import { beforeEach, describe, expect, it } from 'vitest';
import { FakeStore } from './store.fake.js';
import { MAX_ZIP_JOBS, type Mp3Reads, type StoredMp3, ZipDownloads, zipFidsOf } from './zip-download.js';

const SECRET = 'a-download-link-secret-of-32-bytes!!';
const logger = createLogger({ service: 'test', level: 'silent' });

/** MP3s in memory, as the ZIP downloads read them. */
class FakeMp3s implements Mp3Reads<StoredMp3> {
  data = new Map<string, Buffer>();
  crcs = new Map<string, number>();
  held: string[][] = [];
  async stat(mp3Fids: readonly string[]) {
    const found = new Map<string, StoredMp3>();
    for (const mp3Fid of mp3Fids) {
      const data = this.data.get(mp3Fid);
      if (data) found.set(mp3Fid, { mp3Fid, length: data.length, storedAt: new Date('2025-03-04T05:06:08Z'), crc32: this.crcs.get(mp3Fid) });
    }
    return found;
  }
  async *read(mp3: StoredMp3, start: number, end: number) {
    yield this.data.get(mp3.mp3Fid)!.subarray(start, end);
  }
  async rememberCrc(mp3: StoredMp3, crc: number) {
    this.crcs.set(mp3.mp3Fid, crc);
  }
  async holdForDownload(mp3Fids: readonly string[]) {
    this.held.push([...mp3Fids]);
    return () => undefined;
  }
}

const fid = () => randomBytes(12).toString('hex');

let store: FakeStore;
let mp3s: FakeMp3s;
let zips: ZipDownloads<StoredMp3>;

beforeEach(() => {
  store = new FakeStore();
  mp3s = new FakeMp3s();
  zips = new ZipDownloads(store.jobs, mp3s, SECRET, logger);
});

/** A job of `owner`'s in `state`, brought there through the job store's transitions; a done one with an MP3 of 300 bytes. */
async function job(owner: string, filename: string | null, state: Job['state'] = 'done', fields: Partial<Job> & { deleted?: boolean } = {}): Promise<Job> {
  const videoFid = fid();
  await store.jobs.create({ videoFid, owner, filename, size: 100, contentType: 'video/mp4' });
  const expiresAt = fields.expiresAt ?? new Date(Date.now() + 86_400_000);
  if (state === 'done') {
    const mp3Fid = fid();
    mp3s.data.set(mp3Fid, randomBytes(300));
    await store.finish(videoFid, mp3Fid, expiresAt);
  } else if (state === 'converting') await store.convert(videoFid);
  else if (state === 'failed') {
    await store.convert(videoFid);
    await store.worker.markFailed(videoFid, 'not a video', expiresAt);
  }
  if (fields.expiredAt) await store.jobs.markExpired(videoFid);
  if (fields.deleted) await store.jobs.markDeleted(videoFid);
  return (await store.jobs.get(videoFid, { includeDeleted: true }))!;
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail('not refused'),
    (err: { status: number; code: string; message: string }) => ({ status: err.status, code: err.code, message: err.message }),
  );

describe('the fid list of a ZIP', () => {
  it('when ids are missing, malformed, shaped like objects, repeated in any case or too many, then 400 with the reason', () => {
    const a = fid();
    const cases: [unknown, string][] = [
      [undefined, 'fid_required'],
      [[], 'fid_required'],
      ['', 'invalid_fid'],
      [[a, 'not-an-id'], 'invalid_fid'],
      [[a, { $ne: '' }], 'invalid_fid'],
      [`${a} `, 'invalid_fid'],
      [[a, a.toUpperCase()], 'duplicate_fid'],
      [Array.from({ length: MAX_ZIP_JOBS + 1 }, fid), 'too_many_fids'],
    ];
    for (const [value, code] of cases) {
      expect(() => zipFidsOf(value), JSON.stringify(value)).toThrow(expect.objectContaining({ status: 400, code }));
    }
  });

  it('when the ids are good, then they come lower-cased in the order given', () => {
    const ids = Array.from({ length: MAX_ZIP_JOBS }, fid);
    expect(zipFidsOf(ids.map((f) => f.toUpperCase()))).toEqual(ids);
    expect(zipFidsOf(ids[0])).toEqual([ids[0]]);
  });
});

describe('ZIP downloads', () => {
  it("when an id is unknown, someone else's or deleted, then 404 naming each, whatever else is wrong", async () => {
    const mine = await job('me@x', 'a.mp4');
    const theirs = await job('them@x', 'b.mp4');
    const deleted = await job('me@x', 'c.mp4', 'done', { deleted: true });
    const converting = await job('me@x', 'd.mp4', 'converting');
    const unknown = fid();
    const answer = await refusal(zips.forOwner('me@x', [mine.videoFid, theirs.videoFid, deleted.videoFid, converting.videoFid, unknown]));
    expect(answer).toMatchObject({ status: 404, code: 'job_not_found' });
    for (const f of [theirs.videoFid, deleted.videoFid, unknown]) expect(answer.message).toContain(f);
    expect(answer.message).not.toContain(mine.videoFid);
  });

  it('when MP3s expired, then 410; when jobs are not done, then 409 naming each and its state', async () => {
    const done = await job('me@x', 'a.mp4');
    const expired = await job('me@x', 'b.mp4', 'done', { expiredAt: new Date() });
    const queued = await job('me@x', 'c.mp4', 'queued');
    const failed = await job('me@x', 'd.mp4', 'failed');
    expect(await refusal(zips.forOwner('me@x', [done.videoFid, expired.videoFid, queued.videoFid]))).toMatchObject({ status: 410, code: 'mp3_expired' });
    const notDone = await refusal(zips.forOwner('me@x', [done.videoFid, queued.videoFid, failed.videoFid]));
    expect(notDone).toMatchObject({ status: 409, code: 'job_not_done' });
    expect(notDone.message).toContain(`${queued.videoFid} (queued)`);
    expect(notDone.message).toContain(`${failed.videoFid} (failed)`);
  });

  it('when a done job has lost its MP3, then 404 mp3_not_found before anything is sent', async () => {
    const done = await job('me@x', 'a.mp4');
    mp3s.data.delete(done.mp3Fid!);
    expect(await refusal(zips.forOwner('me@x', [done.videoFid]))).toMatchObject({ status: 404, code: 'mp3_not_found' });
  });

  it('when jobs share a name or have none, then their entries are named apart, in the order asked, and the ZIP holds their bytes', async () => {
    const one = await job('me@x', 'talk.mp4');
    const two = await job('me@x', 'Talk.mkv');
    const three = await job('me@x', null);
    const evil = await job('me@x', '../../etc/passwd');
    const plan = await zips.forOwner('me@x', [one.videoFid, two.videoFid, three.videoFid, evil.videoFid]);
    const zip = await collect(zips.stream(plan, 0, plan.layout.size - 1));
    expect(zip.length).toBe(plan.layout.size);
    const names: string[] = [];
    for (let at = zip.indexOf(Buffer.from([0x50, 0x4b, 1, 2])); at >= 0; at = zip.indexOf(Buffer.from([0x50, 0x4b, 1, 2]), at + 1)) {
      names.push(zip.subarray(at + 46, at + 46 + zip.readUInt16LE(at + 28)).toString());
    }
    expect(names).toEqual(['talk.mp3', 'Talk (2).mp3', `${three.videoFid}.mp3`, '_._etc_passwd.mp3']);
    expect(plan.filename).toBe('mp3s.zip');
    for (const j of [one, two, three, evil]) expect(zip.includes(mp3s.data.get(j.mp3Fid!)!)).toBe(true);
    // Every CRC computed on the way is remembered for a later range.
    expect(mp3s.crcs.size).toBe(4);
    expect((await zips.forOwner('me@x', [one.videoFid])).filename).toBe('talk.zip');
  });

  it('when the same jobs are asked for again, then the ETag and length are the same; another order, another ETag', async () => {
    const a = await job('me@x', 'a.mp4');
    const b = await job('me@x', 'b.mp4');
    const first = await zips.forOwner('me@x', [a.videoFid, b.videoFid]);
    await collect(zips.stream(first, 0, first.layout.size - 1));
    const again = await zips.forOwner('me@x', [a.videoFid, b.videoFid]);
    expect(again.etag).toBe(first.etag);
    expect(again.layout.size).toBe(first.layout.size);
    expect(again.crcs.every((c) => c !== undefined)).toBe(true);
    expect((await zips.forOwner('me@x', [b.videoFid, a.videoFid])).etag).not.toBe(first.etag);
  });

  it('when the ZIP is held for its download, then each MP3 is held once', async () => {
    const a = await job('me@x', 'a.mp4');
    const b = await job('me@x', 'b.mp4');
    await zips.hold(await zips.forOwner('me@x', [a.videoFid, b.videoFid]));
    expect(mp3s.held).toEqual([[a.mp3Fid, b.mp3Fid]]);
  });
});

describe('signed ZIP links', () => {
  const inAWeek = () => Math.floor(Date.now() / 1000) + 7 * 86_400;
  const signed = (link: SignedZipLink) => ({ expires: link.expires, sig: zipSignatureOf(link, SECRET) });

  it('when a link is made for the owner, then it names the jobs in order and expires with the first MP3 to go, or the lifetime', async () => {
    const soon = new Date(Date.now() + 3_600_000);
    const a = await job('me@x', 'a.mp4', 'done', { expiresAt: soon });
    const b = await job('me@x', 'b.mp4', 'done', { expiresAt: new Date(Date.now() + 86_400_000) });
    const made: SignedZipLink[] = [];
    const signer = {
      ttlMs: 7 * 86_400_000,
      url: (link: SignedZipLink) => {
        made.push(link);
        return 'https://x/link';
      },
    };
    const link = await zips.link('me@x', [b.videoFid, a.videoFid], signer);
    expect(made).toEqual([{ videoFids: [b.videoFid, a.videoFid], owner: 'me@x', expires: Math.floor(soon.getTime() / 1000) }]);
    expect(link.expires_at).toBe(new Date(Math.floor(soon.getTime() / 1000) * 1000).toISOString());
    expect(await refusal(zips.link('someone@x', [a.videoFid], signer))).toMatchObject({ status: 404 });
  });

  it('when a link checks out, then it gives the ZIP with no token; altered, forged or naming an unknown job, 403 invalid_link alike', async () => {
    const a = await job('me@x', 'a.mp4');
    const b = await job('me@x', 'b.mp4');
    const theirs = await job('them@x', 'c.mp4');
    const unknown = fid();
    const link = { videoFids: [a.videoFid, b.videoFid], owner: 'me@x', expires: inAWeek() };
    expect((await zips.forLink(link.videoFids, signed(link))).files.length).toBe(2);
    const forged = [
      () => zips.forLink([a.videoFid], signed(link)),
      () => zips.forLink([b.videoFid, a.videoFid], signed(link)),
      () => zips.forLink(link.videoFids, { ...signed(link), expires: link.expires + 1 }),
      () => zips.forLink(link.videoFids, { expires: link.expires, sig: 'x' }),
      () => zips.forLink([a.videoFid, unknown], signed({ ...link, videoFids: [a.videoFid, unknown] })),
      () => zips.forLink([a.videoFid, theirs.videoFid], signed({ ...link, videoFids: [a.videoFid, theirs.videoFid] })),
      () => zips.forLink([a.videoFid, theirs.videoFid], signed({ ...link, owner: 'them@x', videoFids: [a.videoFid, theirs.videoFid] })),
    ];
    for (const attempt of forged) expect(await refusal(attempt())).toMatchObject({ status: 403, code: 'invalid_link' });
  });

  it('when a good link has expired, then 403 link_expired; when a job it names was deleted since, then 404', async () => {
    const a = await job('me@x', 'a.mp4');
    const old = { videoFids: [a.videoFid], owner: 'me@x', expires: Math.floor(Date.now() / 1000) - 1 };
    expect(await refusal(zips.forLink(old.videoFids, signed(old)))).toMatchObject({ status: 403, code: 'link_expired' });
    const fresh = { ...old, expires: inAWeek() };
    await store.jobs.markDeleted(a.videoFid);
    expect(await refusal(zips.forLink(fresh.videoFids, signed(fresh)))).toMatchObject({ status: 404, code: 'job_not_found' });
  });
});
