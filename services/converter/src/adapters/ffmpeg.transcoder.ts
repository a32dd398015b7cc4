import { open, rm, writeFile } from 'node:fs/promises';
import type { EncodingPlan } from '../domain/encoding-plan.js';
import type { LoudnessReading } from '../domain/loudness.js';
import type { MediaLimits } from '../domain/media-limits.js';
import {
  type EncodeRun,
  type MediaInput,
  type MediaProbe,
  type Mp3Measure,
  PermanentFailure,
  type ServedVideo,
  type Transcoder,
  TransientFailure,
} from '../domain/ports.js';
import {
  type EncodeFiles,
  encodeArgs,
  ffmetadata,
  fileUrl,
  inputGuards,
  isStreamIndex,
  measureArgs,
  parseLoudnessSummary,
  servedInput,
} from './ffmpeg-args.js';
import { parseStatsLine } from './ffmpeg-stats.js';
import { followFile } from './file-follower.js';
import { MAX_FRAME_BYTES, firstFrameOffset, xingLength } from './mp3-header.js';
import { OutputTooLarge, ProcessTimedOut, runProcess } from './process-group.js';

export interface FfmpegOptions {
  ffmpegPath: string;
  ffprobePath: string;
  timeoutMs: number;
  probeTimeoutMs: number;
  limits: MediaLimits;
}

/** Demuxers that would read other files or URLs, named in the reason when ffmpeg refuses one. */
const PLAYLISTS = new Set(['hls', 'dash', 'concat', 'imf', 'webm_dash_manifest', 'sdp', 'vobsub']);
const NOT_ON_WHITELIST = /\[([\w,]+) @ 0x[0-9a-f]+\] Format not on whitelist/;

/** ffprobe's JSON stays small: a few fields, no tags. */
const PROBE_ENTRIES =
  'format=format_name,duration,bit_rate,size:format_tags:stream=index,codec_type,codec_name,duration,sample_rate,channels:stream_disposition=attached_pic:chapter=id';
/** Cover art the MP3 can carry in an ID3 APIC frame. */
const COVER_CODECS = new Set(['mjpeg', 'png']);
const PROBE_MAX_STDOUT_BYTES = 1 << 20;
/** ffmpeg writes its MP3 to a file and nothing to standard output. */
const ENCODE_MAX_STDOUT_BYTES = 64 * 1024;

/** What is kept of ffmpeg's own words (not its statistics) for the failure reason. */
const STDERR_KEPT = 64 * 1024;

const TRUNCATED = /moov atom not found|partial file|truncat|end of file|premature/i;
const UNREADABLE = /Invalid data found|could not find codec parameters|no such file|does not contain any stream/i;

/**
 * What ffmpeg says when the loopback server did not answer or cut a connection: the store's side failed
 * (the server's own reads are bounded), not the file.
 */
const SERVER_TROUBLE = /timed out|Connection refused|Connection reset|Server returned 5\d\d/i;

/**
 * The loopback server answers a range in windows (see RangeServer): at the end of each, ffmpeg says so and
 * asks for the next one. Not a word about the file.
 */
const SERVED_WINDOW_END = /^\[http @ (?:0x)?[0-9a-f]+\] Stream ends prematurely at \d+, should be \d+$/;

/** What ffmpeg said of a served video, without the ends of the server's windows. */
const withoutWindowEnds = (said: string) =>
  said
    .split('\n')
    .filter((line) => !SERVED_WINDOW_END.test(line))
    .join('\n');

/** A failed run over a served video that the store's side, not the file, made fail: a transient failure. */
function servedTrouble(input: MediaInput, said: string): TransientFailure | undefined {
  if (!('served' in input)) return undefined;
  const { served } = input;
  if (served.error === undefined && !SERVER_TROUBLE.test(said)) return undefined;
  return new TransientFailure('reading the video out of the store failed', { cause: served.error ?? new Error(said.slice(-2000)) });
}

/** A user-readable reason for what ffmpeg/ffprobe said about bad input. */
function inputProblem(stderr: string): string {
  const refused = NOT_ON_WHITELIST.exec(stderr)?.[1];
  if (refused && PLAYLISTS.has(refused)) return `the file is a playlist or manifest (${refused}), which is not accepted`;
  if (refused) return `the file's format (${refused}) is not supported`;
  if (TRUNCATED.test(stderr)) return 'the file is truncated or damaged';
  if (UNREADABLE.test(stderr)) return 'the file is not a video or audio file that can be read';
  return 'the file could not be converted';
}

/**
 * ffmpeg and ffprobe, spawned directly with argument lists of fixed words, validated numbers and the
 * converter's own file names (see `encodeArgs`). The input is a local file, or, for a container that can be
 * read in file order (see ContainerLayout), a pipe this process feeds from the local copy as it grows, or for
 * a run that seeks, the converter's own loopback server (see RangeServer): never another URL. The output is a file, so ffmpeg can go back and write the VBR (Xing/LAME) header that carries
 * the duration; written to a pipe, players misreport a VBR MP3's length.
 */
export class FfmpegTranscoder implements Transcoder {
  constructor(private readonly options: FfmpegOptions) {}

  async probe(input: MediaInput, signal: AbortSignal): Promise<MediaProbe> {
    const { ffprobePath, probeTimeoutMs } = this.options;
    // Fed, ffprobe reads the copy as it is written and stops once it knows enough (or at the index, last).
    const feed = 'growing' in input && input.growing ? followFile(input.growing) : undefined;
    const source = 'served' in input ? servedInput(this.served(input)) : [...inputGuards(feed ? 'pipe' : 'file'), '-i', feed ? 'pipe:0' : fileUrl(input.path)];
    const args = ['-hide_banner', '-v', 'error', '-show_entries', PROBE_ENTRIES, '-of', 'json', ...source];
    let result: Awaited<ReturnType<typeof runProcess>>;
    try {
      result = await runProcess(ffprobePath, args, { timeoutMs: probeTimeoutMs, signal, maxStdoutBytes: PROBE_MAX_STDOUT_BYTES, stdin: feed });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      // The copy being fed failed: its own error (a storage problem), not the file's.
      if (feed?.errored) throw err;
      if (err instanceof ProcessTimedOut)
        throw new TransientFailure(`reading the file took longer than ${Math.round(probeTimeoutMs / 1000)} s and was stopped`, { timedOut: true });
      if (err instanceof OutputTooLarge) throw new PermanentFailure('the file could not be converted', { cause: err });
      throw new TransientFailure('ffprobe could not be started', { cause: err });
    }
    if (result.code !== 0) {
      const said = 'served' in input ? withoutWindowEnds(result.stderr) : result.stderr;
      throw servedTrouble(input, said) ?? new PermanentFailure(inputProblem(said), { cause: new Error(said.slice(-2000)) });
    }
    let data: FfprobeJson;
    try {
      data = JSON.parse(result.stdout) as FfprobeJson;
    } catch (err) {
      throw new PermanentFailure('the file could not be converted', { cause: err });
    }
    const streams = data.streams ?? [];
    const audio = streams.find((s) => s.codec_type === 'audio');
    const cover = streams.find((s) => s.codec_type === 'video' && s.disposition?.attached_pic === 1 && COVER_CODECS.has(s.codec_name ?? ''));
    const video = streams.find((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
    const duration = Number(audio?.duration ?? data.format?.duration ?? 0);
    return {
      durationSeconds: Number.isFinite(duration) ? duration : 0,
      bitRate: Number(data.format?.bit_rate ?? 0) || 0,
      sizeBytes: Number(data.format?.size ?? 0) || 0,
      hasAudio: audio !== undefined,
      videoStream: isStreamIndex(video?.index) ? video.index : null,
      audioCodec: audio?.codec_name ?? null,
      sampleRate: Number(audio?.sample_rate) || null,
      channels: Number(audio?.channels) || null,
      // Only ever a number ffprobe printed, but it becomes part of `-map 0:N`: a small non-negative integer or no cover.
      coverStream: isStreamIndex(cover?.index) ? cover.index : null,
      tags: Object.fromEntries(Object.entries(data.format?.tags ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string')),
      chapters: data.chapters?.length ?? 0,
    };
  }

  /**
   * ffmpeg's MP3 muxer writes a Xing/Info header with the exact frame count: read it, not an ffprobe run.
   * The header the muxer goes back to is the ID3v2 tag (its size, once the cover art is in) and that first
   * frame (at the end): everything up to the frame's end. Without such a header, all of the file counts.
   */
  async measureMp3(path: string, signal: AbortSignal): Promise<Mp3Measure> {
    const file = await open(path, 'r');
    let length: ReturnType<typeof xingLength>;
    let sizeBytes: number;
    let offset: number | undefined;
    try {
      sizeBytes = (await file.stat()).size;
      const head = Buffer.alloc(16);
      await file.read(head, 0, head.length, 0);
      offset = firstFrameOffset(head);
      const frame = Buffer.alloc(256);
      const { bytesRead } = offset === undefined ? { bytesRead: 0 } : await file.read(frame, 0, frame.length, offset);
      length = xingLength(frame.subarray(0, bytesRead));
    } finally {
      await file.close();
    }
    if (!length || length.durationSeconds <= 0 || offset === undefined) {
      const { durationSeconds, bitRate } = await this.probe({ path }, signal);
      return { durationSeconds, bitRate, sizeBytes, header: { start: 0, end: sizeBytes } };
    }
    return {
      durationSeconds: length.durationSeconds,
      sizeBytes,
      bitRate: Math.round((sizeBytes * 8) / length.durationSeconds),
      header: { start: 0, end: Math.min(sizeBytes, offset + MAX_FRAME_BYTES) },
    };
  }

  /**
   * The tags travel in an ffmetadata file next to the output (in the job's folder), read by ffmpeg as a
   * second input: never as arguments.
   */
  async toMp3(input: MediaInput, output: string, plan: EncodingPlan, signal: AbortSignal, run: EncodeRun = {}): Promise<void> {
    signal.throwIfAborted();
    const metadata = Object.keys(plan.tags.tags).length > 0 ? `${output}.ffmetadata` : null;
    const args = encodeArgs(plan, { ...this.sourceOf(input), metadata, output }, this.options.limits);
    if (metadata) await writeFile(metadata, ffmetadata(plan.tags.tags), { mode: 0o600 });
    let said: string;
    try {
      said = await this.runFfmpeg(args, input, signal, run, 'the conversion');
    } finally {
      if (metadata) await rm(metadata, { force: true });
    }
    // ffmpeg exits 0 on a cut-off MP4 with its index at the front, having said so at error level.
    if (TRUNCATED.test(said)) throw new PermanentFailure('the file is truncated or damaged');
  }

  /**
   * ffmpeg's EBU R128 meter (`ebur128`, true peak on) over the part kept, as the encoder will read it. Its
   * summary comes at `-v info`, where ffmpeg also echoes the file's tags: only the last summary counts.
   */
  async measureLoudness(input: MediaInput, plan: EncodingPlan, signal: AbortSignal, run: EncodeRun = {}): Promise<LoudnessReading> {
    signal.throwIfAborted();
    const args = measureArgs(plan, this.sourceOf(input), this.options.limits);
    const said = await this.runFfmpeg(args, input, signal, run, 'measuring the loudness');
    const reading = parseLoudnessSummary(said);
    if (!reading) throw new PermanentFailure("the audio's loudness could not be measured", { cause: new Error(said.slice(-2000)) });
    return reading;
  }

  /**
   * One ffmpeg run over the source (a file, or fed from the growing copy), within the time left of the
   * conversion's limit; returns what it said besides its statistics lines, which go to `onProgress`.
   */
  private async runFfmpeg(args: string[], input: MediaInput, signal: AbortSignal, { onProgress, spentMs = 0 }: EncodeRun, what: string): Promise<string> {
    const { ffmpegPath, timeoutMs } = this.options;
    // Read from its first byte on: stopped (destroyed) once ffmpeg is done, whether it read it all or not.
    const feed = 'growing' in input && input.growing ? followFile(input.growing) : undefined;
    const served = 'served' in input;
    // The statistics lines would push what ffmpeg said about the input out of a ring of lines: kept apart.
    let said = '';
    const onStderrLine = (line: string) => {
      const stats = parseStatsLine(line);
      if (stats) onProgress?.(stats.seconds, stats.speed);
      else if (served && SERVED_WINDOW_END.test(line)) return;
      else if (line) said = `${said}${line}\n`.slice(-STDERR_KEPT);
    };
    const limitMs = Math.max(0, timeoutMs - spentMs);
    let code: number | null;
    try {
      ({ code } = await runProcess(ffmpegPath, args, { timeoutMs: limitMs, signal, maxStdoutBytes: ENCODE_MAX_STDOUT_BYTES, stdin: feed, onStderrLine }));
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      // The copy being fed failed: its own error (a storage problem), not the file's.
      if (feed?.errored) throw err;
      if (err instanceof ProcessTimedOut)
        throw new TransientFailure(`${what} took longer than ${Math.round(timeoutMs / 1000)} s and was stopped`, { timedOut: true });
      if (err instanceof OutputTooLarge) throw new PermanentFailure('the file could not be converted', { cause: err });
      throw new TransientFailure('ffmpeg could not be started', { cause: err });
    }
    // Killed by a signal of someone else's (the kernel's OOM killer, an operator).
    if (code === null) throw new TransientFailure('ffmpeg was killed');
    if (code !== 0) throw servedTrouble(input, said) ?? new PermanentFailure(inputProblem(said), { cause: new Error(said.slice(-2000)) });
    return said;
  }

  /** The source of a run as the command line names it. */
  private sourceOf(input: MediaInput): Pick<EncodeFiles, 'input' | 'fed'> {
    if ('served' in input) return { input: this.served(input), fed: false };
    return { input: input.path, fed: input.growing !== undefined };
  }

  /** A served video's address, with a wait on any read of it bounded by a probe's time limit. */
  private served(input: { served: ServedVideo }) {
    return { url: input.served.url, timeoutMs: this.options.probeTimeoutMs };
  }
}

interface FfprobeJson {
  format?: { format_name?: string; duration?: string; bit_rate?: string; size?: string; tags?: Record<string, unknown> };
  streams?: {
    index?: number;
    codec_type?: string;
    codec_name?: string;
    duration?: string;
    sample_rate?: string;
    channels?: number;
    disposition?: { attached_pic?: number };
  }[];
  chapters?: unknown[];
}
