import { ApiClient } from './api.client.js';
import { type Parsed, stringOpt } from './args.js';
import { usageError } from './errors.js';
import { DEFAULT_GATEWAY, configDir } from './paths.js';
import { TokenStore } from './token.store.js';

/** A stream mp3c writes to; `isTTY` and `columns` decide between a progress bar and plain lines. */
export interface Output {
  write(chunk: string | Uint8Array): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Input extends AsyncIterable<Buffer | string> {
  isTTY?: boolean;
  setRawMode?(raw: boolean): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  off(event: 'data', listener: (chunk: Buffer) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

/** Everything a command reads from or writes to the world, so that main.ts alone touches `process`. */
export interface Io {
  stdout: Output;
  stderr: Output;
  stdin: Input;
  env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C (SIGINT). */
  signal: AbortSignal;
}

export interface Context extends Io {
  store: TokenStore;
  /** The gateway this command talks to. */
  gateway: string;
  json: boolean;
  /** The client with MP3C_API_KEY, else the token stored for this gateway (none: the first authenticated call exits 3). */
  api(): Promise<ApiClient>;
}

/** A gateway address as given (flag or env): http(s) (`host:port` alone means http), no trailing slash. */
export function normalizeGateway(raw: string): string {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw usageError(`not a gateway address: ${raw} (expected e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`the gateway address must be http:// or https://: ${raw}`);
  return url.toString().replace(/\/+$/, '');
}

/** The gateway: --gateway, else MP3C_GATEWAY, else the last login's, else the local start command's. */
export async function resolveGateway(parsed: Parsed, env: NodeJS.ProcessEnv, store: TokenStore): Promise<string> {
  const given = stringOpt(parsed, 'gateway') ?? (env.MP3C_GATEWAY || undefined);
  if (given) return normalizeGateway(given);
  return (await store.current()) ?? DEFAULT_GATEWAY;
}

export async function createContext(io: Io, parsed: Parsed): Promise<Context> {
  const store = new TokenStore(configDir(io.env));
  const gateway = await resolveGateway(parsed, io.env, store);
  return {
    ...io,
    store,
    gateway,
    json: parsed.values.json === true,
    // A key in the environment wins over the stored login: a script's own key, whoever logged in on the machine.
    api: async () => new ApiClient(gateway, io.env.MP3C_API_KEY?.trim() || (await store.get(gateway))?.token, io.signal),
  };
}
