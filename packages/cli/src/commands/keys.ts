import type { ApiKeyView } from '@mp3converter/shared/contracts';
import { API_KEY_ID_PATTERN, API_KEY_SCOPES, type ApiKeyScope, isApiKeyScope } from '@mp3converter/shared/contracts/api-keys';
import { type Parsed, stringOpt } from '../args.js';
import { type Command, printJson } from '../command.js';
import type { Context } from '../context.js';
import { CliError, EXIT, type ExitCode, usageError } from '../errors.js';
import { formatTable } from '../format.js';

export const KEYS_SUBCOMMANDS = ['create', 'list', 'revoke'] as const;

const UNITS: Record<string, number> = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000 };

/**
 * `--expires`: a span from now (`12h`, `30d`, `8w`, `1y`), a date (`2027-01-01`, midnight UTC) or a date and
 * time with its zone (`2027-01-01T09:00:00+02:00`); as the ISO time the gateway takes. Its range is the
 * gateway's to check.
 */
export function expiryOf(raw: string, now = Date.now()): string {
  const text = raw.trim();
  const span = /^(\d{1,6})([hdwy])$/.exec(text);
  if (span) return new Date(now + Number(span[1]) * UNITS[span[2]!]!).toISOString();
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text;
  const zoned = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([zZ]|[+-]\d{2}:?\d{2})$/.test(iso);
  const at = Date.parse(iso);
  if (!zoned || Number.isNaN(at)) throw usageError(`--expires must be a span (12h, 30d, 8w, 1y), a date (2027-01-01) or a time with its zone (got ${raw})`);
  return new Date(at).toISOString();
}

/** `--scope` as given, repeated or comma-separated: `--scope upload --scope read`, `--scope upload,read`. */
export function scopesOf(parsed: Parsed): ApiKeyScope[] {
  const given = parsed.values.scope;
  const raw = (Array.isArray(given) ? given : given === undefined ? [] : [given]).flatMap((s) => String(s).split(',')).map((s) => s.trim());
  if (raw.length === 0) throw usageError(`give at least one --scope (${API_KEY_SCOPES.join(', ')})`);
  const unknown = raw.filter((s) => !isApiKeyScope(s));
  if (unknown.length > 0) throw usageError(`unknown scope ${JSON.stringify(unknown[0])} (one of ${API_KEY_SCOPES.join(', ')})`);
  return [...new Set(raw as ApiKeyScope[])];
}

/** A name as a terminal may show it: nothing of it can move the cursor or recolour the screen. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced
const printable = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?');

const day = (iso: string | null) => (iso ? iso.replace(/\.\d+Z$/, 'Z') : '');

function table(keys: ApiKeyView[]): string {
  const rows = keys.map((k) => [
    k.id,
    k.scopes.join(','),
    day(k.created_at),
    k.expired ? 'expired' : k.expires_at ? day(k.expires_at) : 'never',
    k.last_used_at ? day(k.last_used_at) : 'never',
    printable(k.name),
  ]);
  return formatTable(['ID', 'SCOPES', 'CREATED', 'EXPIRES', 'LAST_USED', 'NAME'], rows);
}

async function create(ctx: Context, parsed: Parsed): Promise<ExitCode> {
  if (parsed.positionals.length > 1) throw usageError('keys create takes no arguments: the name goes in --name');
  const name = stringOpt(parsed, 'name');
  if (name === undefined || name.trim() === '') throw usageError('give the key a --name (what it is for), e.g. --name "backup script"');
  const scopes = scopesOf(parsed);
  const raw = stringOpt(parsed, 'expires');
  const expires = raw === undefined ? undefined : expiryOf(raw);
  const created = await (await ctx.api()).createKey({ name, scopes, ...(expires ? { expires_at: expires } : {}) });
  if (ctx.json) printJson(ctx, created);
  else {
    // The key alone on stdout, for KEY=$(mp3c keys create …); the rest is for people.
    ctx.stdout.write(`${created.key}\n`);
    const until = created.expires_at ? `until ${day(created.expires_at)}` : 'with no expiry';
    ctx.stderr.write(`created API key ${created.id} (${created.scopes.join(', ')}, ${until}): it is shown this once, keep it now\n`);
  }
  return EXIT.ok;
}

async function list(ctx: Context, parsed: Parsed): Promise<ExitCode> {
  if (parsed.positionals.length > 1) throw usageError('keys list takes no arguments');
  const listed = await (await ctx.api()).keys();
  if (ctx.json) printJson(ctx, listed);
  else if (listed.keys.length === 0) ctx.stderr.write(`no API keys (you may hold ${listed.limit})\n`);
  else ctx.stdout.write(`${table(listed.keys)}\n`);
  return EXIT.ok;
}

async function revoke(ctx: Context, parsed: Parsed): Promise<ExitCode> {
  const ids = parsed.positionals.slice(1);
  if (ids.length === 0) throw usageError('keys revoke needs the ID of a key (mp3c keys list shows them)');
  const bad = ids.find((id) => !API_KEY_ID_PATTERN.test(id));
  if (bad !== undefined) throw usageError(`not a key id: ${JSON.stringify(printable(bad))} (16 characters of 0-9 and a-z, as mp3c keys list shows)`);
  const api = await ctx.api();
  let worst: ExitCode = EXIT.ok;
  for (const id of ids) {
    const revoked = await api.revokeKey(id);
    if (ctx.json) printJson(ctx, { id, revoked });
    else if (revoked) ctx.stdout.write(`${id}: revoked\n`);
    else ctx.stderr.write(`mp3c: ${id}: no such API key\n`);
    if (!revoked) worst = EXIT.notFound;
  }
  return worst;
}

export const keys: Command = {
  name: 'keys',
  summary: 'create, list and revoke API keys for scripts',
  help: `Usage: mp3c keys create --name NAME --scope SCOPE… [--expires WHEN]
       mp3c keys list
       mp3c keys revoke ID…

API keys let scripts use the gateway without your password: each may do what its scopes name (upload,
read, delete) until it expires or is revoked. Managing keys takes a password login (mp3c login), never a key.
create prints the key alone on stdout, the only time it is ever shown: KEY=$(mp3c keys create …). A script
then uses it with MP3C_API_KEY=$KEY, or mp3c login --api-key.

  -n, --name NAME         create: what the key is for (1–100 characters); --name=-x for a name with a dash
  -s, --scope SCOPE       create: upload, read or delete; repeat it or separate with commas
      --expires WHEN      create: 12h, 30d, 8w, 1y, a date (2027-01-01) or a time with its zone (default: never)`,
  options: {
    name: { type: 'string', short: 'n' },
    scope: { type: 'string', short: 's', multiple: true },
    expires: { type: 'string' },
  },
  async run(ctx, parsed) {
    const [sub] = parsed.positionals;
    if (sub !== 'create') {
      const stray = ['name', 'scope', 'expires'].find((option) => parsed.values[option] !== undefined);
      if (stray) throw usageError(`--${stray} is for keys create`);
    }
    switch (sub) {
      case 'create':
        return create(ctx, parsed);
      case 'list':
        return list(ctx, parsed);
      case 'revoke':
        return revoke(ctx, parsed);
      case undefined:
        throw usageError(`keys needs one of ${KEYS_SUBCOMMANDS.join(', ')}`);
      default:
        throw new CliError(EXIT.usage, `unknown keys command ${JSON.stringify(printable(sub))} (one of ${KEYS_SUBCOMMANDS.join(', ')})`);
    }
  },
};
