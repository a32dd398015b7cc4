import { AppError, methodNotAllowed, unavailable } from '@mp3converter/shared/errors';
import express, { type RequestHandler, type Router } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import { type AuthService, InvalidCredentialsError } from '../domain/auth.service.js';
import { type Credentials, normalizeEmail, parseBasicAuthorization, parseJsonCredentials } from '../domain/credentials.js';
import type { LoginAttempt, LoginThrottle } from '../domain/login-throttle.js';
import type { LoginMetrics } from '../metrics.js';

export interface LoginRouteDeps {
  auth: AuthService;
  isStoreReady: () => boolean;
  throttle: LoginThrottle;
  metrics: LoginMetrics;
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

const readCredentials =
  (metrics: LoginMetrics): RequestHandler =>
  (req, res, next) => {
    const credentials = parseBasicAuthorization(req.get('authorization')) ?? parseJsonCredentials(req.body);
    if (!credentials) {
      metrics.login('missing_credentials');
      return next(missingCredentials());
    }
    res.locals.credentials = credentials;
    next();
  };

export function loginRouter({ auth, isStoreReady, throttle, metrics }: LoginRouteDeps): Router {
  const router = express.Router();
  const unavailableLogin = () => {
    metrics.login('unavailable');
    return unavailable();
  };
  router.post('/login', lenientJson, readCredentials(metrics), async (req, res) => {
    if (!isStoreReady()) throw unavailableLogin();
    const credentials = res.locals.credentials as Credentials;
    // The client's address as the trusted proxies (the gateway) report it; IPv6 counted per /56, which one
    // subscriber usually holds whole.
    const address = ipKeyGenerator(req.ip ?? 'unknown');
    const email = normalizeEmail(credentials.email);
    let attempt: LoginAttempt;
    try {
      attempt = await throttle.begin(address, email);
    } catch {
      // Without its count a guess is not let through: the store is down, so is the login.
      throw unavailableLogin();
    }
    if (!attempt.allowed) {
      metrics.login('throttled');
      throw new AppError(429, 'too_many_attempts', 'too many failed logins, try again later', {
        'Retry-After': String(Math.max(1, Math.ceil(attempt.retryAfterMs / 1000))),
      });
    }
    let token: string;
    try {
      token = await auth.login(credentials);
    } catch (err) {
      if (err instanceof InvalidCredentialsError) {
        metrics.login('invalid_credentials');
        throw invalidCredentials();
      }
      await attempt.abandoned().catch(() => undefined);
      throw unavailableLogin();
    }
    metrics.login('success');
    // Not clearing the count on a store failure only leaves it too high, the safe side: the login stands.
    await attempt.succeeded().catch(() => undefined);
    res.set('Cache-Control', 'no-store').type('text/plain').send(token);
  });
  router.all('/login', methodNotAllowed('POST'));
  return router;
}
