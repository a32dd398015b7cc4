import { type ConversionOptions, conversionOptionsSchema } from '@mp3converter/shared/contracts';
import { type Parsed, stringOpt } from './args.js';
import { usageError } from './errors.js';

/** The flags of `mp3c upload` that ask for an MP3 other than the default, by the option each one sets. */
export const OPTION_FLAGS = { quality: 'quality', bitrate: 'bitrate', 'sample-rate': 'sample_rate', channels: 'channels', tags: 'tags' } as const;

/**
 * The conversion options the flags ask for, checked with the gateway's own schema before a byte is sent
 * (exit 2 with every problem named), and as tus metadata: one key per option, as the gateway reads them.
 */
export function conversionOptionsOf(parsed: Parsed): { options: ConversionOptions; metadata: Record<string, string> } {
  const given: Record<string, string> = {};
  for (const [flagName, key] of Object.entries(OPTION_FLAGS)) {
    const value = stringOpt(parsed, flagName);
    if (value !== undefined) given[key] = value;
  }
  const result = conversionOptionsSchema.safeParse(given);
  if (!result.success) {
    const flags: Record<string, string> = Object.fromEntries(Object.entries(OPTION_FLAGS).map(([f, k]) => [k, `--${f}`]));
    const named = (text: string) => text.replace(/\b(quality|bitrate|sample_rate|channels|tags)\b/g, (k) => flags[k] ?? k);
    const problems = result.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      // The schema's messages may start with the option's own name ("bitrate (kbit/s): one of …").
      const message = issue.message.startsWith(`${key} `) || issue.message.startsWith(`${key}:`) ? issue.message.slice(key.length) : `: ${issue.message}`;
      return `${flags[key] ?? key}${named(message)}`;
    });
    throw usageError(`bad conversion options: ${problems.join('; ')}`);
  }
  const metadata = Object.fromEntries(Object.entries(result.data).map(([k, v]) => [k, String(v)]));
  return { options: result.data, metadata };
}

const TYPES: Record<string, string> = {
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  m4a: 'audio/mp4',
  mov: 'video/quicktime',
  mkv: 'video/x-matroska',
  webm: 'video/webm',
  avi: 'video/x-msvideo',
  mpg: 'video/mpeg',
  mpeg: 'video/mpeg',
  ts: 'video/mp2t',
  flv: 'video/x-flv',
  wmv: 'video/x-ms-wmv',
  ogg: 'audio/ogg',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  flac: 'audio/flac',
};

/** The declared type by extension; the gateway judges the content by its first bytes whatever this says. */
export const fileTypeOf = (name: string): string | undefined => TYPES[name.split('.').pop()?.toLowerCase() ?? ''];
