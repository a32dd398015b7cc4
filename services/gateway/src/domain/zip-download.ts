import { createHash } from 'node:crypto';
import { AppError, badRequest, notFound } from '@mp3converter/shared/errors';
import { type DownloadLink, type Job, fidSchema, mp3FidsOf } from '@mp3converter/shared/jobs';
import { type SignedZipLink, checkSignedZipLink } from '@mp3converter/shared/links';
import type { Logger } from '@mp3converter/shared/logger';
import type { JobLookup } from './ports.js';
import { ZipLayout, zipRange } from './zip-layout.js';
import { safeZipName, uniqueZipNames } from './zip-names.js';

/**
 * Several of an owner's done jobs as one ZIP (`GET /download.zip?fid=<video_fid>&fid=…`), with a token or a
 * signed link. What can go wrong with the ids is answered before a byte goes out: the ZIP's length, its ETag
 * and every entry's name are known from the jobs and their files' sizes alone (see ZipLayout).
 */

/** Jobs in one ZIP at most: 200 ids (29 bytes each in the query) keep the URL under the 8 KiB most proxies take. */
export const MAX_ZIP_JOBS = 200;

/** Job reads under way at once while a ZIP's jobs are checked: a share of MongoDB's pool, not all of it. */
const READS_AT_ONCE = 8;

/** One file of a job that goes into its ZIP. */
export interface ZipSource {
  /** As the user would name it; made safe and unique later (zip-names). */
  name: string;
  mp3Fid: string;
  /** Bytes, where the job knows it (the stored file's length is what counts). */
  size: number | null;
}

/** `talk.mkv` → `talk.mp3` (an extension is never taken from a folder of the name); a job without a name is called after its id. */
export const mp3NameOf = (job: Pick<Job, 'filename' | 'videoFid'>): string => `${(job.filename ?? '').replace(/\.[^./\\]*$/, '') || job.videoFid}.mp3`;

/**
 * What a done job puts in a ZIP: its one MP3, or each part of a job split by chapters, in order, named
 * `NN - <chapter title>.mp3` as the converter names them (made safe and unique with the rest, zip-names).
 */
export function zipEntriesOf(job: Job): ZipSource[] {
  if (job.mp3s.length > 1) {
    const width = Math.max(2, String(job.mp3s.length).length);
    return job.mp3s.map((part, i) => {
      const n = String(i + 1).padStart(width, '0');
      return { name: `${n} - ${part.title?.trim() || `Part ${n}`}.mp3`, mp3Fid: part.fid, size: part.size };
    });
  }
  const [only] = mp3FidsOf(job);
  return only ? [{ name: mp3NameOf(job), mp3Fid: only, size: job.mp3Size }] : [];
}

/** An MP3 as stored: enough to lay it out in a ZIP and read it. */
export interface StoredMp3 {
  mp3Fid: string;
  length: number;
  /** When it was stored: the entry's date, the same on every download. */
  storedAt: Date;
  /** Its CRC-32 once a download computed it, so that a later range need not read it again. */
  crc32: number | undefined;
}

/** The MP3 store as ZIP downloads use it. */
export interface Mp3Reads<M extends StoredMp3> {
  /** Those of `mp3Fids` that are stored, by id. */
  stat(mp3Fids: readonly string[]): Promise<Map<string, M>>;
  /** Bytes `start` (inclusive) to `end` (exclusive). */
  read(mp3: M, start: number, end: number): AsyncIterable<Uint8Array>;
  rememberCrc(mp3: M, crc: number): Promise<void>;
  /** Keeps the retention sweep off these MP3s until the returned function is called. */
  holdForDownload(mp3Fids: readonly string[]): Promise<() => void>;
}

/** Makes signed ZIP links: the absolute URL, and how long links last. */
export interface ZipLinkSigner {
  ttlMs: number;
  url(link: SignedZipLink): string;
}

/** A ZIP ready to send: its layout, the files behind its entries and what HTTP says about it. */
export interface ZipPlan<M extends StoredMp3> {
  layout: ZipLayout;
  files: M[];
  /** Entries' CRC-32s known so far; filled in as they are computed. */
  crcs: (number | undefined)[];
  /** Strong: the same for every download of the same bytes, so If-Range can resume one. */
  etag: string;
  filename: string;
  lastModified: Date;
}

/** A change in how ZIPs are written changes every ETag, so no download resumes across it. */
const FORMAT = 'zip-1';

/**
 * The `fid` query parameter, repeated: each a job's 24-hex `video_fid`, at most MAX_ZIP_JOBS, none twice
 * (in any case). Duplicates are refused rather than dropped: a client that sends one has lost track of what
 * it asked for, and a signed link names each job once.
 */
export function zipFidsOf(value: unknown): string[] {
  const given: unknown[] = value === undefined ? [] : Array.isArray(value) ? value : [value];
  if (given.length === 0) throw badRequest('fid_required', 'fid is required: one fid=<video_fid> per job');
  if (given.length > MAX_ZIP_JOBS) throw badRequest('too_many_fids', `at most ${MAX_ZIP_JOBS} jobs in one ZIP (got ${given.length})`);
  const first = new Map<string, number>();
  return given.map((v, i) => {
    if (typeof v !== 'string' || !fidSchema.safeParse(v).success) {
      throw badRequest('invalid_fid', `fid ${i + 1} of ${given.length}: not a 24-character hex id`);
    }
    const fid = v.toLowerCase();
    const earlier = first.get(fid);
    if (earlier !== undefined) throw badRequest('duplicate_fid', `fid ${i + 1} repeats fid ${earlier + 1} (${fid}): give each job once`);
    first.set(fid, i);
    return fid;
  });
}

/** What a signed ZIP link that does not check out answers, whatever is wrong with it (see the MP3 link's). */
const invalidLink = () => new AppError(403, 'invalid_link', 'this download link is not valid');

const listed = (fids: string[]) => (fids.length > 5 ? `${fids.slice(0, 5).join(', ')} and ${fids.length - 5} more` : fids.join(', '));

/** `work` on each item, at most `limit` at once, results in order. */
async function mapAtMost<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

export class ZipDownloads<M extends StoredMp3> {
  constructor(
    private readonly jobs: JobLookup,
    private readonly mp3s: Mp3Reads<M>,
    private readonly linkSecret: string,
    private readonly logger: Logger,
  ) {}

  /** The owner's ZIP of these jobs: someone else's job is as unknown as no job at all. */
  async forOwner(owner: string, videoFids: string[]): Promise<ZipPlan<M>> {
    const jobs = await mapAtMost(videoFids, READS_AT_ONCE, (fid) => this.jobs.get(fid));
    return this.plan(
      videoFids,
      jobs.map((job) => (job?.owner === owner ? job : undefined)),
    );
  }

  /**
   * The ZIP a signed link names. Its signature is checked before anything about its jobs is told: a link
   * naming an unknown job, or jobs of two owners, is as invalid as a forged one.
   */
  async forLink(videoFids: string[], link: { expires: number; sig: string }, now = Date.now()): Promise<ZipPlan<M>> {
    const jobs = await mapAtMost(videoFids, READS_AT_ONCE, (fid) => this.jobs.get(fid, { includeDeleted: true }));
    const owner = jobs[0]?.owner;
    if (owner === undefined || jobs.some((job) => job?.owner !== owner)) throw invalidLink();
    const check = checkSignedZipLink({ videoFids, owner, expires: link.expires }, link.sig, this.linkSecret, now);
    if (check === 'invalid') throw invalidLink();
    if (check === 'expired') throw new AppError(403, 'link_expired', 'this download link has expired: ask for a new one');
    return this.plan(
      videoFids,
      jobs.map((job) => (job?.deleted ? undefined : job)),
    );
  }

  /** A signed link to the owner's ZIP of these jobs, valid until the link lifetime or the first MP3's expiry. */
  async link(owner: string, videoFids: string[], signer: ZipLinkSigner, now = Date.now()): Promise<DownloadLink> {
    const jobs = await mapAtMost(videoFids, READS_AT_ONCE, (fid) => this.jobs.get(fid));
    await this.plan(
      videoFids,
      jobs.map((job) => (job?.owner === owner ? job : undefined)),
    );
    const firstExpiry = Math.min(...jobs.map((job) => job?.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY));
    const expires = Math.floor(Math.min(now + signer.ttlMs, firstExpiry) / 1000);
    return { url: signer.url({ videoFids, owner, expires }), expires_at: new Date(expires * 1000).toISOString() };
  }

  /** Bytes `start` to `end` (inclusive) of the ZIP, each CRC computed on the way remembered for later ranges. */
  stream(plan: ZipPlan<M>, start: number, end: number): AsyncGenerator<Buffer> {
    return zipRange(plan.layout, (i, from, to) => this.mp3s.read(plan.files[i]!, from, to), start, end, {
      crcs: plan.crcs,
      onCrc: (i, crc) => {
        const file = plan.files[i]!;
        this.mp3s.rememberCrc(file, crc).catch((err: unknown) => this.logger.debug({ err, mp3Fid: file.mp3Fid }, 'CRC not remembered'));
      },
    });
  }

  /** Keeps the retention sweep off the ZIP's MP3s while it is sent. */
  hold(plan: ZipPlan<M>): Promise<() => void> {
    return this.mp3s.holdForDownload([...new Set(plan.files.map((f) => f.mp3Fid))]);
  }

  /**
   * Each job given its place (undefined: unknown, someone else's, or deleted), refused as a whole for the
   * first kind of problem found: 404 for jobs that are not the caller's to ask for, then 410 for expired
   * MP3s, then 409 for jobs with no MP3 yet, each naming every job concerned.
   */
  private async plan(videoFids: string[], jobs: (Job | undefined)[]): Promise<ZipPlan<M>> {
    const unknown = videoFids.filter((_, i) => !jobs[i]);
    if (unknown.length) throw notFound(`no such job: ${listed(unknown)}`, 'job_not_found');
    const found = jobs as Job[];
    const expired = found.filter((job) => job.expiredAt);
    if (expired.length) throw new AppError(410, 'mp3_expired', `the MP3 expired and was removed: ${listed(expired.map((j) => j.videoFid))}`);
    const notDone = found.filter((job) => job.state !== 'done' || mp3FidsOf(job).length === 0);
    if (notDone.length) {
      const states = notDone.map((j) => `${j.videoFid} (${j.state})`);
      throw new AppError(409, 'job_not_done', `only a done job has an MP3; not done: ${listed(states)}`);
    }

    const sources = found.flatMap(zipEntriesOf);
    const stored = await this.mp3s.stat([...new Set(sources.map((s) => s.mp3Fid))]);
    const gone = found.filter((job) => zipEntriesOf(job).some((s) => !stored.has(s.mp3Fid)));
    if (gone.length) throw notFound(`the MP3 is no longer stored: ${listed(gone.map((j) => j.videoFid))}`, 'mp3_not_found');

    const files = sources.map((s) => stored.get(s.mp3Fid)!);
    const names = uniqueZipNames(sources.map((s) => s.name));
    const entries = files.map((file, i) => ({ name: names[i]!, size: file.length, modified: file.storedAt }));
    const etag = createHash('sha256')
      .update(JSON.stringify([FORMAT, entries.map((e, i) => [e.name, e.size, e.modified.getTime(), files[i]!.mp3Fid])]))
      .digest('base64url');
    const only = found.length === 1 ? found[0] : undefined;
    return {
      layout: new ZipLayout(entries),
      files,
      crcs: files.map((f) => f.crc32),
      etag: `"${etag}"`,
      filename: only ? `${safeZipName(mp3NameOf(only)).stem}.zip` : 'mp3s.zip',
      lastModified: new Date(Math.max(...files.map((f) => f.storedAt.getTime()))),
    };
  }
}
