import { type ConversionOptions, conversionOptionsSchema } from '@mp3converter/shared/contracts';
import type { OptionSpec, Parsed } from './args.js';
import { stringOpt } from './args.js';
import { usageError } from './errors.js';

/** One conversion option as a flag of `mp3c upload`, read from the shared schema. */
export interface OptionFlag {
  /** The option's key: a query or tus metadata key (`sample_rate`). */
  key: string;
  /** `sample-rate` for `--sample-rate`. */
  flag: string;
  short?: string;
  /** What the value is called in the help: its choices, or N, TEXT, VALUE by its type. */
  placeholder: string;
  description: string;
}

interface PropertySchema {
  type?: string | string[];
  enum?: (string | number)[];
  description?: string;
}

/** Short forms the first flags had; every other flag is long only. */
const SHORT: Record<string, string> = { quality: 'q', bitrate: 'b' };

function placeholderOf({ type, enum: values }: PropertySchema): string {
  if (values && values.length <= 4) return values.join('|');
  const types = Array.isArray(type) ? type : [type];
  if (types.length === 1 && (types[0] === 'number' || types[0] === 'integer')) return 'N';
  if (types.length === 1 && types[0] === 'string') return 'TEXT';
  return 'VALUE';
}

/**
 * Every option of the shared conversion options schema as a flag, in the schema's order: an option added
 * there is a flag here, with its description as its help, and checked by the same schema.
 */
export const OPTION_FLAGS: readonly OptionFlag[] = Object.entries(
  (conversionOptionsSchema.toJSONSchema({ io: 'input', unrepresentable: 'any' }).properties ?? {}) as Record<string, PropertySchema>,
).map(([key, property]) => ({
  key,
  flag: key.replaceAll('_', '-'),
  ...(SHORT[key] ? { short: SHORT[key] } : {}),
  placeholder: placeholderOf(property),
  description: (property.description ?? '').replaceAll('`', ''),
}));

/** The flags' parseArgs specs. */
export const OPTION_SPECS: OptionSpec = Object.fromEntries(
  OPTION_FLAGS.map(({ flag, short }) => [flag, { type: 'string' as const, ...(short ? { short } : {}) }]),
);

/** Wraps `text` to `width` columns, every line after the first indented by `indent`. */
function wrap(text: string, width: number, indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width - indent) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

/** The flags' help lines, as the other options' are laid out: the flag in 26 columns, then its description. */
export function optionFlagsHelp(width = 110): string {
  return OPTION_FLAGS.map(({ flag, short, placeholder, description }) => {
    const left = `  ${short ? `-${short}, ` : '    '}--${flag} ${placeholder}`;
    return `${left.padEnd(25)} ${wrap(description, width, 26)}`;
  }).join('\n');
}

const FLAG_OF: Record<string, string> = Object.fromEntries(OPTION_FLAGS.map(({ key, flag }) => [key, `--${flag}`]));
const KEY_NAMES = new RegExp(`\\b(${OPTION_FLAGS.map(({ key }) => key).join('|')})\\b`, 'g');

/**
 * The conversion options the flags ask for, checked with the gateway's own schema before a byte is sent
 * (exit 2 with every problem named by its flag), and as tus metadata: one key per option, as the gateway
 * reads them, as checked (the gateway checks them again).
 */
export function conversionOptionsOf(parsed: Parsed): { options: ConversionOptions; metadata: Record<string, string> } {
  const given: Record<string, string> = {};
  for (const { key, flag } of OPTION_FLAGS) {
    const value = stringOpt(parsed, flag);
    if (value !== undefined) given[key] = value;
  }
  const result = conversionOptionsSchema.safeParse(given);
  if (!result.success) {
    const named = (text: string) => text.replace(KEY_NAMES, (k) => FLAG_OF[k] ?? k);
    const problems = result.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      // The schema's messages may start with the option's own name ("bitrate (kbit/s): one of …").
      const message = issue.message.startsWith(`${key} `) || issue.message.startsWith(`${key}:`) ? issue.message.slice(key.length) : `: ${issue.message}`;
      return `${FLAG_OF[key] ?? key}${named(message)}`;
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
