import { forbidden, methodNotAllowed, unauthorized } from '@mp3converter/shared/errors';
import express, { type Router } from 'express';
import { type AuthService, InvalidTokenError } from '../domain/auth.service.js';
import { parseBearerAuthorization } from '../domain/credentials.js';

export function validateRouter(auth: AuthService): Router {
  const router = express.Router();
  router.post('/validate', (req, res) => {
    const header = req.get('authorization');
    if (!header) throw unauthorized('missing credentials', 'missing_credentials');
    const token = parseBearerAuthorization(header);
    if (!token) throw unauthorized('expected Authorization: Bearer <token>', 'malformed_authorization');
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
