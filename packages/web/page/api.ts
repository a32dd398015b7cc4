import { readErrorBody } from '@mp3converter/shared/contracts/error-body';

/** The gateway's HTTP API, as the page uses it: same origin, the bearer token of the session. */

/** A refusal the gateway explained: its status and its JSON error. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** What a JSON error body (`{"error":{"code","message"}}`) says, or the status line when there is none. */
export async function errorOf(res: Response): Promise<ApiError> {
  return errorFromBody(res.status, await res.text().catch(() => ''), res.statusText);
}

/** The same, from a status and a body already read (tus-js-client hands over both). */
export function errorFromBody(status: number, text: string, statusText = ''): ApiError {
  const error = readErrorBody(text);
  if (error) return new ApiError(status, error.code, error.message);
  return new ApiError(status, 'http_error', text.trim() || `the server answered ${status} ${statusText}`.trim());
}

/** HTTP Basic takes UTF-8 credentials (RFC 7617 charset="UTF-8"), which btoa alone cannot encode. */
export function basicAuthorization(email: string, password: string): string {
  const bytes = new TextEncoder().encode(`${email}:${password}`);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}

/** POST /login: the JWT. */
export async function login(email: string, password: string): Promise<string> {
  const res = await fetch('/login', { method: 'POST', headers: { authorization: basicAuthorization(email, password) } });
  if (!res.ok) throw await errorOf(res);
  return (await res.text()).trim();
}

/** A job as its owner sees it: the gateway's own schema (erased at build: the page bundles no zod). */
export type { JobView } from '@mp3converter/shared/jobs';
import type { JobView } from '@mp3converter/shared/jobs';

export class Api {
  constructor(
    private readonly token: () => string,
    /** Called when the gateway no longer takes the token (expired, or its user removed). */
    private readonly onUnauthorized: () => void,
  ) {}

  get authorization(): string {
    return `Bearer ${this.token()}`;
  }

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const sent = this.token();
    const res = await fetch(path, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${sent}` } });
    // Only a refusal of the token in use ends the session: a late answer to an earlier session's request does not.
    if (res.status === 401 && sent === this.token()) this.onUnauthorized();
    return res;
  }

  async json<T>(path: string, init?: RequestInit): Promise<T> {
    const res = await this.request(path, init);
    if (!res.ok) throw await errorOf(res);
    return (await res.json()) as T;
  }

  jobs(): Promise<{ jobs: JobView[]; next_cursor: string | null }> {
    return this.json('/jobs?limit=100');
  }

  job(fid: string): Promise<JobView> {
    return this.json(`/jobs/${encodeURIComponent(fid)}`);
  }

  /**
   * A signed download link: an `<audio>` element and a plain link cannot send the token. Only its path is
   * used, so the page works whatever address the gateway writes into links for emails.
   */
  async link(fid: string): Promise<string> {
    const { url } = await this.json<{ url: string }>(`/jobs/${encodeURIComponent(fid)}/link`, { method: 'POST' });
    const parsed = new URL(url, location.href);
    return `${parsed.pathname}${parsed.search}`;
  }

  /** A signed link to the ZIP of these done jobs (POST /download.zip/link), as a path like `link`'s. */
  async zipLink(fids: readonly string[]): Promise<string> {
    const query = fids.map((fid) => `fid=${encodeURIComponent(fid)}`).join('&');
    const { url } = await this.json<{ url: string }>(`/download.zip/link?${query}`, { method: 'POST' });
    const parsed = new URL(url, location.href);
    return `${parsed.pathname}${parsed.search}`;
  }

  /** DELETE /jobs/{fid}: cancels a queued or converting job, removes a finished one. */
  async remove(fid: string): Promise<number> {
    const res = await this.request(`/jobs/${encodeURIComponent(fid)}`, { method: 'DELETE' });
    if (!res.ok) throw await errorOf(res);
    return res.status;
  }
}
