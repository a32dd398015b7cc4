import { type ParseArgsConfig, parseArgs } from 'node:util';
import { usageError } from './errors.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Options every command takes. */
export const COMMON_OPTIONS = {
  gateway: { type: 'string', short: 'g' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpec;

export const COMMON_HELP = `  -g, --gateway URL       the gateway (default: MP3C_GATEWAY, else the last login's, else http://127.0.0.1:8080)
      --json              machine-readable output on stdout
  -h, --help              this help`;

export interface Parsed {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

/** A command's arguments by its options (and the common ones); anything unknown or malformed is a usage error (exit 2). */
export function parseCommandArgs(argv: string[], options: OptionSpec): Parsed {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
    return { values, positionals };
  } catch (err) {
    throw usageError((err as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, ''));
  }
}

export const stringOpt = (parsed: Parsed, name: string): string | undefined => {
  const v = parsed.values[name];
  return typeof v === 'string' ? v : undefined;
};

export const flag = (parsed: Parsed, name: string): boolean => parsed.values[name] === true;

/** A whole number option within bounds, or undefined when not given. */
export function intOpt(parsed: Parsed, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = stringOpt(parsed, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) throw usageError(`--${name} must be a whole number from ${min} to ${max}`);
  return n;
}

/** A byte size: `5242880`, `512k`, `5m`, `1g` (KiB, MiB, GiB). */
export function parseSize(raw: string): number | undefined {
  const m = /^(\d+)([kmg]i?b?)?$/i.exec(raw.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? '').charAt(0).toLowerCase();
  const factor = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  const n = Number(m[1]) * factor;
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** Exactly one positional id (a 24-hex video_fid or mp3_fid). */
export function oneId(parsed: Parsed, what = 'ID'): string {
  const [id, ...rest] = parsed.positionals;
  if (!id) throw usageError(`missing ${what}`);
  if (rest.length > 0) throw usageError(`one ${what} only (got ${parsed.positionals.length})`);
  if (!/^[0-9a-fA-F]{24}$/.test(id)) throw usageError(`${what} must be a 24-character hex id (a video_fid)`);
  return id.toLowerCase();
}
