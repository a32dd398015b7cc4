import {
  type ConversionOptions,
  MPEG1_BITRATES,
  MPEG2_BITRATES,
  changesAudio,
  conversionOptionsSchema,
  describeOptionProblems,
} from '@mp3converter/shared/contracts';
import { type MediaProbe, PermanentFailure } from './ports.js';

/** The source's tags an MP3 keeps (ID3v2.3 frames); everything else (major_brand, encoder, handler names, …) is container junk. */
export const KEPT_TAGS = new Set(['title', 'artist', 'album_artist', 'album', 'date', 'track', 'disc', 'genre', 'composer', 'publisher', 'language']);

export type AudioPlan =
  /** The source's audio is MP3 already and nothing asks for a change: its frames are copied, not re-encoded (lossy to lossy). */
  { mode: 'copy' } | { mode: 'encode'; vbrQuality: number | null; bitrateKbps: number | null; sampleRate: number | null; channels: number | null };

export type TagPlan =
  /**
   * Of the source's global tags, those on KEPT_TAGS (by their lower-case names), with its chapters and its
   * cover art (an attached picture stream, never the video track). The tags are data for the MP3's tag: none
   * of them, names or values, is ever part of a command line.
   */
  { keep: true; tags: Record<string, string>; coverStream: number | null } | { keep: false };

export interface EncodingPlan {
  audio: AudioPlan;
  tags: TagPlan;
}

export interface EncodingDefaults {
  vbrQuality: number;
  bitrateKbps?: number | undefined;
}

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

/** How this source becomes the MP3 its owner asked for. */
export function planEncoding(options: ConversionOptions, source: MediaProbe, defaults: EncodingDefaults): EncodingPlan {
  const tags: TagPlan = options.tags === 'drop' ? { keep: false } : { keep: true, tags: keptTags(source.tags), coverStream: source.coverStream };
  if (source.audioCodec === 'mp3' && !changesAudio(options)) return { audio: { mode: 'copy' }, tags };
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
    tags,
  };
}
