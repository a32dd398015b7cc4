import { AppError, unauthorized, unavailable } from '@mp3converter/shared/errors';
import type { RequestHandler, Response } from 'express';
import { type AuthClient, AuthUnavailableError, type User } from '../domain/ports.js';

/** The user auth vouched for; only valid after `authenticate`. */
export const userOf = (res: Response): User => res.locals.user as User;

/**
 * Asks auth's /validate about the Authorization header, as the original did on every request. A missing
 * header is refused here without a call; auth's 401/403 pass through with its body.
 */
export function authenticate(auth: AuthClient): RequestHandler {
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
      const { status, body } = answer.refused;
      let parsed: { error?: { code?: string; message?: string } } = {};
      try {
        parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
      } catch {
        // a non-JSON refusal (e.g. the original's auth): keep the status, use our wording
      }
      const fallback = status === 401 ? 'missing credentials' : 'not authorized';
      return next(new AppError(status, parsed.error?.code ?? (status === 401 ? 'unauthorized' : 'forbidden'), parsed.error?.message ?? fallback));
    }
    res.locals.user = answer.user;
    next();
  };
}
