import type { ApiKeyScope } from '@mp3converter/shared/contracts/api-keys';
import { AppError, unauthorized, unavailable } from '@mp3converter/shared/errors';
import type { RequestHandler, Response } from 'express';
import { type AuthClient, AuthUnavailableError, type User } from '../domain/ports.js';

/** The user auth vouched for; only valid after `authenticate`. */
export const userOf = (res: Response): User => res.locals.user as User;

/**
 * Asks auth's /validate about the Authorization header, as the original did on every request. A missing
 * header is refused here without a call; auth's 401/403/429 pass through with its body (and Retry-After).
 *
 * `scope`: what an API key must be allowed to be let through here. A login token may do everything; a key
 * only what its scopes name, and nothing on a route that names no scope (managing keys takes a login).
 * Nothing is cached: each request is checked by auth, so a revoked key is refused by every replica at once.
 */
export function authenticate(auth: AuthClient, scope?: ApiKeyScope): RequestHandler {
  return async (req, res, next) => {
    const authorization = req.get('authorization');
    if (!authorization) return next(unauthorized('missing credentials', 'missing_credentials'));
    let answer: Awaited<ReturnType<AuthClient['validate']>>;
    try {
      answer = await auth.validate(authorization);
    } catch (err) {
      if (err instanceof AuthUnavailableError) return next(unavailable('auth service unavailable, try again later', 'auth_unavailable', err));
      return next(err);
    }
    if ('refused' in answer) {
      const { status, body, retryAfter } = answer.refused;
      let parsed: { error?: { code?: string; message?: string } } = {};
      try {
        parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
      } catch {
        // a non-JSON refusal (e.g. the original's auth): keep the status, use our wording
      }
      const fallback = status === 401 ? 'missing credentials' : status === 429 ? 'too many requests' : 'not authorized';
      const code = parsed.error?.code ?? (status === 401 ? 'unauthorized' : status === 429 ? 'too_many_requests' : 'forbidden');
      return next(new AppError(status, code, parsed.error?.message ?? fallback, retryAfter ? { 'Retry-After': retryAfter } : {}));
    }
    const { key } = answer.user;
    if (key && !scope) {
      return next(new AppError(403, 'api_key_not_allowed', 'this route takes a login token (POST /login), not an API key'));
    }
    if (key && scope && !key.scopes.includes(scope)) {
      // RFC 6750's challenge says which scope was missing, as the body does.
      return next(
        new AppError(403, 'insufficient_scope', `this API key lacks the "${scope}" scope`, {
          'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${scope}"`,
        }),
      );
    }
    res.locals.user = answer.user;
    next();
  };
}
