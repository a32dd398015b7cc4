import { open, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CutPart, CutRun, CutSource, PartCutter } from '../domain/chapter-split.js';
import type { SourceChapter } from '../domain/chapters.js';
import { PermanentFailure, TransientFailure } from '../domain/ports.js';
import type { FfmpegOptions } from './ffmpeg.transcoder.js';
import { fileUrl, inputGuards } from './ffmpeg-args.js';
import { MAX_FRAME_BYTES, encoderDelayOf, firstFrameOffset, withEncoderDelay } from './mp3-header.js';
import { OutputTooLarge, ProcessTimedOut, runProcess } from './process-group.js';
import { coverArgs, cutArgs, partsMetadata } from './split-args.js';

/**
 * Parts written by one ffmpeg run. ffmpeg goes over every output for every frame it reads, and each part
 * holds two files open (and its cover input a third): a bounded batch keeps both in check however many
 * chapters a file lists.
 */
export const CUT_BATCH = 64;

/** ffprobe's list of the chapters: 999 titles of 10 KB fit, a list made to fill memory does not. */
const CHAPTERS_MAX_STDOUT_BYTES = 16 * 1024 * 1024;
/** ffmpeg writes the parts to files and nothing to standard output. */
const CUT_MAX_STDOUT_BYTES = 64 * 1024;

interface FfprobeChapters {
  chapters?: { start_time?: unknown; end_time?: unknown; tags?: { title?: unknown } }[];
}

/**
 * The chapters and the cutting, with ffprobe and ffmpeg spawned directly, as FfmpegTranscoder does: argument
 * lists of fixed words, validated numbers and the converter's own file names (see split-args.ts); the parts'
 * titles and tags go through an ffmetadata file in the job's folder.
 */
export class FfmpegPartCutter implements PartCutter {
  constructor(
    private readonly options: FfmpegOptions,
    private readonly batch = CUT_BATCH,
  ) {}

  async chapters(path: string, signal: AbortSignal): Promise<SourceChapter[]> {
    const args = ['-hide_banner', '-v', 'error', ...inputGuards('file'), '-show_entries', 'chapter=start_time,end_time:chapter_tags=title', '-of', 'json'];
    const stdout = await this.run(this.options.ffprobePath, [...args, '-i', fileUrl(path)], signal, {
      what: 'reading the chapters',
      timeoutMs: this.options.probeTimeoutMs,
      maxStdoutBytes: CHAPTERS_MAX_STDOUT_BYTES,
      tooLarge: 'the file lists too many chapters, or titles too long, to split it by them',
    });
    let data: FfprobeChapters;
    try {
      data = JSON.parse(stdout) as FfprobeChapters;
    } catch (err) {
      throw new PermanentFailure("the file's chapters could not be read", { cause: err });
    }
    return (data.chapters ?? []).map((c) => ({
      startSeconds: Number(c.start_time),
      endSeconds: Number(c.end_time),
      title: typeof c.tags?.title === 'string' ? c.tags.title : null,
    }));
  }

  async cut(source: CutSource, parts: readonly CutPart[], signal: AbortSignal, { onProgress, onCut, spentMs = 0 }: CutRun): Promise<void> {
    if (parts.length === 0) return;
    const started = performance.now() - spentMs;
    const dir = dirname(parts[0]!.output);
    const metadata = join(dir, 'parts.ffmetadata');
    const cover = source.coverStream === null ? null : join(dir, 'cover.mkv');
    const deadline = () => Math.max(0, this.options.timeoutMs - (performance.now() - started));
    try {
      if (cover !== null && source.coverStream !== null) {
        await this.run(this.options.ffmpegPath, coverArgs(source.path, source.coverStream, cover), signal, {
          what: 'taking out the cover',
          timeoutMs: deadline(),
        });
      }
      for (let at = 0; at < parts.length; at += this.batch) {
        const batch = parts.slice(at, at + this.batch);
        await writeFile(metadata, partsMetadata(batch), { mode: 0o600 });
        try {
          const args = cutArgs({ source: source.path, metadata, cover }, batch, this.options.limits);
          await this.run(this.options.ffmpegPath, args, signal, { what: 'cutting the parts', timeoutMs: deadline() });
          // Only the first part starts with the source's first frame, and its encoder delay.
          for (const part of batch) if (part.startSeconds > 0) await clearEncoderDelay(part.output);
          await onCut(batch);
          const last = batch.at(-1)!;
          onProgress?.(last.endSeconds ?? last.startSeconds, null);
        } finally {
          await Promise.all(batch.map((part) => rm(part.output, { force: true })));
        }
      }
    } finally {
      await rm(metadata, { force: true });
      if (cover !== null) await rm(cover, { force: true });
    }
  }

  /** One run to its end; what went wrong as the transcoder names it (killed, too slow: transient; refused: the file's). */
  private async run(
    file: string,
    args: string[],
    signal: AbortSignal,
    run: { what: string; timeoutMs: number; maxStdoutBytes?: number; tooLarge?: string },
  ): Promise<string> {
    let result: Awaited<ReturnType<typeof runProcess>>;
    try {
      result = await runProcess(file, args, { timeoutMs: run.timeoutMs, signal, maxStdoutBytes: run.maxStdoutBytes ?? CUT_MAX_STDOUT_BYTES });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (err instanceof ProcessTimedOut) throw new TransientFailure(`${run.what} took too long and was stopped`, { timedOut: true });
      if (err instanceof OutputTooLarge) throw new PermanentFailure(run.tooLarge ?? 'the file could not be split by its chapters', { cause: err });
      throw new TransientFailure(`${file} could not be started`, { cause: err });
    }
    if (result.code === null) throw new TransientFailure(`${run.what} was killed`);
    if (result.code !== 0) throw new PermanentFailure('the file could not be split by its chapters', { cause: new Error(result.stderr.slice(-2000)) });
    return result.stdout;
  }
}

/** Sets the encoder delay of the LAME tag in the MP3 at `path` to 0 where it is not (see withEncoderDelay). */
async function clearEncoderDelay(path: string): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const head = Buffer.alloc(16);
    await file.read(head, 0, head.length, 0);
    const offset = firstFrameOffset(head);
    if (offset === undefined) return;
    const frame = Buffer.alloc(MAX_FRAME_BYTES);
    const { bytesRead } = await file.read(frame, 0, frame.length, offset);
    const first = frame.subarray(0, bytesRead);
    const fixed = (encoderDelayOf(first) ?? 0) > 0 ? withEncoderDelay(first, 0) : undefined;
    if (fixed) await file.write(fixed, 0, fixed.length, offset);
  } finally {
    await file.close();
  }
}
