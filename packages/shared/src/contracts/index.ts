import { z } from 'zod';
import { MAX_SPLIT_PARTS } from './conversion-options.js';

/** Queue names, the original's defaults; each service can override them by env (VIDEO_QUEUE, MP3_QUEUE). */
export const DEFAULT_QUEUES = {
  video: 'video',
  mp3: 'mp3',
  /** Conversion failures, for the notification service to tell the user. Not in the original. */
  failed: 'conversion.failed',
} as const;

/** GridFS databases (default bucket `fs`), as the original names them. */
export const GRIDFS_DATABASES = { videos: 'videos', mp3s: 'mp3s' } as const;

const objectIdHex = z.string().regex(/^[0-9a-fA-F]{24}$/, 'expected a 24-character hex id');

/**
 * The message on `video` and `mp3`: the original's three fields. Unknown fields are kept, so messages from
 * the original's services and ours pass through each other unchanged.
 */
export const conversionMessageSchema = z.looseObject({
  video_fid: objectIdHex,
  mp3_fid: objectIdHex.nullable(),
  username: z.string().min(1).max(320),
  /** Ours only: the MP3 asked for (see conversionOptionsSchema); the original's consumers ignore it. */
  options: z.unknown().optional(),
});
export type ConversionMessage = z.infer<typeof conversionMessageSchema>;

/**
 * The `mp3` message: `mp3_fid` set. A job split by chapters into several MP3s names them all, in order, in
 * `mp3_fids` (ours only), and its first in `mp3_fid`, so the original's consumers still read one MP3.
 */
export const mp3MessageSchema = conversionMessageSchema.extend({
  mp3_fid: objectIdHex,
  mp3_fids: z.array(objectIdHex).min(2).max(MAX_SPLIT_PARTS).optional(),
});
export type Mp3Message = z.infer<typeof mp3MessageSchema>;

/** What the converter publishes on `conversion.failed` when it gives up on a video. */
export const failureMessageSchema = z.looseObject({
  video_fid: objectIdHex,
  mp3_fid: z.null(),
  username: z.string().min(1).max(320),
  status: z.literal('failed'),
  reason: z.string().min(1),
  filename: z.string().nullable().optional(),
});
export type FailureMessage = z.infer<typeof failureMessageSchema>;

/** Field order as the original's `json.dumps`, then any extra fields. */
export const encodeMessage = (message: ConversionMessage | FailureMessage): Buffer => {
  const { video_fid, mp3_fid, username, ...rest } = message;
  return Buffer.from(JSON.stringify({ video_fid, mp3_fid, username, ...rest }));
};

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Parses a message body; never throws, so a bad message becomes a dead letter and not a crash. */
export function parseMessage<T>(schema: z.ZodType<T>, body: Buffer): ParseResult<T> {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, reason: 'message is not valid JSON' };
  }
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    reason: `invalid message: ${result.error.issues.map((i) => `${i.path.join('.') || 'body'} ${i.message}`).join('; ')}`,
  };
}

export {
  CONVERSION_OPTION_KEYS,
  MAX_SPLIT_PARTS,
  MAX_TAG_LENGTH,
  MAX_TIMECODE_SECONDS,
  MP3_SAMPLE_RATES,
  MPEG1_BITRATES,
  MPEG2_BITRATES,
  changesAudio,
  conversionOptionsSchema,
  describeOptionProblems,
  formatTimecode,
  parseTimecode,
  type ConversionOptions,
} from './conversion-options.js';
export { loginBodySchema, type LoginBody } from './login.js';
export {
  apiKeyCreateSchema,
  apiKeyCreatedSchema,
  apiKeyListSchema,
  apiKeyScopeSchema,
  apiKeyViewSchema,
  type ApiKeyCreate,
  type ApiKeyCreated,
  type ApiKeyList,
  type ApiKeyView,
} from './api-key-schemas.js';
