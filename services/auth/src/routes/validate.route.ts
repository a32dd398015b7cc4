import { isApiKeyLike } from '@mp3converter/shared/contracts/api-keys';
import { AppError, forbidden, methodNotAllowed, unauthorized, unavailable } from '@mp3converter/shared/errors';
import express, { type Router } from 'express';
import { ApiKeyRateLimitedError, type ApiKeyService, InvalidApiKeyError } from '../domain/api-keys.js';
import { type AuthService, InvalidTokenError } from '../domain/auth.service.js';
import { parseBearerAuthorization } from '../domain/credentials.js';

/**
 * POST /validate: the claims of a login token, as the original answered them, or of an API key: the same
 * four (a key never carries `admin`; `exp` only when it expires) and `key_id` and `scopes`, which the
 * gateway checks against each route.
 */
export function validateRouter(auth: AuthService, keys: ApiKeyService): Router {
  const router = express.Router();
  router.post('/validate', async (req, res) => {
    const header = req.get('authorization');
    if (!header) throw unauthorized('missing credentials', 'missing_credentials');
    const token = parseBearerAuthorization(header);
    if (!token) throw unauthorized('expected Authorization: Bearer <token>', 'malformed_authorization');
    if (isApiKeyLike(token)) {
      try {
        const { exp, iat, keyId, scopes, username } = await keys.verify(token);
        res.json({ admin: false, ...(exp === undefined ? {} : { exp }), iat, key_id: keyId, scopes, username });
      } catch (err) {
        if (err instanceof InvalidApiKeyError) throw forbidden(err.message, 'invalid_api_key');
        if (err instanceof ApiKeyRateLimitedError) {
          throw new AppError(429, 'api_key_rate_limited', 'too many requests with this API key, slow down', {
            'Retry-After': String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))),
          });
        }
        throw unavailable('the key store is unavailable, try again later', 'unavailable', err);
      }
      return;
    }
    try {
      const { admin, exp, iat, username } = auth.validate(token);
      // Keys in the original's (sorted) order.
      res.json({ admin, exp, iat, username });
    } catch (err) {
      if (err instanceof InvalidTokenError) throw forbidden('not authorized', 'invalid_token');
      throw err;
    }
  });
  router.all('/validate', methodNotAllowed('POST'));
  return router;
}
