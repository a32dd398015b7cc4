import { methodNotAllowed, unavailable } from '@mp3converter/shared/errors';
import express, { type Router } from 'express';
import { type AuthClient, AuthUnavailableError } from '../domain/ports.js';
import { passAuthAnswer } from './auth-answer.js';

/** POST /login goes to auth as it came (Basic header or JSON body); auth's status and body come back unchanged. */
export function loginRouter(auth: AuthClient): Router {
  const router = express.Router();
  router.post('/login', express.raw({ type: () => true, limit: '10kb' }), async (req, res) => {
    const authorization = req.get('authorization');
    const contentType = req.get('content-type');
    const body = Buffer.isBuffer(req.body) && req.body.length > 0 ? req.body : undefined;
    try {
      const clientAddress = req.ip ?? req.socket.remoteAddress ?? 'unknown';
      const answer = await auth.login({ ...(authorization ? { authorization } : {}), ...(contentType && body ? { contentType } : {}), clientAddress }, body);
      // A browser meets a Basic challenge with its own password dialog, even on a script's fetch, over the
      // page's form: a page's script (a browser's fetch or XHR says `Sec-Fetch-Dest: empty`; curl and Node's
      // fetch say nothing of it) gets the 401 and its JSON alone.
      const fromScript = req.get('sec-fetch-dest') === 'empty';
      const challenge = answer.status === 401 && !fromScript ? 'Basic realm="mp3converter", charset="UTF-8"' : undefined;
      if (challenge) res.set('WWW-Authenticate', challenge);
      passAuthAnswer(res, answer);
    } catch (err) {
      if (err instanceof AuthUnavailableError) throw unavailable('auth service unavailable, try again later', 'auth_unavailable', err);
      throw err;
    }
  });
  router.all('/login', methodNotAllowed('POST'));
  return router;
}
