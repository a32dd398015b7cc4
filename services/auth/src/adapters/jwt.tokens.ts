import jwt from 'jsonwebtoken';
import { type Claims, InvalidTokenError, type TokenIssuer } from '../domain/auth.service.js';

/** HS256 only, in both directions: `alg: none` and every other algorithm are refused on verify. */
export class JwtTokens implements TokenIssuer {
  constructor(
    private readonly secret: string,
    private readonly ttlSeconds: number,
  ) {}

  issue({ username, admin }: { username: string; admin: boolean }): string {
    return jwt.sign({ username, admin }, this.secret, { algorithm: 'HS256', expiresIn: this.ttlSeconds });
  }

  verify(token: string): Claims {
    let payload: string | jwt.JwtPayload;
    try {
      payload = jwt.verify(token, this.secret, { algorithms: ['HS256'] });
    } catch (err) {
      throw new InvalidTokenError(err instanceof Error ? err.message : 'invalid token');
    }
    if (typeof payload === 'string') throw new InvalidTokenError('payload is not an object');
    const { username, admin, iat, exp } = payload as Record<string, unknown>;
    if (typeof exp !== 'number') throw new InvalidTokenError('exp claim required');
    if (typeof iat !== 'number') throw new InvalidTokenError('iat claim required');
    if (typeof username !== 'string' || username.length === 0) throw new InvalidTokenError('username claim required');
    return { username, admin: admin === true, iat, exp };
  }
}
