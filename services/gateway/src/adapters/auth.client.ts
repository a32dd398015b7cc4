import type http from 'node:http';
import { nodeHttp } from '@mp3converter/shared/http';
import { type AuthAnswer, type AuthClient, AuthUnavailableError, type User } from '../domain/ports.js';
import { traceHeaders } from '@mp3converter/shared/tracing';
import { isApiKeyScope } from '@mp3converter/shared/contracts/api-keys';

/**
 * auth over a pool of keep-alive connections (node:http's Agent), every call bounded by a timeout: an
 * unreachable or stuck auth becomes AuthUnavailableError (503), never a hanging request.
 */
export class HttpAuthClient implements AuthClient {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(
    address: string,
    private readonly timeoutMs: number,
  ) {
    const [host = 'auth', port = '80'] = address.split(':');
    this.host = host;
    this.port = Number(port);
    this.agent = new nodeHttp.Agent({ keepAlive: true, keepAliveMsecs: 15_000, maxSockets: 64, maxFreeSockets: 16, timeout: 30_000 });
  }

  login(headers: { authorization?: string; contentType?: string; clientAddress: string }, body: Buffer | undefined): Promise<AuthAnswer> {
    return this.call(
      'POST',
      '/login',
      {
        ...(headers.authorization ? { authorization: headers.authorization } : {}),
        ...(headers.contentType ? { 'content-type': headers.contentType } : {}),
        // Exactly the address this gateway trusts, replacing whatever the client sent: auth counts failed
        // logins per address and must not be told a forged one.
        'x-forwarded-for': headers.clientAddress,
      },
      body,
    );
  }

  async validate(authorization: string): Promise<{ user: User } | { refused: AuthAnswer }> {
    const answer = await this.call('POST', '/validate', { authorization });
    if (answer.status === 401 || answer.status === 403 || answer.status === 429) return { refused: answer };
    if (answer.status !== 200) throw new AuthUnavailableError(`validate answered ${answer.status}`);
    let claims: Record<string, unknown>;
    try {
      claims = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new AuthUnavailableError(err);
    }
    if (typeof claims.username !== 'string' || claims.username.length === 0) {
      throw new AuthUnavailableError('validate answered without a username');
    }
    const user: User = { username: claims.username, admin: claims.admin === true };
    if (typeof claims.exp === 'number' && Number.isFinite(claims.exp)) user.exp = claims.exp;
    // An API key: only the scopes this gateway knows count; a key without readable scopes may do nothing.
    if (typeof claims.key_id === 'string') {
      user.key = { id: claims.key_id, scopes: Array.isArray(claims.scopes) ? claims.scopes.filter(isApiKeyScope) : [] };
    }
    return { user };
  }

  keys({ method, path, authorization, contentType, body }: Parameters<AuthClient['keys']>[0]): Promise<AuthAnswer> {
    return this.call(method, path, { authorization, ...(contentType && body ? { 'content-type': contentType } : {}) }, body);
  }

  /**
   * auth's probes are on a port the gateway does not reach; a /validate without a token answers 401 at once,
   * without MySQL, so it shows that auth's API answers.
   */
  async ping(): Promise<void> {
    const answer = await this.call('POST', '/validate', {});
    if (answer.status !== 401) throw new Error(`auth /validate without a token answered ${answer.status}`);
  }

  close(): void {
    this.agent.destroy();
  }

  private call(method: 'GET' | 'POST' | 'DELETE', path: string, headers: Record<string, string>, body?: Buffer): Promise<AuthAnswer> {
    return new Promise((resolve, reject) => {
      const req = nodeHttp.request(
        {
          host: this.host,
          port: this.port,
          method,
          path,
          agent: this.agent,
          // The request's trace goes on to auth, so a login or a token check is part of it.
          headers: { ...traceHeaders(), ...headers, 'content-length': String(body?.length ?? 0) },
          signal: AbortSignal.timeout(this.timeoutMs),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const header = (name: string) => {
              const value = res.headers[name];
              return Array.isArray(value) ? value[0] : value;
            };
            resolve({ status: res.statusCode ?? 502, contentType: header('content-type'), retryAfter: header('retry-after'), body: Buffer.concat(chunks) });
          });
          res.on('error', (err) => reject(new AuthUnavailableError(err)));
        },
      );
      req.on('error', (err) => reject(new AuthUnavailableError(err)));
      req.end(body);
    });
  }
}
