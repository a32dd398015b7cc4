import type { ApiKeyCreate, ApiKeyCreated, ApiKeyList } from '@mp3converter/shared/contracts';
import type { JobList, JobView } from '@mp3converter/shared/jobs';
import { readErrorBody } from '@mp3converter/shared/contracts/error-body';
import { CliError, EXIT, Interrupted } from './errors.js';

export type { JobList, JobView };

/** The gateway's error body: `{"error":{"code","message"}}`. */
export interface ApiErrorBody {
  code: string;
  message: string;
}

export async function errorOf(res: Response): Promise<ApiErrorBody> {
  const text = await res.text().catch(() => '');
  // Not ours (a proxy's page): the status says enough.
  return readErrorBody(text) ?? { code: `http_${res.status}`, message: text.trim().slice(0, 200) || res.statusText || `HTTP ${res.status}` };
}

/**
 * A refusal of the credential (401, 403) in words that say what to do about it, `then` added to the advice;
 * undefined for any other answer.
 */
export function credentialRefusal(status: number, error: ApiErrorBody, then = ''): CliError | undefined {
  if (status !== 401 && status !== 403) return undefined;
  switch (error.code) {
    case 'insufficient_scope':
      return new CliError(EXIT.auth, `${error.message}: use a key that has it (mp3c keys create) or a password login${then}`);
    case 'api_key_not_allowed':
      return new CliError(EXIT.auth, `${error.message}: log in with your password (mp3c login --email EMAIL, and unset MP3C_API_KEY)${then}`);
    case 'invalid_api_key':
      return new CliError(EXIT.auth, `the API key was refused (${error.message}): give a valid one (mp3c login --api-key, or MP3C_API_KEY)${then}`);
    default:
      return new CliError(EXIT.auth, `not logged in or the login expired (${error.message}): run mp3c login${then}`);
  }
}

/** The exit code and words for a refusal the gateway sent. */
export function refusal(status: number, error: ApiErrorBody, retryAfter?: string | null): CliError {
  const credential = credentialRefusal(status, error);
  if (credential) return credential;
  if (status === 404 || status === 410) return new CliError(EXIT.notFound, error.message);
  const later = retryAfter ? ` (try again in ${retryAfter} s)` : '';
  return new CliError(EXIT.error, `the gateway answered ${status} ${error.code}: ${error.message}${later}`);
}

/** The gateway's HTTP API, with the token of the login; every failure becomes a CliError with its exit code. */
export class ApiClient {
  constructor(
    readonly gateway: string,
    private readonly token: string | undefined,
    private readonly signal?: AbortSignal,
  ) {}

  get authorization(): string {
    if (!this.token) throw new CliError(EXIT.auth, `not logged in to ${this.gateway}: run mp3c login`);
    return `Bearer ${this.token}`;
  }

  url(path: string): string {
    return new URL(path, `${this.gateway}/`).toString();
  }

  /** A request; network failures and Ctrl-C become CliErrors, HTTP statuses are left to the caller. */
  async send(path: string, init: RequestInit & { auth?: boolean } = {}): Promise<Response> {
    const { auth = true, headers, signal, ...rest } = init;
    const all = new Headers(headers);
    if (auth) all.set('authorization', this.authorization);
    const signals = [signal, this.signal].filter((s): s is AbortSignal => !!s);
    try {
      return await fetch(this.url(path), { ...rest, headers: all, signal: signals.length ? AbortSignal.any(signals) : null });
    } catch (err) {
      if (this.signal?.aborted) throw new Interrupted();
      if (signal?.aborted) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(EXIT.error, `cannot reach the gateway at ${this.gateway}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
  }

  /** A request whose answer must be 2xx; anything else is thrown as its refusal. */
  async ok(path: string, init: RequestInit & { auth?: boolean } = {}): Promise<Response> {
    const res = await this.send(path, init);
    if (!res.ok) throw refusal(res.status, await errorOf(res), res.headers.get('retry-after'));
    return res;
  }

  /** POST /login with HTTP Basic; the token, or exit 3 for a wrong email or password. */
  async login(email: string, password: string): Promise<string> {
    const basic = Buffer.from(`${email}:${password}`, 'utf8').toString('base64');
    const res = await this.send('/login', { method: 'POST', auth: false, headers: { authorization: `Basic ${basic}` } });
    if (res.status === 401) {
      const { code } = await errorOf(res);
      throw new CliError(
        EXIT.auth,
        code === 'missing_credentials' ? 'login refused: the email or password is missing' : 'login refused: wrong email or password',
      );
    }
    if (res.status === 429) {
      await res.body?.cancel();
      throw new CliError(EXIT.error, `too many failed logins: try again in ${res.headers.get('retry-after') ?? 'a few'} s`);
    }
    if (!res.ok) throw refusal(res.status, await errorOf(res), res.headers.get('retry-after'));
    return (await res.text()).trim();
  }

  async job(id: string): Promise<JobView> {
    const job = await this.findJob(id);
    if (!job) throw new CliError(EXIT.notFound, `${id}: no such job`);
    return job;
  }

  /** The job, or undefined for an id the gateway knows no job by (404). */
  async findJob(id: string): Promise<JobView | undefined> {
    const res = await this.send(`/jobs/${id}`);
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) throw refusal(res.status, await errorOf(res), res.headers.get('retry-after'));
    return (await res.json()) as JobView;
  }

  async jobs(limit: number, cursor?: string): Promise<JobList> {
    const query = new URLSearchParams({ limit: String(limit), ...(cursor ? { cursor } : {}) });
    return (await (await this.ok(`/jobs?${query}`)).json()) as JobList;
  }

  async createKey(request: ApiKeyCreate): Promise<ApiKeyCreated> {
    const res = await this.ok('/keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
    return (await res.json()) as ApiKeyCreated;
  }

  async keys(): Promise<ApiKeyList> {
    return (await (await this.ok('/keys')).json()) as ApiKeyList;
  }

  /** DELETE /keys/{id}: false when there is no such key (404). */
  async revokeKey(id: string): Promise<boolean> {
    const res = await this.send(`/keys/${encodeURIComponent(id)}`, { method: 'DELETE' });
    if (res.status === 404) {
      await res.body?.cancel();
      return false;
    }
    if (!res.ok) throw refusal(res.status, await errorOf(res), res.headers.get('retry-after'));
    return true;
  }

  /** DELETE /jobs/{id}: 200 cancelled (was queued), 202 cancel requested (converting), 204 removed (had ended). */
  async deleteJob(id: string): Promise<{ status: 200 | 202 | 204; job: JobView | undefined }> {
    const res = await this.ok(`/jobs/${id}`, { method: 'DELETE' });
    const status = res.status as 200 | 202 | 204;
    return { status, job: status === 204 ? undefined : ((await res.json()) as JobView) };
  }
}
