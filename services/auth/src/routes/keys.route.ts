import { apiKeyCreateSchema } from '@mp3converter/shared/contracts';
import { isApiKeyLike } from '@mp3converter/shared/contracts/api-keys';
import { AppError, badRequest, forbidden, methodNotAllowed, notFound, unauthorized, unavailable } from '@mp3converter/shared/errors';
import express, { type Request, type Router } from 'express';
import { ApiKeyExpiryError, ApiKeyLimitError, type ApiKeyService, UnknownOwnerError } from '../domain/api-keys.js';
import { type AuthService, InvalidTokenError } from '../domain/auth.service.js';
import { parseBearerAuthorization } from '../domain/credentials.js';

export interface KeysRouteDeps {
  auth: AuthService;
  keys: ApiKeyService;
  isStoreReady: () => boolean;
}

/**
 * The user of a login token (a JWT). A key cannot stand in: whoever holds a key must not be able to make
 * more keys, see them or revoke the owner's others.
 */
function loggedInUser(req: Request, auth: AuthService): string {
  const header = req.get('authorization');
  if (!header) throw unauthorized('missing credentials', 'missing_credentials');
  const token = parseBearerAuthorization(header);
  if (!token) throw unauthorized('expected Authorization: Bearer <token>', 'malformed_authorization');
  if (isApiKeyLike(token)) throw forbidden('API keys are managed with a login token (POST /login), not with an API key', 'api_key_not_allowed');
  try {
    return auth.validate(token).username;
  } catch (err) {
    if (err instanceof InvalidTokenError) throw forbidden('not authorized', 'invalid_token');
    throw err;
  }
}

/** What a store failure becomes: 503, its cause logged, nothing of it sent. */
const storeFailure = (err: unknown) => unavailable('the key store is unavailable, try again later', 'unavailable', err);

/** `POST /keys`, `GET /keys`, `DELETE /keys/{id}`: a logged-in user's API keys (the gateway forwards them here). */
export function keysRouter({ auth, keys, isStoreReady }: KeysRouteDeps): Router {
  const router = express.Router();
  const ready = () => {
    if (!isStoreReady()) throw unavailable();
  };

  router.post('/keys', express.json({ limit: '10kb', strict: true }), async (req, res) => {
    const owner = loggedInUser(req, auth);
    const body = apiKeyCreateSchema.safeParse(req.body);
    if (!body.success) {
      throw badRequest('invalid_key_request', body.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    }
    ready();
    try {
      const created = await keys.create(owner, body.data);
      res.status(201).set('Cache-Control', 'no-store').location(`/keys/${created.id}`).json(created);
    } catch (err) {
      if (err instanceof ApiKeyExpiryError) throw badRequest('invalid_expiry', err.message);
      if (err instanceof ApiKeyLimitError) throw new AppError(409, 'key_limit_reached', err.message);
      if (err instanceof UnknownOwnerError) throw forbidden('not authorized', 'invalid_token');
      throw storeFailure(err);
    }
  });

  router.get('/keys', async (req, res) => {
    const owner = loggedInUser(req, auth);
    ready();
    const listed = await keys.list(owner).catch((err: unknown) => {
      throw storeFailure(err);
    });
    res.set('Cache-Control', 'no-store').json({ keys: listed, limit: keys.maxPerUser });
  });
  router.all('/keys', methodNotAllowed('GET', 'POST'));

  router.delete('/keys/:id', async (req, res) => {
    const owner = loggedInUser(req, auth);
    ready();
    const removed = await keys.revoke(owner, req.params.id ?? '').catch((err: unknown) => {
      throw storeFailure(err);
    });
    // Another user's key and no key answer alike: ids cannot be probed.
    if (!removed) throw notFound('no such API key', 'key_not_found');
    res.status(204).end();
  });
  router.all('/keys/:id', methodNotAllowed('DELETE'));
  return router;
}
