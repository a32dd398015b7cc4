import { z } from 'zod';

import { MP3_SAMPLE_RATES, MPEG1_BITRATES, MPEG2_BITRATES } from './mp3-formats.js';

export { MP3_SAMPLE_RATES, MPEG1_BITRATES, MPEG2_BITRATES };

const BITRATES = [...new Set([...MPEG2_BITRATES, ...MPEG1_BITRATES])].sort((a, b) => a - b);

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
    tags: z
      .enum(['keep', 'drop'])
      .optional()
      .meta({ description: '`keep` (default): title, artist, album, date, chapters and cover art of the source, as ID3v2.3; `drop`: none.' }),
  })
  .superRefine((o, ctx) => {
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

/** Every option's name, as the schema has them (tus metadata and forms read these keys). */
export const CONVERSION_OPTION_KEYS = Object.keys(conversionOptionsSchema.shape) as (keyof ConversionOptions)[];

/** Every problem of a set of options, one line each (`bitrate: …; channels: …`). */
export const describeOptionProblems = (error: z.ZodError): string =>
  error.issues.map((i) => `${i.path.join('.') || (i.code === 'unrecognized_keys' ? i.keys.join(', ') : 'options')}: ${i.message}`).join('; ');

/** Whether these options ask for anything but the defaults about the audio itself (tags aside). */
export const changesAudio = (o: ConversionOptions): boolean =>
  o.quality !== undefined || o.bitrate !== undefined || o.sample_rate !== undefined || o.channels !== undefined;
