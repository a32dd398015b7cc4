import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jobsCollection, mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { signedZipPath } from '@mp3converter/shared/links';
import { ObjectId } from '@mp3converter/shared/storage';
import { TEST_LINK_SECRET, jsonOf, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ZIP_JOBS } from '../src/domain/zip-download.js';
import { type Stack, signIn, startStack, storeMp3 } from './harness.js';

/**
 * GET /download.zip against a real gateway and GridFS: done jobs are recorded as the converter leaves them
 * (a job `done` with its MP3 stored), so that each test controls names, sizes and states.
 */
const run = promisify(execFile);
let stack: Stack;
let dir: string;

beforeAll(async () => {
  stack = await startStack({ RETENTION_SWEEP_INTERVAL_MS: '3600000' });
  dir = await mkdtemp(join(tmpdir(), 'zip-download-'));
});
afterAll(async () => {
  await stack.stop();
  await rm(dir, { recursive: true, force: true });
});

interface DoneJob {
  videoFid: string;
  mp3Fid: string;
  data: Buffer;
}

/** A job of `owner`'s named `filename`, done, with an MP3 of `data`; or left in `state` with none. */
async function recordJob(owner: string, filename: string, data: Buffer, state: 'done' | 'queued' | 'converting' | 'failed' = 'done'): Promise<DoneJob> {
  const videoFid = new ObjectId().toHexString();
  await mongoJobStore(stack.mongo).create({ videoFid, owner, filename, size: data.length, contentType: 'video/mp4' });
  const mp3Fid = state === 'done' ? await storeMp3(stack.mongo, owner, data, filename.replace(/\.[^.]*$/, '.mp3')) : null;
  const now = new Date();
  await jobsCollection(stack.mongo).updateOne(
    { _id: new ObjectId(videoFid) },
    {
      $set: { state, mp3_fid: mp3Fid, mp3_size: mp3Fid ? data.length : null, finished_at: now, updated_at: now, expires_at: new Date(Date.now() + 86_400_000) },
    },
  );
  return { videoFid, mp3Fid: mp3Fid ?? '', data };
}

const zipUrl = (fids: string[], extra = '') => `${stack.url}/download.zip?${fids.map((f) => `fid=${f}`).join('&')}${extra}`;

/** The ZIP's readers' verdict, and what Python reads in it: each entry's name and bytes. */
async function readZip(zip: Buffer): Promise<{ name: string; data: Buffer }[]> {
  const path = join(dir, `${randomBytes(6).toString('hex')}.zip`);
  await writeFile(path, zip);
  try {
    const unzip = await run('unzip', ['-tqq', path]).catch((err: { stdout: string; stderr: string }) => err);
    expect(`${unzip.stdout}${unzip.stderr}`.trim(), 'unzip -t').toBe('');
    expect((await run('python3', ['-m', 'zipfile', '-t', path])).stdout).toMatch(/Done testing/);
    const listing = await run(
      'python3',
      ['-c', 'import sys, zipfile, json; z = zipfile.ZipFile(sys.argv[1]); print(json.dumps([[i.filename, z.read(i).hex()] for i in z.infolist()]))', path],
      { maxBuffer: 1 << 26 },
    );
    return (JSON.parse(listing.stdout) as [string, string][]).map(([name, hex]) => ({ name, data: Buffer.from(hex, 'hex') }));
  } finally {
    await rm(path, { force: true });
  }
}

const bytesOf = async (res: Response) => Buffer.from(await res.arrayBuffer());

describe('GET /download.zip', () => {
  it('when the owner asks for several done jobs, then one ZIP holds each MP3 under a safe, unique name, and every reader tests it clean', async () => {
    const user = await signIn(stack);
    const jobs = [
      await recordJob(user.email, 'talk.mp4', randomBytes(600_000)),
      await recordJob(user.email, 'Talk.mkv', randomBytes(300_000)),
      await recordJob(user.email, '../../etc/cron.d/x\u202egnp.mp4', randomBytes(1000)),
      await recordJob(user.email, 'Ölçü 日本語.webm', randomBytes(70_000)),
    ];
    const res = await fetch(zipUrl(jobs.map((j) => j.videoFid.toUpperCase())), { headers: { authorization: user.authorization } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename=mp3s.zip');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    const zip = await bytesOf(res);
    expect(Number(res.headers.get('content-length'))).toBe(zip.length);
    const entries = await readZip(zip);
    expect(entries.map((e) => e.name)).toEqual(['talk.mp3', 'Talk (2).mp3', '_._etc_cron.d_xgnp.mp3', 'Ölçü 日本語.mp3']);
    for (const [i, entry] of entries.entries()) expect(entry.data.equals(jobs[i]!.data), entry.name).toBe(true);

    // A HEAD says the same without a byte of body.
    const head = await fetch(zipUrl(jobs.map((j) => j.videoFid)), { method: 'HEAD', headers: { authorization: user.authorization } });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(zip.length));
    expect(head.headers.get('etag')).toBe(res.headers.get('etag'));
  });

  it('when a download is cut, then Range with its ETag resumes it to the very same bytes, from another gateway too; a stale ETag gets it whole', async () => {
    const user = await signIn(stack);
    const jobs = [await recordJob(user.email, 'a.mp4', randomBytes(800_000)), await recordJob(user.email, 'b.mp4', randomBytes(500_000))];
    const url = zipUrl(jobs.map((j) => j.videoFid));
    const whole = await fetch(url, { headers: { authorization: user.authorization } });
    const etag = whole.headers.get('etag')!;
    const zip = await bytesOf(whole);

    // A client that goes away half-way: what it received, then the rest asked for.
    const cut = await fetch(url, { headers: { authorization: user.authorization } });
    const reader = cut.body!.getReader();
    const received: Buffer[] = [];
    let got = 0;
    while (got < 400_000) {
      const { value, done } = await reader.read();
      if (done) break;
      received.push(Buffer.from(value));
      got += value.length;
    }
    await reader.cancel();
    const rest = await fetch(url, { headers: { authorization: user.authorization, range: `bytes=${got}-`, 'if-range': etag } });
    expect(rest.status).toBe(206);
    expect(rest.headers.get('content-range')).toBe(`bytes ${got}-${zip.length - 1}/${zip.length}`);
    expect(Buffer.concat([...received, await bytesOf(rest)]).equals(zip)).toBe(true);

    // Another gateway, no state shared but the store: any range, the same bytes.
    const other = await startStack({}, { auth: stack.auth, authConfig: stack.authConfig });
    try {
      for (const start of [0, 1, 799_000, zip.length - 200, zip.length - 22]) {
        const part = await fetch(zipUrl(jobs.map((j) => j.videoFid)).replace(stack.url, other.url), {
          headers: { authorization: user.authorization, range: `bytes=${start}-`, 'if-range': etag },
        });
        expect(part.status, `from ${start}`).toBe(206);
        expect((await bytesOf(part)).equals(zip.subarray(start)), `from ${start}`).toBe(true);
      }
    } finally {
      await other.stop();
    }
    // The CRCs the first download computed stay with the MP3s.
    const files = await stack.mongo
      .db('mp3s')
      .collection('fs.files')
      .find({ _id: { $in: jobs.map((j) => new ObjectId(j.mp3Fid)) } })
      .toArray();
    expect(files.every((f) => Number.isInteger(f.metadata?.crc32))).toBe(true);

    const stale = await fetch(url, { headers: { authorization: user.authorization, range: 'bytes=100-', 'if-range': '"another"' } });
    expect(stale.status).toBe(200);
    expect((await bytesOf(stale)).equals(zip)).toBe(true);
    const past = await fetch(url, { headers: { authorization: user.authorization, range: `bytes=${zip.length}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${zip.length}`);
  });

  it("when ids are someone else's, unknown, unfinished, repeated, too many or malformed, then a JSON 4xx names the problem and nothing is sent", async () => {
    const user = await signIn(stack);
    const other = await signIn(stack);
    const mine = await recordJob(user.email, 'mine.mp4', randomBytes(1000));
    const theirs = await recordJob(other.email, 'theirs.mp4', randomBytes(1000));
    const converting = await recordJob(user.email, 'busy.mp4', randomBytes(1000), 'converting');
    const unknown = new ObjectId().toHexString();
    const auth = { authorization: user.authorization };
    const cases: [string, number, string][] = [
      [`${stack.url}/download.zip`, 400, 'fid_required'],
      [zipUrl([mine.videoFid, 'nothex']), 400, 'invalid_fid'],
      // Brackets make no object of a query parameter here: `fid[$ne]` is just another, unknown, name.
      [`${stack.url}/download.zip?fid[$ne]=x&fid[]=${mine.videoFid}`, 400, 'fid_required'],
      [zipUrl([mine.videoFid, mine.videoFid.toUpperCase()]), 400, 'duplicate_fid'],
      [zipUrl(Array.from({ length: MAX_ZIP_JOBS + 1 }, () => new ObjectId().toHexString())), 400, 'too_many_fids'],
      [zipUrl([mine.videoFid, theirs.videoFid]), 404, 'job_not_found'],
      [zipUrl([mine.videoFid, unknown]), 404, 'job_not_found'],
      [zipUrl([mine.videoFid, converting.videoFid]), 409, 'job_not_done'],
    ];
    for (const [url, status, code] of cases) {
      const res = await fetch(url, { headers: auth });
      expect(res.status, url).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect((await jsonOf(res)).error.code, url).toBe(code);
    }
    // Someone else's job and no job at all are told apart by nothing but their ids.
    const [a, b] = await Promise.all([fetch(zipUrl([theirs.videoFid]), { headers: auth }), fetch(zipUrl([unknown]), { headers: auth })]);
    expect((await jsonOf(a)).error.message.replace(theirs.videoFid, 'ID')).toBe((await jsonOf(b)).error.message.replace(unknown, 'ID'));
    expect((await fetch(zipUrl([mine.videoFid]))).status).toBe(401);
    expect((await fetch(zipUrl([mine.videoFid]), { method: 'DELETE', headers: auth })).status).toBe(405);
  });

  it('when a link is asked for, then it opens with no token until it expires; altered, it is refused alike', async () => {
    const user = await signIn(stack);
    const jobs = [await recordJob(user.email, 'one.mp4', randomBytes(5000)), await recordJob(user.email, 'two.mp4', randomBytes(7000))];
    const fids = jobs.map((j) => j.videoFid);
    const asked = await fetch(`${stack.url}/download.zip/link?${fids.map((f) => `fid=${f}`).join('&')}`, {
      method: 'POST',
      headers: { authorization: user.authorization },
    });
    expect(asked.status).toBe(200);
    const { url, expires_at } = await jsonOf(asked);
    expect(new Date(expires_at).getTime()).toBeGreaterThan(Date.now());
    const link = new URL(url);
    expect(link.origin).toBe('http://mp3converter.test');
    const byLink = await fetch(`${stack.url}${link.pathname}${link.search}`);
    expect(byLink.status).toBe(200);
    const withToken = await fetch(zipUrl(fids), { headers: { authorization: user.authorization } });
    expect((await bytesOf(byLink)).equals(await bytesOf(withToken))).toBe(true);

    const fewer = new URL(link);
    fewer.search = link.search.replace(`fid=${fids[1]}&`, '');
    const expired = signedZipPath({ videoFids: fids, owner: user.email, expires: Math.floor(Date.now() / 1000) - 1 }, TEST_LINK_SECRET);
    for (const [path, code] of [
      [`${fewer.pathname}${fewer.search}`, 'invalid_link'],
      [`${link.pathname}${link.search.replace(/sig=./, 'sig=_')}`, 'invalid_link'],
      [`${link.pathname}${link.search}`.replace(fids[0]!, new ObjectId().toHexString()), 'invalid_link'],
      [expired, 'link_expired'],
    ] as const) {
      const res = await fetch(`${stack.url}${path}`);
      expect(res.status, path).toBe(403);
      expect((await jsonOf(res)).error.code, path).toBe(code);
    }
  });

  it('when a ZIP is being sent, then its MP3s are marked as downloaded until it ends, so that the retention sweep waits', async () => {
    const user = await signIn(stack);
    const jobs = [await recordJob(user.email, 'x.mp4', randomBytes(3_000_000)), await recordJob(user.email, 'y.mp4', randomBytes(3_000_000))];
    const marks = () =>
      stack.mongo
        .db('mp3s')
        .collection('downloads')
        .countDocuments({ mp3_fid: { $in: jobs.map((j) => j.mp3Fid) } });
    const res = await fetch(zipUrl(jobs.map((j) => j.videoFid)), { headers: { authorization: user.authorization } });
    const reader = res.body!.getReader();
    await reader.read();
    expect(await marks()).toBe(2);
    while (!(await reader.read()).done);
    await waitFor(async () => (await marks()) === 0, { what: 'the marks to go' });
  });
});
