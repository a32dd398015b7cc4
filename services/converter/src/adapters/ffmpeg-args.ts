import { isAbsolute } from 'node:path';
import type { EncodingPlan } from '../domain/encoding-plan.js';
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
 * or the pipe the converter feeds itself.
 */
export const inputGuards = (protocol: 'file' | 'pipe' = 'file') => ['-protocol_whitelist', protocol, '-format_whitelist', ALLOWED_DEMUXERS.join(',')];

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
  const lines = Object.entries(tags).map(([name, value]) => {
    const line = `${escaped(name)}=${escaped(value)}`;
    return line.endsWith('\\') ? `${line}\0` : line;
  });
  return `;FFMETADATA1\n${lines.map((line) => `${line}\n`).join('')}`;
}

const escaped = (text: string) => text.replaceAll('\0', '').replace(FFMETADATA_SPECIAL, '\\$&');

/** The files of one ffmpeg run, all named by the converter: absolute paths in the job's own folder. */
export interface EncodeFiles {
  /** The source; `fed`: read from standard input (`pipe:0`) as the copy grows, instead of from the file. */
  input: string;
  fed: boolean;
  /** The ffmetadata file of the kept tags (see `ffmetadata`); required when the plan keeps tags. */
  metadata: string | null;
  output: string;
}

/**
 * ffmpeg's whole command line for a plan. It is built of fixed words, the plan's validated numbers and the
 * converter's own file names: nothing read from the upload (tag names or values, chapter titles, file names)
 * is ever one of its arguments. One output, the MP3 file; no filter graph; every input limited to the `file`
 * protocol (or the pipe) and to its whitelisted formats.
 */
export function encodeArgs(plan: EncodingPlan, files: EncodeFiles, limits: MediaLimits): string[] {
  // -nostdin: no keyboard commands (a fed input, pipe:0, is read all the same). -stats keeps the statistics
  // line coming at -v error: it is how far the encoder is.
  const args = ['-hide_banner', '-nostdin', '-y', '-v', 'error', '-stats'];
  args.push(...inputGuards(files.fed ? 'pipe' : 'file'), '-i', files.fed ? 'pipe:0' : fileUrl(files.input));
  if (plan.tags.keep) {
    if (files.metadata === null) throw new RangeError('a plan that keeps tags needs its ffmetadata file');
    args.push('-protocol_whitelist', 'file', '-format_whitelist', 'ffmetadata', '-f', 'ffmetadata', '-i', fileUrl(files.metadata));
  }
  args.push(...outputArgs(plan));
  // The output caps: ffmpeg stops there and the domain's checkMp3 refuses the result.
  args.push('-t', String(outputSecondsCap(limits)), '-fs', String(limits.maxOutputBytes));
  args.push('-f', 'mp3', fileUrl(files.output));
  return args;
}

/**
 * The output options for a plan: the first audio stream, copied or encoded with LAME; with tags kept, the
 * kept tags from the ffmetadata input (input 1), the source's chapters and its cover art, as ID3v2.3 (what
 * players read best); `+bitexact` so that ffmpeg adds no encoder tag of its own.
 */
function outputArgs(plan: EncodingPlan): string[] {
  const args = ['-map', '0:a:0'];
  const { tags, audio } = plan;
  if (tags.keep) {
    if (tags.coverStream !== null) {
      if (!isStreamIndex(tags.coverStream)) throw new RangeError(`not a stream index: ${tags.coverStream}`);
      args.push('-map', `0:${tags.coverStream}`, '-c:v', 'copy', '-disposition:v:0', 'attached_pic');
    }
    args.push('-map_metadata', '1', '-map_chapters', '0', '-id3v2_version', '3');
  } else {
    args.push('-map_metadata', '-1', '-map_chapters', '-1');
  }
  if (!tags.keep || tags.coverStream === null) args.push('-vn');
  if (audio.mode === 'copy') args.push('-c:a', 'copy');
  else {
    args.push('-c:a', 'libmp3lame');
    if (audio.bitrateKbps !== null) args.push('-b:a', `${audio.bitrateKbps}k`);
    else args.push('-q:a', String(audio.vbrQuality ?? 2));
    if (audio.sampleRate !== null) args.push('-ar', String(audio.sampleRate));
    if (audio.channels !== null) args.push('-ac', String(audio.channels));
  }
  args.push('-fflags', '+bitexact', '-write_id3v1', '0');
  return args;
}
