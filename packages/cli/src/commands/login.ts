import { parseApiKey } from '@mp3converter/shared/contracts/api-keys';
import { ApiClient, errorOf, refusal } from '../api.client.js';
import { type Parsed, flag, stringOpt } from '../args.js';
import { type Command, printJson } from '../command.js';
import type { Context } from '../context.js';
import { EXIT, type ExitCode, usageError } from '../errors.js';
import { askLine, readAll } from '../prompt.js';

export const login: Command = {
  name: 'login',
  summary: 'log in and keep the token for the other commands',
  help: `Usage: mp3c login [--email EMAIL] [--password-stdin] [--insecure]
       mp3c login --api-key [--insecure]

Logs in to the gateway (POST /login) and keeps the token, readable by you alone, in
$XDG_CONFIG_HOME/mp3c/login.json (~/.config/mp3c/login.json). The password is asked for without echo, or
read from stdin (--password-stdin) or MP3C_PASSWORD, for scripts. A token lasts 24 hours.

With --api-key, keeps an API key instead (mp3c keys create makes one), read from stdin or asked for without
echo, once the gateway has taken it; it works until it expires or is revoked, for what its scopes allow.
MP3C_API_KEY, when set, is used instead of whatever login is kept.

The password or key is sent only over https://, or plain http:// to this machine (localhost, 127.0.0.0/8, ::1).

  -e, --email EMAIL       the account (default: MP3C_EMAIL, else asked for)
      --password-stdin    read the password from stdin (one line)
      --api-key           keep an API key rather than log in with a password
      --insecure          send the password or key over plain http:// to another host all the same`,
  options: {
    email: { type: 'string', short: 'e' },
    'password-stdin': { type: 'boolean' },
    'api-key': { type: 'boolean' },
    insecure: { type: 'boolean' },
  },
  async run(ctx, parsed) {
    if (parsed.positionals.length > 0) throw usageError(`login takes no arguments (got ${parsed.positionals.join(' ')}); the email goes in --email`);
    const withKey = flag(parsed, 'api-key');
    // Checked before anything is asked for: nobody types a password that will not be sent.
    if (!flag(parsed, 'insecure') && sendsInClear(ctx.gateway)) {
      throw usageError(
        `${ctx.gateway} is plain http on another host: the ${withKey ? 'API key' : 'password'} would cross the network readable by anyone on the way. ` +
          'Use the https:// address, or give --insecure to send it all the same',
      );
    }
    if (withKey) return keepApiKey(ctx, parsed);
    const interactive = ctx.stdin.isTTY === true;
    let email = stringOpt(parsed, 'email') ?? (ctx.env.MP3C_EMAIL || undefined);
    if (!email) {
      if (!interactive) throw usageError('no email: give --email (or MP3C_EMAIL)');
      email = (await askLine(ctx.stdin, ctx.stderr, 'email: ', { signal: ctx.signal })).trim();
      if (!email) throw usageError('no email given');
    }
    let password: string;
    if (flag(parsed, 'password-stdin')) password = await readAll(ctx.stdin);
    else if (ctx.env.MP3C_PASSWORD) password = ctx.env.MP3C_PASSWORD;
    else if (interactive) password = await askLine(ctx.stdin, ctx.stderr, 'password: ', { hidden: true, signal: ctx.signal });
    else throw usageError('no terminal to ask for the password: use --password-stdin or MP3C_PASSWORD');
    if (!password) throw usageError('no password given');

    const token = await (await ctx.api()).login(email, password);
    await ctx.store.save(ctx.gateway, { email, token, saved_at: new Date().toISOString() });
    if (ctx.json) printJson(ctx, { gateway: ctx.gateway, email, token_file: ctx.store.path });
    else ctx.stdout.write(`logged in to ${ctx.gateway} as ${email}\n`);
    return EXIT.ok;
  },
};

/** True for a plain http:// gateway that is not this machine: what is sent there can be read on the way. */
export function sendsInClear(gateway: string): boolean {
  const url = new URL(gateway);
  if (url.protocol !== 'http:') return false;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const loopback = host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  return !loopback;
}

/** `mp3c login --api-key`: the key, once the gateway takes it, kept as a login is. */
async function keepApiKey(ctx: Context, parsed: Parsed): Promise<ExitCode> {
  if (stringOpt(parsed, 'email') !== undefined || flag(parsed, 'password-stdin')) throw usageError('--api-key takes neither --email nor --password-stdin');
  const key = (
    ctx.stdin.isTTY === true ? await askLine(ctx.stdin, ctx.stderr, 'API key: ', { hidden: true, signal: ctx.signal }) : await readAll(ctx.stdin)
  ).trim();
  const parsedKey = parseApiKey(key);
  if (!parsedKey) throw usageError('not an API key: expected mp3c_<id>_<secret>, as mp3c keys create prints it');
  // Any request tells whether the key is taken; a key that may not read is still a key.
  const api = new ApiClient(ctx.gateway, key, ctx.signal);
  const res = await api.send('/jobs?limit=1');
  if (!res.ok) {
    const error = await errorOf(res);
    if (!(res.status === 403 && error.code === 'insufficient_scope')) throw refusal(res.status, error, res.headers.get('retry-after'));
  } else await res.body?.cancel();
  await ctx.store.save(ctx.gateway, { email: null, token: key, key_id: parsedKey.id, saved_at: new Date().toISOString() });
  if (ctx.json) printJson(ctx, { gateway: ctx.gateway, key_id: parsedKey.id, token_file: ctx.store.path });
  else ctx.stdout.write(`logged in to ${ctx.gateway} with API key ${parsedKey.id}\n`);
  return EXIT.ok;
}
