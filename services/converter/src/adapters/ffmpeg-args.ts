import { isAbsolute } from 'node:path';
import type { EncodingPlan } from '../domain/encoding-plan.js';
import type { LoudnessReading } from '../domain/loudness.js';
import { type MediaLimits, outputSecondsCap } from '../domain/media-limits.js';

/**
 * The demuxers ffmpeg and ffprobe may use, by name (`mov` is also mp4, m4a, 3gp, 3g2 and mj2; `matroska`
 * also webm; `mp3` also MP2). None of them opens another file or URL: playlists, manifests and lists (hls,
 * dash, concat, imf), image sequences, devices and the rest are refused however the input is wrapped, since
 * the demuxer ffmpeg detects must be on the list.
 */
export const ALLOWED_DEMUXERS = ['mov', 'matroska', 'avi', 'flv', 'mpegts', 'mpeg', 'ogg', 'wav', 'mp3', 'aac', 'flac', 'asf', 'aiff', 'ac3'];

/**
 * Input options of every ffmpeg and ffprobe run: whitelisted containers only, and one way in: a local file,
 * the pipe the converter feeds itself, or (`http`) the converter's own loopback server (see `servedInput`).
 */
export const inputGuards = (protocol: 'file' | 'pipe' | 'http' = 'file') => [
  '-protocol_whitelist',
  protocol === 'http' ? 'http,tcp' : protocol,
  '-format_whitelist',
  ALLOWED_DEMUXERS.join(','),
];

/** The video served by the converter's loopback server (see RangeServer), as ffmpeg reads it. */
export interface HttpSource {
  url: string;
  /** A connect or read that waits longer than this fails (after reconnecting), ms. */
  timeoutMs: number;
}

/** The only URLs ffmpeg is given: the loopback server's, `http://127.0.0.1:<port>/<random token>`. */
const SERVED_URL = /^http:\/\/127\.0\.0\.1:\d{1,5}\/[A-Za-z0-9_-]{16,64}$/;

/** Longest wait between two reconnects to the loopback server, s: ffmpeg doubles it from 1 s. */
const RECONNECT_DELAY_MAX_SECONDS = 4;

/**
 * The input options and input of a served video: the guards with `http,tcp` alone (no https, no proxy, no
 * other protocol a reply could redirect to), a bounded wait on every read (`-rw_timeout`, µs), reconnects
 * after a dropped connection (a read of the store that failed) and seeking by ranges. The URL must be the
 * server's own form: anything else is refused here, before any process starts.
 */
export function servedInput(source: HttpSource): string[] {
  if (!SERVED_URL.test(source.url)) throw new RangeError("not a URL of the converter's loopback server");
  if (!Number.isSafeInteger(source.timeoutMs) || source.timeoutMs <= 0) throw new RangeError(`not a timeout: ${source.timeoutMs}`);
  return [
    ...inputGuards('http'),
    ...['-rw_timeout', String(source.timeoutMs * 1000), '-seekable', '1'],
    ...['-reconnect', '1', '-reconnect_on_network_error', '1', '-reconnect_delay_max', String(RECONNECT_DELAY_MAX_SECONDS)],
    '-i',
    source.url,
  ];
}

/** ffmpeg refuses files of more streams than this (its `max_streams`): a larger index read from a probe is not one. */
const MAX_STREAMS = 1000;

/** Whether a value read from ffprobe is a stream index that may go into `-map 0:N`. */
export const isStreamIndex = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) < MAX_STREAMS;

/**
 * A file the converter named, as a `file:` URL: nothing in the name (a colon, a leading dash) can make
 * ffmpeg read it as another protocol or an option.
 */
export function fileUrl(path: string): string {
  if (!isAbsolute(path)) throw new RangeError(`not an absolute path: ${path}`);
  return `file:${path}`;
}

/**
 * Characters ffmpeg's ffmetadata reader takes as syntax: `=` (between name and value), `;` and `#`
 * (comments), the backslash itself, and the line ends. A backslash before one makes it text.
 */
const FFMETADATA_SPECIAL = /[=;#\\\n\r]/g;

/**
 * The kept tags as an ffmetadata file (ffmpeg's `-f ffmetadata`), the way they reach the MP3 without being
 * on a command line. NUL bytes are dropped: an ID3 text ends at one. A value that ends in a backslash gets a
 * NUL after its escaped backslash: ffmpeg 5.1 takes a line end after an escaped backslash as escaped too,
 * and the NUL, where the text it keeps ends, stops that (a reader without that quirk ends the line at the
 * NUL and skips the empty line after it).
 */
export function ffmetadata(tags: Record<string, string>): string {
  return `;FFMETADATA1\n${ffmetadataLines(tags)}`;
}

/** Tags as escaped `name=value` lines of an ffmetadata file, each with its line end (see `ffmetadata`). */
export function ffmetadataLines(tags: Record<string, string>): string {
  const lines = Object.entries(tags).map(([name, value]) => {
    const line = `${escaped(name)}=${escaped(value)}`;
    return line.endsWith('\\') ? `${line}\0` : line;
  });
  return lines.map((line) => `${line}\n`).join('');
}

const escaped = (text: string) => text.replaceAll('\0', '').replace(FFMETADATA_SPECIAL, '\\$&');

/** The files of one ffmpeg run, all named by the converter: absolute paths in the job's own folder. */
export interface EncodeFiles {
  /**
   * The source: a file (`fed`: read from standard input, `pipe:0`, as the copy grows, instead of from the
   * file), or the video served by the loopback server, for runs that seek.
   */
  input: string | HttpSource;
  fed: boolean;
  /** The ffmetadata file of the MP3's tags (see `ffmetadata`); required when the plan has tags. */
  metadata: string | null;
  output: string;
}

/** The guards and the input of the source, read whole (see `sourceInput` for where the seek goes). */
function sourceRef(files: Pick<EncodeFiles, 'input' | 'fed'>): string[] {
  if (typeof files.input !== 'string') {
    if (files.fed) throw new RangeError('a served video is not fed through a pipe');
    return servedInput(files.input);
  }
  return [...inputGuards(files.fed ? 'pipe' : 'file'), '-i', files.fed ? 'pipe:0' : fileUrl(files.input)];
}

/** A number for ffmpeg's command line, written by us: finite, at most three decimals, never an exponent. */
export function decimal(n: number): string {
  if (!Number.isFinite(n) || Math.abs(n) >= 1e9) throw new RangeError(`not a number for a command line: ${n}`);
  return String(Math.round(n * 1000) / 1000).replace(/^-0$/, '0');
}

/** The picture type ffmpeg writes into the APIC frame, from the stream's `comment`: a front cover. */
const FRONT_COVER = 'comment=Cover (front)';

/** The longest side of a cover taken from a video frame, px. */
export const COVER_MAX_PX = 600;

/**
 * The cover frame's filter: fit within COVER_MAX_PX × COVER_MAX_PX without ever enlarging, even sides, in
 * JPEG's full-range YUV. Fixed text: no number in it comes from the file or the user.
 */
const COVER_FILTER = `scale=w=min(${COVER_MAX_PX}\\,iw):h=min(${COVER_MAX_PX}\\,ih):force_original_aspect_ratio=decrease:force_divisible_by=2,format=yuvj420p`;

/**
 * The sample rate and channels asked, as a filter: converted before the meter or the gain, so that both act
 * on the audio as it is encoded. Only for a plan that measures its loudness (the plain encoder converts at
 * its output, `-ar` and `-ac`).
 */
function audioFormat(plan: EncodingPlan): string | null {
  if (plan.audio.mode !== 'encode' || plan.loudness === null) return null;
  const { sampleRate, channels } = plan.audio;
  const format = [
    ...(sampleRate === null ? [] : [`sample_rates=${decimal(sampleRate)}`]),
    ...(channels === null ? [] : [`channel_layouts=${channels === 1 ? 'mono' : 'stereo'}`]),
  ];
  return format.length > 0 ? `aformat=${format.join(':')}` : null;
}

/**
 * The audio filters of a levelled plan, built only from its validated numbers and fixed words: the format
 * (see `audioFormat`), the gain, and the limiter if the levelling has one, its automatic level off: it only
 * ever lowers the peaks past its limit.
 */
export function audioFilters(plan: EncodingPlan): string | null {
  const levelling = plan.loudness?.levelling;
  if (!levelling) return null;
  const filters = [audioFormat(plan), `volume=${decimal(levelling.gainDb)}dB`];
  if (levelling.limitDbfs !== null) filters.push(`alimiter=limit=${decimal(10 ** (levelling.limitDbfs / 20))}:attack=5:release=50:level=0:latency=1`);
  return filters.filter((f) => f !== null).join(',');
}

/** The input options of the source: a seek to the trim's start (before decoding: cost follows the part kept). */
function sourceInput(plan: EncodingPlan, files: Pick<EncodeFiles, 'input' | 'fed'>): string[] {
  const start = plan.trim?.startSeconds ?? 0;
  if (start > 0 && files.fed) throw new RangeError('a trim that starts later needs to seek, not a pipe');
  return [...(start > 0 ? ['-ss', decimal(start)] : []), ...sourceRef(files)];
}

/** How much ffmpeg writes: the part kept, never past the output cap (after which checkMp3 refuses the result). */
const outputSeconds = (plan: EncodingPlan, limits: MediaLimits) =>
  decimal(Math.min(plan.trim?.durationSeconds ?? Number.POSITIVE_INFINITY, outputSecondsCap(limits)));

/**
 * ffmpeg's whole command line for a plan. It is built of fixed words, the plan's validated numbers and the
 * converter's own file names: nothing read from the upload or given by the user as text (tag names or
 * values, chapter titles, file names) is ever one of its arguments. One output, the MP3 file; filters only
 * of fixed words and our numbers; every input limited to the `file` protocol (or the pipe, or `http,tcp` for
 * the loopback server's URL) and to its whitelisted formats.
 */
export function encodeArgs(plan: EncodingPlan, files: EncodeFiles, limits: MediaLimits): string[] {
  // -nostdin: no keyboard commands (a fed input, pipe:0, is read all the same). -stats keeps the statistics
  // line coming at -v error: it is how far the encoder is.
  const args = ['-hide_banner', '-nostdin', '-y', '-v', 'error', '-stats'];
  if (plan.loudness !== null && plan.loudness.levelling === null) throw new RangeError('a plan that asks for even loudness needs its levelling');
  args.push(...sourceInput(plan, files));
  const hasTags = Object.keys(plan.tags.tags).length > 0;
  let inputs = 1;
  if (hasTags) {
    if (files.metadata === null) throw new RangeError('a plan with tags needs its ffmetadata file');
    args.push('-protocol_whitelist', 'file', '-format_whitelist', 'ffmetadata', '-f', 'ffmetadata', '-i', fileUrl(files.metadata));
    inputs++;
  }
  const cover = plan.tags.cover;
  if (cover?.from === 'frame') {
    if (files.fed) throw new RangeError('a cover frame needs to seek, not a pipe');
    args.push('-ss', decimal(cover.atSeconds), ...sourceRef(files));
  }
  args.push(...outputArgs(plan, hasTags ? 1 : null, inputs));
  // The output caps: ffmpeg stops there and the domain's checkMp3 refuses the result.
  args.push('-t', outputSeconds(plan, limits), '-fs', String(limits.maxOutputBytes));
  args.push('-f', 'mp3', fileUrl(files.output));
  return args;
}

/**
 * The output options for a plan: the first audio stream, copied or encoded with LAME; the tags from the
 * ffmetadata input (`metadataInput`), the source's chapters and a cover (the source's picture, copied, or a
 * video frame from input `frameInput`, as JPEG) as ID3v2.3 (what players read best); `+bitexact` so that
 * ffmpeg adds no encoder tag of its own.
 */
function outputArgs(plan: EncodingPlan, metadataInput: number | null, frameInput: number): string[] {
  const args = ['-map', '0:a:0'];
  const { tags, audio } = plan;
  const cover = tags.cover;
  if (cover?.from === 'stream') {
    if (!isStreamIndex(cover.index)) throw new RangeError(`not a stream index: ${cover.index}`);
    args.push('-map', `0:${cover.index}`, '-c:v', 'copy', '-disposition:v:0', 'attached_pic');
  } else if (cover?.from === 'frame') {
    if (!isStreamIndex(cover.videoStream)) throw new RangeError(`not a stream index: ${cover.videoStream}`);
    args.push('-map', `${frameInput}:${cover.videoStream}`, '-frames:v', '1', '-filter:v', COVER_FILTER);
    args.push('-c:v', 'mjpeg', '-q:v', '3', '-disposition:v:0', 'attached_pic', '-metadata:s:v:0', FRONT_COVER);
  } else args.push('-vn');
  // Global tags from the ffmetadata file alone; `-map_metadata -1` would drop the chapters' titles too.
  args.push('-map_metadata:g', metadataInput === null ? '-1' : String(metadataInput));
  if (!tags.keepSource) args.push('-map_metadata:s', '-1');
  args.push('-map_chapters', tags.chapters ? '0' : '-1', '-id3v2_version', '3');
  if (audio.mode === 'copy') args.push('-c:a', 'copy');
  else {
    const filters = audioFilters(plan);
    if (filters !== null) args.push('-filter:a', filters);
    args.push('-c:a', 'libmp3lame');
    if (audio.bitrateKbps !== null) args.push('-b:a', `${audio.bitrateKbps}k`);
    else args.push('-q:a', String(audio.vbrQuality ?? 2));
    if (audio.sampleRate !== null) args.push('-ar', String(audio.sampleRate));
    if (audio.channels !== null) args.push('-ac', String(audio.channels));
  }
  args.push('-fflags', '+bitexact', '-write_id3v1', '0');
  return args;
}

/**
 * The level the true-peak branch takes the audio down by before it is written as 16-bit samples, dB: peaks
 * up to this far over full scale are measured, not clipped.
 */
const PEAK_ATTENUATION_DB = 12;

/**
 * The loudness meter's filter: ffmpeg's EBU R128 meter for the integrated loudness, and beside it the true
 * peak as BS.1770 defines it, the highest sample at 4× the rate (192 kHz, 16 taps per phase where BS.1770
 * asks for 12), read by `volumedetect`. ebur128's own true peak (`peak=true`) gives the same figures to
 * 0.2 dB but doubles the meter's cost (its resampler is heavier), which the loudness option must keep low.
 */
const METER = [
  'asplit[loudness][peak]',
  `[peak]volume=-${PEAK_ATTENUATION_DB}dB,aresample=192000:filter_size=16:osf=s16,volumedetect,anullsink`,
  '[loudness]ebur128=framelog=verbose',
].join(';');

/**
 * The loudness meter's command line: the part kept, converted as the encoder will have it, through the meter
 * (see METER), decoded and thrown away (`-f null`). At `-v info`, for the meter's summaries; the statistics
 * line tells how far it is, as for the encoder.
 */
export function measureArgs(plan: EncodingPlan, files: Pick<EncodeFiles, 'input' | 'fed'>, limits: MediaLimits): string[] {
  const args = ['-hide_banner', '-nostdin', '-v', 'info', '-stats', ...sourceInput(plan, files), '-map', '0:a:0', '-vn', '-sn', '-dn'];
  const format = audioFormat(plan);
  args.push('-filter:a', format === null ? METER : `${format},${METER}`, '-t', outputSeconds(plan, limits), '-f', 'null', '-');
  return args;
}

/** The meter's summary header, as ffmpeg logs it for the filter instance, and the lines read after it. */
const SUMMARY = /^\[Parsed_ebur128_\d+ @ (?:0x)?[0-9a-f]+\] Summary:$/;
const INTEGRATED = /^\s+I:\s+(-?\d+(?:\.\d+)?|-inf) LUFS$/;
const MAX_VOLUME = /^\[Parsed_volumedetect_\d+ @ (?:0x)?[0-9a-f]+\] max_volume: (-?\d+(?:\.\d+)?|-inf) dB$/;

const decibels = (text: string) => (text === '-inf' ? Number.NEGATIVE_INFINITY : Number(text));

/**
 * The integrated loudness and true peak from the meter's summaries, the last ones ffmpeg wrote: what ffmpeg
 * echoed of the file before them (tags that mimic a summary among them) does not count. Undefined without.
 */
export function parseLoudnessSummary(stderr: string): LoudnessReading | undefined {
  const lines = stderr.split(/\r?\n/);
  const at = lines.findLastIndex((line) => SUMMARY.test(line));
  const integrated =
    at < 0
      ? undefined
      : lines
          .slice(at + 1)
          .map((line) => INTEGRATED.exec(line)?.[1])
          .find((i) => i !== undefined);
  const peak = lines.map((line) => MAX_VOLUME.exec(line)?.[1]).findLast((p) => p !== undefined);
  if (integrated === undefined || peak === undefined) return undefined;
  return { integratedLufs: decibels(integrated), truePeakDbtp: Math.round((decibels(peak) + PEAK_ATTENUATION_DB) * 100) / 100 };
}
