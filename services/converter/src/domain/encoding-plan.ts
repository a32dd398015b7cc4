import {
  type ConversionOptions,
  MPEG1_BITRATES,
  MPEG2_BITRATES,
  changesAudio,
  conversionOptionsSchema,
  describeOptionProblems,
  formatTimecode,
} from '@mp3converter/shared/contracts';
import { type MediaProbe, PermanentFailure } from './ports.js';

/** The source's tags an MP3 keeps (ID3v2.3 frames); everything else (major_brand, encoder, handler names, …) is container junk. */
export const KEPT_TAGS = new Set(['title', 'artist', 'album_artist', 'album', 'date', 'track', 'disc', 'genre', 'composer', 'publisher', 'language']);

export type AudioPlan =
  /** The source's audio is MP3 already and nothing asks for a change: its frames are copied, not re-encoded (lossy to lossy). */
  { mode: 'copy' } | { mode: 'encode'; vbrQuality: number | null; bitrateKbps: number | null; sampleRate: number | null; channels: number | null };

/** The part of the source kept, seconds: `-ss` before the input (a seek, not decoding up to it) and `-t`. */
export interface TrimPlan {
  startSeconds: number;
  durationSeconds: number;
}

/**
 * Even loudness asked: the integrated loudness to reach and the true-peak ceiling. `levelling` is how, once
 * the kept audio was measured (see `levelFor`): null until then.
 */
export interface LoudnessPlan {
  targetLufs: number;
  ceilingDbtp: number;
  levelling: Levelling | null;
}

/** One linear gain, and a limiter only when that gain would take the true peak past the ceiling. */
export interface Levelling {
  gainDb: number;
  /** The limiter's ceiling, dBFS (sample peak); null: no limiter. */
  limitDbfs: number | null;
  /** How much less gain than the target asked, dB: the limiting it would need was out of bounds. */
  shortfallDb: number;
}

export type CoverPlan =
  /** The source's attached picture (JPEG or PNG), copied: never the video track. */
  | { from: 'stream'; index: number }
  /** A frame of the video track at a time of the source, scaled down to fit 600 × 600 px, as JPEG. */
  | { from: 'frame'; videoStream: number; atSeconds: number };

/**
 * The MP3's tag: of the source's global tags those on KEPT_TAGS (by their lower-case names) unless dropped,
 * with the user's title, artist and album over them; the source's chapters when kept; a cover. The tags are
 * data for the MP3's tag: none of them, names or values, is ever part of a command line.
 */
export interface TagPlan {
  tags: Record<string, string>;
  /** The source's own: its chapters' titles and its picture's description and type come along. */
  keepSource: boolean;
  chapters: boolean;
  cover: CoverPlan | null;
}

export interface EncodingPlan {
  audio: AudioPlan;
  trim: TrimPlan | null;
  loudness: LoudnessPlan | null;
  tags: TagPlan;
}

export interface EncodingDefaults {
  vbrQuality: number;
  bitrateKbps?: number | undefined;
}

/** The true-peak ceiling when `loudness` comes without `true_peak`, dBTP. */
export const DEFAULT_TRUE_PEAK_DBTP = -1.5;
/** An end asked up to this far past the probed duration is the end (a duration shown rounded up), s. */
const END_TOLERANCE_SECONDS = 0.5;

/** The source's tags an MP3 keeps, by their lower-case names; of two spellings of one name, the first. */
export function keptTags(source: Record<string, string>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    const key = name.toLowerCase();
    if (KEPT_TAGS.has(key) && !Object.hasOwn(kept, key)) kept[key] = value;
  }
  return kept;
}

/** The options a message carries (none: the defaults); bad ones fail the job, as the gateway would have refused them. */
export function readOptions(raw: unknown): ConversionOptions {
  const parsed = conversionOptionsSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new PermanentFailure(`invalid output options: ${describeOptionProblems(parsed.error)}`);
  return parsed.data;
}

const pastTheEnd = (what: string, seconds: number, source: MediaProbe) =>
  new PermanentFailure(`${what} (${formatTimecode(seconds)}) is past the end of the video (${formatTimecode(source.durationSeconds)})`);

/** The part kept, checked against the probed duration; null when the whole is. */
export function planTrim(options: Pick<ConversionOptions, 'start' | 'end'>, source: MediaProbe): TrimPlan | null {
  const { start = 0, end } = options;
  if (start === 0 && end === undefined) return null;
  if (!(source.durationSeconds > 0)) throw new PermanentFailure("the video's length cannot be read, so it cannot be trimmed");
  if (start >= source.durationSeconds) throw pastTheEnd('the start', start, source);
  if (end !== undefined && end > source.durationSeconds + END_TOLERANCE_SECONDS) throw pastTheEnd('the end', end, source);
  const until = Math.min(end ?? source.durationSeconds, source.durationSeconds);
  return { startSeconds: start, durationSeconds: Math.round((until - start) * 1000) / 1000 };
}

/** `frame@<seconds>` as the schema keeps it. */
const coverFrameSeconds = (cover: string): number => Number(cover.slice('frame@'.length));

function planTags(options: ConversionOptions, source: MediaProbe): TagPlan {
  const keep = options.tags !== 'drop';
  const user = Object.fromEntries((['title', 'artist', 'album'] as const).flatMap((name) => (options[name] === undefined ? [] : [[name, options[name]]])));
  let cover: CoverPlan | null = keep && source.coverStream !== null ? { from: 'stream', index: source.coverStream } : null;
  if (options.cover !== undefined) {
    const atSeconds = coverFrameSeconds(options.cover);
    if (source.videoStream === null) throw new PermanentFailure('the file has no video to take a cover frame from');
    if (source.durationSeconds > 0 && atSeconds >= source.durationSeconds) throw pastTheEnd("the cover's frame", atSeconds, source);
    cover = { from: 'frame', videoStream: source.videoStream, atSeconds };
  }
  return { tags: { ...(keep ? keptTags(source.tags) : {}), ...user }, keepSource: keep, chapters: keep && source.chapters > 0, cover };
}

/** How this source becomes the MP3 its owner asked for; a trim or a cover frame outside the video fails the job. */
export function planEncoding(options: ConversionOptions, source: MediaProbe, defaults: EncodingDefaults): EncodingPlan {
  const tags = planTags(options, source);
  const trim = planTrim(options, source);
  const loudness: LoudnessPlan | null =
    options.loudness === undefined ? null : { targetLufs: options.loudness, ceilingDbtp: options.true_peak ?? DEFAULT_TRUE_PEAK_DBTP, levelling: null };
  if (source.audioCodec === 'mp3' && !changesAudio(options)) return { audio: { mode: 'copy' }, trim, loudness, tags };
  const bitrateKbps = options.bitrate ?? (options.quality === undefined ? (defaults.bitrateKbps ?? null) : null);
  if (bitrateKbps !== null) {
    const sampleRate = options.sample_rate ?? source.sampleRate;
    // MPEG-1 rates (32 kHz and up) and MPEG-2 rates have different bitrates; a source rate LAME would resample is not known here.
    if (sampleRate !== null) {
      const valid: readonly number[] = sampleRate >= 32000 ? MPEG1_BITRATES : MPEG2_BITRATES;
      if (!valid.includes(bitrateKbps))
        throw new PermanentFailure(`a bitrate of ${bitrateKbps} kbit/s does not exist at ${sampleRate} Hz: choose one of ${valid.join(', ')}`);
    }
  }
  return {
    audio: {
      mode: 'encode',
      vbrQuality: bitrateKbps === null ? (options.quality ?? defaults.vbrQuality) : null,
      bitrateKbps,
      sampleRate: options.sample_rate ?? null,
      channels: options.channels ?? null,
    },
    trim,
    loudness,
    tags,
  };
}

/** Seconds of audio the MP3 will hold: the part kept, or the whole source. */
export const keptSeconds = (plan: EncodingPlan, source: MediaProbe): number => plan.trim?.durationSeconds ?? source.durationSeconds;

/**
 * Whether ffmpeg seeks in the source: a trim that starts later than the beginning, or a cover frame (read from
 * the file a second time). Such a source cannot be read through a pipe as it is copied.
 */
export const seeksInSource = (options: ConversionOptions): boolean => (options.start ?? 0) > 0 || options.cover !== undefined;
