import { API_KEY_ID_PATTERN } from '@mp3converter/shared/contracts/api-keys';
import { methodNotAllowed, notFound, unavailable } from '@mp3converter/shared/errors';
import express, { type Request, type RequestHandler, type Router } from 'express';
import { type AuthClient, AuthUnavailableError } from '../domain/ports.js';
import { passAuthAnswer } from './auth-answer.js';
import { authenticate } from './authenticate.js';

/**
 * `POST /keys`, `GET /keys`, `DELETE /keys/{id}`: the caller's API keys, kept by auth. A login token only
 * (`authenticate` with no scope refuses keys; auth refuses them again); the request goes on to auth with the
 * caller's token, and auth's answer comes back unchanged.
 */
export function keysRouter(auth: AuthClient): Router {
  const router = express.Router();
  const forward =
    (method: 'GET' | 'POST' | 'DELETE', pathOf: (req: Request) => string): RequestHandler =>
    async (req, res) => {
      const body = Buffer.isBuffer(req.body) && req.body.length > 0 ? req.body : undefined;
      try {
        const answer = await auth.keys({ method, path: pathOf(req), authorization: req.get('authorization')!, contentType: req.get('content-type'), body });
        passAuthAnswer(res, answer);
      } catch (err) {
        if (err instanceof AuthUnavailableError) throw unavailable('auth service unavailable, try again later', 'auth_unavailable', err);
        throw err;
      }
    };

  router.post(
    '/keys',
    authenticate(auth),
    express.raw({ type: () => true, limit: '10kb' }),
    forward('POST', () => '/keys'),
  );
  router.get(
    '/keys',
    authenticate(auth),
    forward('GET', () => '/keys'),
  );
  router.all('/keys', methodNotAllowed('GET', 'POST'));
  // Only an id of the keys' own shape goes into the path auth is asked about: nothing else reaches it.
  const knownShape: RequestHandler = (req, _res, next) =>
    next(API_KEY_ID_PATTERN.test(String(req.params.id)) ? undefined : notFound('no such API key', 'key_not_found'));
  router.delete(
    '/keys/:id',
    authenticate(auth),
    knownShape,
    forward('DELETE', (req) => `/keys/${req.params.id}`),
  );
  router.all('/keys/:id', methodNotAllowed('DELETE'));
  return router;
}
