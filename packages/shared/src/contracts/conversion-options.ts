import { z } from 'zod';

import { MP3_SAMPLE_RATES, MPEG1_BITRATES, MPEG2_BITRATES } from './mp3-formats.js';

export { MP3_SAMPLE_RATES, MPEG1_BITRATES, MPEG2_BITRATES };

const BITRATES = [...new Set([...MPEG2_BITRATES, ...MPEG1_BITRATES])].sort((a, b) => a - b);

/** The longest time a trim or a cover frame may name: 100 hours, past any video the converter takes. */
export const MAX_TIMECODE_SECONDS = 360_000;
/** The most characters a title, artist or album given with the upload may have. */
export const MAX_TAG_LENGTH = 256;
/** The most MP3s a split by chapters makes: `NN - ` stays at most three digits. */
export const MAX_SPLIT_PARTS = 999;

const SECONDS = /^(\d{1,6})(?:\.(\d{1,3}))?$/;
const MINUTES_SECONDS = /^(\d{1,4}):([0-5]\d)(?:\.(\d{1,3}))?$/;
const HOURS_MINUTES_SECONDS = /^(\d{1,3}):([0-5]\d):([0-5]\d)(?:\.(\d{1,3}))?$/;

const milliseconds = (fraction: string | undefined) => (fraction === undefined ? 0 : Number(fraction.padEnd(3, '0')));
const toMs = (seconds: number) => Math.round(seconds * 1000) / 1000;

/**
 * A time in a video: seconds (`90`, `90.5`), `mm:ss` or `hh:mm:ss`, each with up to three decimals (`1:30.250`);
 * ASCII digits only, nothing around them. Undefined for anything else.
 */
export function parseTimecode(text: string): number | undefined {
  let m = SECONDS.exec(text);
  if (m) return Number(m[1]) + milliseconds(m[2]) / 1000;
  m = MINUTES_SECONDS.exec(text);
  if (m) return Number(m[1]) * 60 + Number(m[2]) + milliseconds(m[3]) / 1000;
  m = HOURS_MINUTES_SECONDS.exec(text);
  if (m) return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + milliseconds(m[4]) / 1000;
  return undefined;
}

/** `1:30`, `1:02:03.5`: a time as `parseTimecode` reads it, to the millisecond. */
export function formatTimecode(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3_600_000);
  const min = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  const ss = `${s < 10 ? '0' : ''}${s}`;
  return h > 0 ? `${h}:${String(min).padStart(2, '0')}:${ss}` : `${min}:${ss}`;
}

const TIMECODE_FORMS = 'seconds (90.5) or [hh:]mm:ss[.ms] (1:30.250)';

/** A time: text as `parseTimecode` reads it (a query string) or a number of seconds (a message), to the ms. */
const timecode = z
  .union([z.number(), z.string()])
  .transform((value, ctx) => {
    const seconds = typeof value === 'number' ? value : parseTimecode(value);
    if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0 || seconds > MAX_TIMECODE_SECONDS) {
      ctx.issues.push({ code: 'custom', input: value, message: `a time from 0 to ${MAX_TIMECODE_SECONDS} s: ${TIMECODE_FORMS}` });
      return z.NEVER;
    }
    return toMs(seconds);
  })
  .pipe(z.number());

/** `frame@<time>`: the video's frame at that time; kept as `frame@<seconds>`. */
const COVER_FRAME = /^frame@(.+)$/;
const cover = z
  .string()
  .transform((value, ctx) => {
    const at = COVER_FRAME.exec(value)?.[1];
    const seconds = at === undefined ? undefined : parseTimecode(at);
    if (seconds === undefined || seconds > MAX_TIMECODE_SECONDS) {
      ctx.issues.push({ code: 'custom', input: value, message: `frame@<time>, the time as ${TIMECODE_FORMS}` });
      return z.NEVER;
    }
    return `frame@${toMs(seconds)}`;
  })
  .pipe(z.string());

/** C0 and C1 control characters and DEL: a tag is one line of text. */
const CONTROL = /\p{Cc}/u;
const tagText = (what: string) =>
  z
    .string()
    .min(1, 'not empty')
    .max(MAX_TAG_LENGTH, `at most ${MAX_TAG_LENGTH} characters`)
    .refine((text) => !CONTROL.test(text), 'no control characters (line breaks, tabs, NUL, …)')
    .optional()
    .meta({ description: `The MP3's ${what}, over the source's; at most ${MAX_TAG_LENGTH} characters, no control characters.` });

const oneOf = <T extends number>(values: readonly T[], what: string) =>
  z.coerce.number().refine((n): n is T => (values as readonly number[]).includes(n), `${what}: one of ${values.join(', ')}`);

/**
 * The MP3 a user asks for: given on the upload as query parameters (a multipart field after the file part
 * would come too late for a streamed upload), carried in the `video` message as an extra `options` field,
 * validated again by the converter. Everything is optional: a message without options gets the defaults
 * (VBR at the converter's MP3_VBR_QUALITY, the source's sample rate and channels, tags kept).
 */
export const conversionOptionsSchema = z
  .strictObject({
    quality: z.coerce.number().int().min(0).max(9).optional().meta({ description: 'LAME VBR quality, 0 (best, ~245 kbit/s) to 9 (smallest, ~65 kbit/s).' }),
    bitrate: oneOf(BITRATES, 'bitrate (kbit/s)').optional().meta({
      description: 'A constant bitrate, kbit/s: 32–320 (MPEG-1 rates) at 32 kHz and up, 8–160 (MPEG-2 rates) below; not with `quality`.',
      enum: BITRATES,
    }),
    sample_rate: oneOf(MP3_SAMPLE_RATES, 'sample_rate (Hz)')
      .optional()
      .meta({ description: "Hz; the source's by default.", enum: [...MP3_SAMPLE_RATES] }),
    channels: oneOf([1, 2] as const, 'channels')
      .optional()
      .meta({ description: "1 for mono, 2 for stereo; the source's by default.", enum: [1, 2] }),
    tags: z.enum(['keep', 'drop']).optional().meta({
      description:
        "`keep` (default): title, artist, album, date, chapters and cover art of the source, as ID3v2.3; `drop`: none of the source's (what `title`, `artist`, `album` and `cover` give is written all the same).",
    }),
    start: timecode.optional().meta({
      description: `Where the MP3 starts in the video: ${TIMECODE_FORMS}; the beginning by default. Must lie inside the video.`,
    }),
    end: timecode.optional().meta({
      description: `Where the MP3 ends in the video: ${TIMECODE_FORMS}; the end by default. After \`start\`, inside the video.`,
    }),
    loudness: z.coerce.number().min(-50).max(-5).optional().meta({
      description:
        'Even loudness (EBU R128): the integrated loudness to reach, LUFS, -50 to -5 (-16 for podcasts, -14 for music services). Measured first, then one linear gain; a limiter only where the true peak would pass `true_peak`.',
    }),
    true_peak: z.coerce.number().min(-9).max(0).optional().meta({
      description: 'With `loudness`: the true-peak ceiling of the MP3, dBTP, -9 to 0. Default -1.5.',
    }),
    cover: cover.optional().meta({
      description: "`frame@<time>`: the video's frame at that time as the cover (JPEG, at most 600 px on its longer side), over the source's.",
      examples: ['frame@12.5'],
    }),
    split: z
      .enum(['chapters'])
      .optional()
      .meta({
        description: `\`chapters\`: one MP3 per chapter of the source (at most ${MAX_SPLIT_PARTS}), named \`NN - <chapter title>.mp3\` and tagged with the chapter's title and its track number; a source without chapters gives one MP3.`,
      }),
    title: tagText('title'),
    artist: tagText('artist'),
    album: tagText('album'),
  })
  .superRefine((o, ctx) => {
    if (o.start !== undefined && o.end !== undefined && o.end <= o.start) {
      ctx.addIssue({ code: 'custom', path: ['end'], message: `must be after start (${formatTimecode(o.start)})` });
    }
    if (o.true_peak !== undefined && o.loudness === undefined) {
      ctx.addIssue({ code: 'custom', path: ['true_peak'], message: 'applies to loudness: give loudness too' });
    }
    if (o.quality !== undefined && o.bitrate !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['bitrate'], message: 'give quality (VBR) or bitrate (CBR), not both' });
    }
    if (o.bitrate !== undefined && o.sample_rate !== undefined) {
      const rates: readonly number[] = o.sample_rate >= 32000 ? MPEG1_BITRATES : MPEG2_BITRATES;
      if (!rates.includes(o.bitrate)) {
        ctx.addIssue({ code: 'custom', path: ['bitrate'], message: `at ${o.sample_rate} Hz the bitrate must be one of ${rates.join(', ')}` });
      }
    }
  });
export type ConversionOptions = z.infer<typeof conversionOptionsSchema>;

/** Every problem of a set of options, one line each (`bitrate: …; channels: …`). */
export const describeOptionProblems = (error: z.ZodError): string =>
  error.issues.map((i) => `${i.path.join('.') || (i.code === 'unrecognized_keys' ? i.keys.join(', ') : 'options')}: ${i.message}`).join('; ');

/**
 * Whether these options ask for anything but the source's audio as it is (tags and cover aside): a trim is
 * encoded too, cut to the sample rather than to the source's frames (whose first would lean on bits of the
 * frame before it, cut away).
 */
export const changesAudio = (o: ConversionOptions): boolean =>
  o.quality !== undefined ||
  o.bitrate !== undefined ||
  o.sample_rate !== undefined ||
  o.channels !== undefined ||
  o.start !== undefined ||
  o.end !== undefined ||
  o.loudness !== undefined;

/** The names of every option, as query keys and tus metadata keys. */
export const CONVERSION_OPTION_KEYS = Object.keys(conversionOptionsSchema.shape) as (keyof ConversionOptions)[];
