import { Pool } from 'undici';
import { type AuthAnswer, type AuthClient, AuthUnavailableError, type User } from '../domain/ports.js';

/**
 * auth over one pool of keep-alive connections, every call bounded by a timeout: an unreachable or stuck
 * auth becomes AuthUnavailableError (503), never a hanging request.
 */
export class HttpAuthClient implements AuthClient {
  private readonly pool: Pool;

  constructor(
    address: string,
    private readonly timeoutMs: number,
  ) {
    this.pool = new Pool(`http://${address}`, {
      connections: 64,
      keepAliveTimeout: 30_000,
      connect: { timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  }

  async login(headers: { authorization?: string; contentType?: string }, body: Buffer | undefined): Promise<AuthAnswer> {
    return this.call('/login', {
      ...(headers.authorization ? { authorization: headers.authorization } : {}),
      ...(headers.contentType ? { 'content-type': headers.contentType } : {}),
    }, body);
  }

  async validate(authorization: string): Promise<{ user: User } | { refused: AuthAnswer }> {
    const answer = await this.call('/validate', { authorization });
    if (answer.status === 401 || answer.status === 403) return { refused: answer };
    if (answer.status !== 200) throw new AuthUnavailableError(`validate answered ${answer.status}`);
    const claims = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
    if (typeof claims.username !== 'string' || claims.username.length === 0) {
      throw new AuthUnavailableError('validate answered without a username');
    }
    return { user: { username: claims.username, admin: claims.admin === true } };
  }

  async ping(): Promise<void> {
    const answer = await this.call('/healthz', {}, undefined, 'GET');
    if (answer.status !== 200) throw new Error(`auth /healthz answered ${answer.status}`);
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private async call(path: string, headers: Record<string, string>, body?: Buffer, method: 'POST' | 'GET' = 'POST'): Promise<AuthAnswer> {
    try {
      const res = await this.pool.request({
        method,
        path,
        headers,
        body: body ?? null,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const content = Buffer.from(await res.body.arrayBuffer());
      const header = (name: string) => {
        const value = res.headers[name];
        return Array.isArray(value) ? value[0] : value;
      };
      return { status: res.statusCode, contentType: header('content-type'), retryAfter: header('retry-after'), body: content };
    } catch (err) {
      throw new AuthUnavailableError(err);
    }
  }
}
