import { open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { ApiClient } from '../api.client.js';
import { errorOf, refusal } from '../api.client.js';
import { flag, oneId, stringOpt } from '../args.js';
import { type Command, printJson } from '../command.js';
import type { Context } from '../context.js';
import type { Parsed } from '../args.js';
import { CliError, EXIT, type ExitCode, Interrupted, usageError } from '../errors.js';
import { formatBytes, mp3NameFor, zipNameFor } from '../format.js';
import { createProgress } from '../progress.js';

export const download: Command = {
  name: 'download',
  summary: 'download the MP3 of a job, or of several as one ZIP (resumable)',
  help: `Usage: mp3c download ID [-o FILE]
       mp3c download --zip ID… [-o FILE]

Downloads the MP3 of the job ID (a video_fid; an mp3_fid works too) into FILE (default: the video's name
with .mp3, in the current folder; - for stdout), through FILE.part: an interrupted download (Ctrl-C, a cut
connection) goes on from the bytes FILE.part holds when run again (HTTP Range), and FILE appears only
once whole. A job split by chapters (--split chapters) comes as the ZIP of its parts, as with --zip
(default FILE: the video's name with .zip). Prints FILE. Exit 5 when the job failed or was cancelled, 4
when there is no such job or MP3 (or it expired), 1 when the job has no MP3 yet.

With --zip, the MP3s of every job ID (video_fids, each once, at most 200) come as one ZIP (default FILE:
mp3s.zip), each named after its video; resumed the same way, and only while the ZIP is still the same
one (the gateway's ETag, kept in FILE.part.etag). Exit 4 when a job is unknown or its MP3 expired, 1 when
one is not done.

  -o, --output FILE       where to write it (an existing FILE is replaced)
  -z, --zip               the jobs' MP3s as one ZIP`,
  options: { output: { type: 'string', short: 'o' }, zip: { type: 'boolean', short: 'z' } },
  async run(ctx, parsed) {
    if (flag(parsed, 'zip')) return downloadZip(ctx, parsed);
    const id = oneId(parsed);
    const api = await ctx.api();
    const result = await resultOf(api, id);
    if ('parts' in result) return zipTo(ctx, api, [result.videoFid], stringOpt(parsed, 'output') ?? result.name);
    const { mp3Fid, name } = result;
    const target = stringOpt(parsed, 'output') ?? name;
    const path = `/download?fid=${encodeURIComponent(mp3Fid)}`;
    if (target === '-') return toStdout(ctx, api, path);
    const got = await toFile(ctx, api, path, target);
    if (ctx.json) printJson(ctx, { file: target, mp3_fid: mp3Fid, size: got.size, resumed_from: got.resumedFrom });
    else ctx.stdout.write(`${target}\n`);
    return EXIT.ok;
  },
};

/** Job ids for a ZIP: each a 24-hex video_fid, each once. */
function zipIds(positionals: string[]): string[] {
  if (positionals.length === 0) throw usageError('missing ID: --zip takes one or more job ids');
  const ids = positionals.map((id) => {
    if (!/^[0-9a-fA-F]{24}$/.test(id)) throw usageError(`${id}: an ID must be a 24-character hex id (a video_fid)`);
    return id.toLowerCase();
  });
  const repeated = ids.find((id, i) => ids.indexOf(id) !== i);
  if (repeated) throw usageError(`${repeated} is given twice: each job once`);
  return ids;
}

async function downloadZip(ctx: Context, parsed: Parsed): Promise<ExitCode> {
  const ids = zipIds(parsed.positionals);
  return zipTo(ctx, await ctx.api(), ids, stringOpt(parsed, 'output') ?? 'mp3s.zip');
}

/** The ZIP of these jobs' MP3s into `target` (or stdout), resumed as a single MP3 is. */
async function zipTo(ctx: Context, api: ApiClient, ids: string[], target: string): Promise<ExitCode> {
  const path = `/download.zip?${ids.map((id) => `fid=${id}`).join('&')}`;
  if (target === '-') return toStdout(ctx, api, path);
  const got = await toFile(ctx, api, path, target);
  if (ctx.json) printJson(ctx, { file: target, video_fids: ids, size: got.size, resumed_from: got.resumedFrom });
  else ctx.stdout.write(`${target}\n`);
  return EXIT.ok;
}

async function toStdout(ctx: Context, api: ApiClient, path: string): Promise<ExitCode> {
  const res = await api.ok(path);
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) ctx.stdout.write(chunk);
  return EXIT.ok;
}

/**
 * What a job made (looked up by its video_fid): its MP3, or its parts when it was split into several; or the id
 * itself taken for an mp3_fid when no job has it.
 */
async function resultOf(api: ApiClient, id: string): Promise<{ mp3Fid: string; name: string } | { videoFid: string; parts: number; name: string }> {
  const job = await api.findJob(id);
  if (!job) return { mp3Fid: id, name: `${id}.mp3` };
  if (job.state === 'failed' || job.state === 'cancelled') {
    throw new CliError(
      EXIT.jobFailed,
      `${id}: the job ${job.state === 'failed' ? `failed${job.reason ? `: ${job.reason}` : ''}` : 'was cancelled'}; there is no MP3`,
    );
  }
  if (job.state !== 'done' || (!job.mp3_fid && job.mp3s.length === 0))
    throw new CliError(EXIT.error, `${id}: the job is ${job.state}, no MP3 yet (mp3c status --watch ${id} waits for it)`);
  if (job.expired) throw new CliError(EXIT.notFound, `${id}: the MP3 expired and was removed`);
  if (job.mp3s.length > 1) return { videoFid: job.video_fid, parts: job.mp3s.length, name: zipNameFor(job.filename, job.video_fid) };
  const mp3Fid = job.mp3_fid ?? job.mp3s[0]!.fid;
  return { mp3Fid, name: mp3NameFor(job.filename, mp3Fid) };
}

const sizeOf = async (path: string): Promise<number> => {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
};

/** `bytes a-b/total` → [a, total]. */
const contentRange = (value: string | null): { start: number; total: number } | undefined => {
  const m = /^bytes (?:(\d+)-\d+|\*)\/(\d+)$/.exec(value ?? '');
  return m ? { start: Number(m[1] ?? 0), total: Number(m[2]) } : undefined;
};

/**
 * A resumed download asks for this many bytes before the end of its .part again, and goes on only if they
 * match: a .part left by another MP3 of the same name (two videos called talk.mp4) is not continued.
 */
const OVERLAP = 4096;

/** Reads an answer's body as chunks, then lets the first `n` bytes be taken off the front. */
async function* chunksOf(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* body as unknown as AsyncIterable<Uint8Array>;
}

async function takeBytes(chunks: AsyncGenerator<Uint8Array>, n: number): Promise<{ head: Buffer; rest: Buffer }> {
  const parts: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const next = await chunks.next();
    if (next.done) break;
    parts.push(Buffer.from(next.value));
    have += next.value.length;
  }
  const all = Buffer.concat(parts);
  return { head: all.subarray(0, n), rest: all.subarray(n) };
}

async function tailOf(path: string, n: number): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const buffer = Buffer.alloc(Math.min(n, size));
    await file.read(buffer, 0, buffer.length, size - buffer.length);
    return buffer;
  } finally {
    await file.close();
  }
}

const fileError = (what: string, path: string, err: unknown) =>
  new CliError(EXIT.error, `cannot ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);

/** The ETag of what a .part holds, where the answer had one (FILE.part.etag): a resumed range must be of the same bytes. */
const etagFile = (part: string) => `${part}.etag`;
const readEtag = (part: string): Promise<string | undefined> =>
  readFile(etagFile(part), 'utf8').then(
    (text) => text.trim() || undefined,
    () => undefined,
  );

/**
 * `path`'s body into `target`, through `target`.part, resumed from what that holds. The answer's ETag, if it
 * has one, is kept beside the .part and sent back as If-Range: a gateway whose bytes changed sends them whole.
 */
async function toFile(ctx: Context, api: ApiClient, path: string, target: string): Promise<{ size: number; resumedFrom: number }> {
  const part = `${target}.part`;
  let offset = await sizeOf(part).catch((err) => Promise.reject(fileError('read', part, err)));
  const overlap = Math.min(offset, OVERLAP);
  const etag = offset > 0 ? await readEtag(part) : undefined;
  let res = await api.send(path, offset > 0 ? { headers: { range: `bytes=${offset - overlap}-`, ...(etag ? { 'if-range': etag } : {}) } } : {});
  if (res.status === 416) {
    // A .part longer than the MP3: not this MP3's beginning.
    await res.body?.cancel();
    offset = 0;
    res = await api.send(path);
  }
  if (!res.ok || !res.body) throw refusal(res.status, await errorOf(res), res.headers.get('retry-after'));
  let chunks = chunksOf(res.body);
  let first: Buffer = Buffer.alloc(0);
  let total: number;
  if (res.status === 206) {
    const range = contentRange(res.headers.get('content-range'));
    if (!range || range.start !== offset - overlap)
      throw new CliError(EXIT.error, `the gateway sent a range other than the one asked for (${res.headers.get('content-range')})`);
    total = range.total;
    const { head, rest } = await takeBytes(chunks, overlap);
    if (head.equals(await tailOf(part, overlap))) first = rest;
    else {
      await chunks.return(undefined);
      offset = 0;
      res = await api.ok(path);
      chunks = chunksOf(res.body!);
      total = Number(res.headers.get('content-length') ?? Number.NaN);
    }
  } else {
    offset = 0;
    total = Number(res.headers.get('content-length') ?? Number.NaN);
  }
  const resumedFrom = offset;
  const answered = res.headers.get('etag');
  if (resumedFrom === 0 || answered !== etag) {
    await (answered ? writeFile(etagFile(part), answered) : rm(etagFile(part), { force: true })).catch((err) =>
      Promise.reject(fileError('write', etagFile(part), err)),
    );
  }
  const progress = createProgress(ctx.stderr, target);
  if (resumedFrom > 0) progress.say(`${target}: resuming at ${resumedFrom} bytes`);
  const file = await open(part, resumedFrom > 0 ? 'a' : 'w', 0o644).catch((err) => Promise.reject(fileError('write', part, err)));
  let written = resumedFrom;
  const keep = async (chunk: Uint8Array) => {
    await file.write(chunk);
    written += chunk.length;
    if (Number.isFinite(total)) progress.update(written, total);
  };
  try {
    if (first.length) await keep(first);
    for await (const chunk of chunks) await keep(chunk);
  } catch (err) {
    progress.done();
    if (ctx.signal.aborted) throw new Interrupted(`interrupted: ${formatBytes(written)} kept in ${part}; run the same command again to resume`);
    if ((err as NodeJS.ErrnoException).syscall === 'write') throw fileError('write', part, err);
    throw new CliError(EXIT.error, `the download was cut at ${written} bytes (${(err as Error).message}); run the same command again to resume`);
  } finally {
    await file.close();
  }
  progress.done();
  if (Number.isFinite(total) && written !== total) {
    throw new CliError(EXIT.error, `the download ended at ${written} of ${total} bytes; run the same command again to resume`);
  }
  await rename(part, target).catch((err) => Promise.reject(fileError('rename', part, err)));
  await rm(etagFile(part), { force: true });
  return { size: written, resumedFrom };
}
