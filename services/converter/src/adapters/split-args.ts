import type { MediaLimits } from '../domain/media-limits.js';
import { decimal, ffmetadataLines, fileUrl, inputGuards, isStreamIndex } from './ffmpeg-args.js';

/**
 * The command lines that cut an MP3 into parts without re-encoding it. Like the encoder's (see `encodeArgs`),
 * they hold fixed words, numbers the converter validated (the cut points, stream and chapter indices) and the
 * converter's own file names: the parts' titles and every other tag travel in an ffmetadata file, one
 * `[CHAPTER]` section per part, which each part's output takes as its global tags (`-map_metadata 1:c:K`).
 */

/** One part of a cut: from `startSeconds` to `endSeconds` (null: to the end of the audio), into `output`. */
export interface CutTarget {
  startSeconds: number;
  endSeconds: number | null;
  output: string;
}

/** The files of one cutting run, all named by the converter. */
export interface CutFiles {
  /** Its first audio stream is MP3: copied, frame by frame. */
  source: string;
  /** From `partsMetadata`, one section per target, in order. */
  metadata: string;
  /** The cover picture alone, in a Matroska file (see `coverArgs`); null without one. */
  cover: string | null;
}

/** Past the last part's end, the source is read this much further (s) before ffmpeg stops reading it. */
const READ_MARGIN_SECONDS = 1;

/** The front cover's picture type in the APIC frame, as ffmpeg takes it from the stream's `comment`. */
const FRONT_COVER = 'comment=Cover (front)';

/** The ffmetadata file of a cut: one `[CHAPTER]` section of tags per part, in order (its times play no part). */
export function partsMetadata(parts: readonly { tags: Record<string, string> }[]): string {
  const sections = parts.map(({ tags }, i) => `[CHAPTER]\nTIMEBASE=1/1000\nSTART=${i}\nEND=${i + 1}\n${ffmetadataLines(tags)}`);
  return `;FFMETADATA1\n${sections.join('')}`;
}

/** Copies stream `coverStream` of `source` (an attached picture) alone into a Matroska file, `output`. */
export function coverArgs(source: string, coverStream: number, output: string): string[] {
  if (!isStreamIndex(coverStream)) throw new RangeError(`not a stream index: ${coverStream}`);
  const args = ['-hide_banner', '-nostdin', '-y', '-v', 'error', ...inputGuards('file'), '-i', fileUrl(source)];
  return [...args, '-map', `0:${coverStream}`, '-c', 'copy', '-f', 'matroska', fileUrl(output)];
}

/**
 * One ffmpeg run that writes every target of `targets` from one reading of the source. Each output copies the
 * audio's frames from its start to its end (output `-ss`/`-to`: whole frames; a `-to` and the next part's
 * `-ss` at the same time put each frame in exactly one of the two), takes
 * its tags from its section of the ffmetadata file (input 1) and no chapters, and, with a cover, the picture
 * from an input of its own (the cover file again, its time moved to the part's start: a picture timed before
 * a part's start would be dropped with the frames before it).
 */
export function cutArgs(files: CutFiles, targets: readonly CutTarget[], limits: MediaLimits): string[] {
  if (targets.length === 0) throw new RangeError('nothing to cut');
  const args = ['-hide_banner', '-nostdin', '-y', '-v', 'error'];
  const ends = targets.map((t) => t.endSeconds);
  // Reading stops past the last part's end, unless a part runs to the end of the audio.
  if (!ends.includes(null)) args.push('-to', decimal(Math.max(...(ends as number[])) + READ_MARGIN_SECONDS));
  args.push(...inputGuards('file'), '-i', fileUrl(files.source));
  args.push('-protocol_whitelist', 'file', '-format_whitelist', 'ffmetadata', '-f', 'ffmetadata', '-i', fileUrl(files.metadata));
  if (files.cover !== null) {
    for (const target of targets) {
      args.push('-itsoffset', decimal(target.startSeconds), '-protocol_whitelist', 'file', '-format_whitelist', 'matroska', '-i', fileUrl(files.cover));
    }
  }
  targets.forEach((target, k) => {
    if (!(target.startSeconds >= 0) || (target.endSeconds !== null && !(target.endSeconds > target.startSeconds)))
      throw new RangeError(`not a part: ${target.startSeconds}–${target.endSeconds}`);
    args.push('-map', '0:a:0');
    if (files.cover !== null) args.push('-map', `${k + 2}:v:0`, '-c:v', 'copy', '-disposition:v:0', 'attached_pic', '-metadata:s:v:0', FRONT_COVER);
    else args.push('-vn');
    // From the very start, no `-ss`: with one, ffmpeg drops the first frame (the one holding the encoder's delay).
    args.push('-c:a', 'copy', ...(target.startSeconds > 0 ? ['-ss', decimal(target.startSeconds)] : []));
    if (target.endSeconds !== null) args.push('-to', decimal(target.endSeconds));
    args.push('-map_metadata', `1:c:${k}`, '-map_chapters', '-1', '-id3v2_version', '3', '-fflags', '+bitexact', '-write_id3v1', '0');
    args.push('-fs', String(limits.maxOutputBytes), '-f', 'mp3', fileUrl(target.output));
  });
  return args;
}
