import { open, rename, stat } from 'node:fs/promises';
import type { ApiClient } from '../api.client.js';
import { errorOf, refusal } from '../api.client.js';
import { oneId, stringOpt } from '../args.js';
import { type Command, printJson } from '../command.js';
import type { Context } from '../context.js';
import { CliError, EXIT, Interrupted } from '../errors.js';
import { formatBytes, mp3NameFor } from '../format.js';
import { createProgress } from '../progress.js';

export const download: Command = {
  name: 'download',
  summary: 'download the MP3 of a job (resumable)',
  help: `Usage: mp3c download ID [-o FILE]

Downloads the MP3 of the job ID (a video_fid; an mp3_fid works too) into FILE (default: the video's name
with .mp3, in the current folder; - for stdout), through FILE.part: an interrupted download (Ctrl-C, a cut
connection) goes on from the bytes FILE.part holds when run again (HTTP Range), and FILE appears only
once whole. Prints FILE. Exit 5 when the job failed or was cancelled, 4 when there is no such job or MP3
(or it expired), 1 when the job has no MP3 yet.

  -o, --output FILE       where to write it (an existing FILE is replaced)`,
  options: { output: { type: 'string', short: 'o' } },
  async run(ctx, parsed) {
    const id = oneId(parsed);
    const api = await ctx.api();
    const { mp3Fid, name } = await mp3Of(api, id);
    const target = stringOpt(parsed, 'output') ?? name;
    if (target === '-') {
      const res = await api.ok(`/download?fid=${mp3Fid}`);
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) ctx.stdout.write(chunk);
      return EXIT.ok;
    }
    const got = await toFile(ctx, api, mp3Fid, target);
    if (ctx.json) printJson(ctx, { file: target, mp3_fid: mp3Fid, size: got.size, resumed_from: got.resumedFrom });
    else ctx.stdout.write(`${target}\n`);
    return EXIT.ok;
  },
};

/** The MP3 of a job (looked up by its video_fid), or the id itself taken for an mp3_fid when no job has it. */
async function mp3Of(api: ApiClient, id: string): Promise<{ mp3Fid: string; name: string }> {
  const job = await api.findJob(id);
  if (!job) return { mp3Fid: id, name: `${id}.mp3` };
  if (job.state === 'failed' || job.state === 'cancelled') {
    throw new CliError(
      EXIT.jobFailed,
      `${id}: the job ${job.state === 'failed' ? `failed${job.reason ? `: ${job.reason}` : ''}` : 'was cancelled'}; there is no MP3`,
    );
  }
  if (job.state !== 'done' || !job.mp3_fid)
    throw new CliError(EXIT.error, `${id}: the job is ${job.state}, no MP3 yet (mp3c status --watch ${id} waits for it)`);
  if (job.expired) throw new CliError(EXIT.notFound, `${id}: the MP3 expired and was removed`);
  return { mp3Fid: job.mp3_fid, name: mp3NameFor(job.filename, job.mp3_fid) };
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

async function toFile(ctx: Context, api: ApiClient, mp3Fid: string, target: string): Promise<{ size: number; resumedFrom: number }> {
  const part = `${target}.part`;
  let offset = await sizeOf(part);
  let res = await api.send(`/download?fid=${mp3Fid}`, offset > 0 ? { headers: { range: `bytes=${offset}-` } } : {});
  if (res.status === 416) {
    const total = contentRange(res.headers.get('content-range'))?.total;
    await res.body?.cancel();
    if (total === offset) {
      await rename(part, target);
      return { size: total, resumedFrom: offset };
    }
    // A .part longer than the MP3: not this MP3's beginning. Start again.
    offset = 0;
    res = await api.send(`/download?fid=${mp3Fid}`);
  }
  if (!res.ok || !res.body) throw refusal(res.status, await errorOf(res), res.headers.get('retry-after'));
  let total: number;
  if (res.status === 206) {
    const range = contentRange(res.headers.get('content-range'));
    if (!range || range.start !== offset)
      throw new CliError(EXIT.error, `the gateway sent a range other than the one asked for (${res.headers.get('content-range')})`);
    total = range.total;
  } else {
    offset = 0;
    total = Number(res.headers.get('content-length') ?? Number.NaN);
  }
  const resumedFrom = offset;
  const progress = createProgress(ctx.stderr, target);
  if (resumedFrom > 0) progress.say(`${target}: resuming at ${resumedFrom} bytes`);
  const file = await open(part, resumedFrom > 0 ? 'a' : 'w', 0o644);
  let written = resumedFrom;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      await file.write(chunk);
      written += chunk.length;
      if (Number.isFinite(total)) progress.update(written, total);
    }
  } catch (err) {
    progress.done();
    if (ctx.signal.aborted) throw new Interrupted(`interrupted: ${formatBytes(written)} kept in ${part}; run the same command again to resume`);
    throw new CliError(EXIT.error, `the download was cut at ${written} bytes (${(err as Error).message}); run the same command again to resume`);
  } finally {
    await file.close();
  }
  progress.done();
  if (Number.isFinite(total) && written !== total) {
    throw new CliError(EXIT.error, `the download ended at ${written} of ${total} bytes; run the same command again to resume`);
  }
  await rename(part, target);
  return { size: written, resumedFrom };
}
