import { AppError, methodNotAllowed, unavailable } from '@mp3converter/shared/errors';
import express, { type RequestHandler, type Router } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { type AuthService, InvalidCredentialsError } from '../domain/auth.service.js';
import { type Credentials, normalizeEmail, parseBasicAuthorization, parseJsonCredentials } from '../domain/credentials.js';

export interface LoginRouteDeps {
  auth: AuthService;
  isStoreReady: () => boolean;
  rateLimit: { limit: number; windowMs: number };
}

const challenge = { 'WWW-Authenticate': 'Basic realm="mp3converter", charset="UTF-8"' };
const missingCredentials = () => new AppError(401, 'missing_credentials', 'missing credentials', challenge);
const invalidCredentials = () => new AppError(401, 'invalid_credentials', 'invalid credentials', challenge);

/** A JSON body is optional: when it cannot be parsed the request simply has no JSON credentials. */
const lenientJson: RequestHandler = (req, res, next) => {
  express.json({ limit: '10kb' })(req, res, (err?: unknown) => {
    if (err) req.body = undefined;
    next();
  });
};

const readCredentials: RequestHandler = (req, res, next) => {
  const credentials = parseBasicAuthorization(req.get('authorization')) ?? parseJsonCredentials(req.body);
  if (!credentials) return next(missingCredentials());
  res.locals.credentials = credentials;
  next();
};

export function loginRouter({ auth, isStoreReady, rateLimit: limits }: LoginRouteDeps): Router {
  const limiter = rateLimit({
    windowMs: limits.windowMs,
    limit: limits.limit,
    // Failed attempts count; a user who logs in correctly is never locked out by their own successes.
    skipSuccessfulRequests: true,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req, res) => `${ipKeyGenerator(req.ip ?? 'unknown')}|${normalizeEmail((res.locals.credentials as Credentials).email)}`,
    handler: (_req, _res, next, options) =>
      next(
        new AppError(429, 'too_many_attempts', 'too many login attempts, try again later', {
          'Retry-After': String(Math.ceil(options.windowMs / 1000)),
        }),
      ),
  });

  const router = express.Router();
  router.post('/login', lenientJson, readCredentials, limiter, async (_req, res) => {
    if (!isStoreReady()) throw unavailable();
    let token: string;
    try {
      token = await auth.login(res.locals.credentials as Credentials);
    } catch (err) {
      if (err instanceof InvalidCredentialsError) throw invalidCredentials();
      throw unavailable();
    }
    res.type('text/plain').send(token);
  });
  router.all('/login', methodNotAllowed('POST'));
  return router;
}
